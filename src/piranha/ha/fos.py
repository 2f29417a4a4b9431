"""Failover services (``service = fos``): the original's fos program, inside pulse.

Active router: the service addresses come up, then each active failover
service's ``stop_cmd`` and ``start_cmd`` run, in that order and waited for
(a failure logs ``Failed to start service <ip>:<port>!``).  Inactive
router: one nanny-style monitor per active service probes the partner's
service address (piranha.health, ``lvs_mode = False``); when one gives up
(service lost, or never seen) pulse checks its own gateway — default route
from netlink, up to three ``ping -n -c 1 -w 1`` — to tell a remote fault
(take over, tell the partner to stop) from its own (do nothing).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from piranha.health import Monitor, cancel_and_wait, failover_monitor_spec
from piranha.runtime.process import run_command, split_command

from . import netlink

COMMAND_TIMEOUT = 300.0  # start_cmd/stop_cmd: the original waited without limit
PING_TRIES = 3


async def run_service_command(command: str | None, what: str, log: logging.Logger) -> bool:
    """Run ``start_cmd``/``stop_cmd`` without a shell; True on exit status 0."""
    if not command:
        return True
    argv = split_command(command)
    log.debug("running %s: %s", what, " ".join(argv))
    result = await run_command(argv, timeout=COMMAND_TIMEOUT, capture=False)
    if not result.ok:
        log.info(
            "%s `%s` failed: %s", what, command, result.error or f"exit status {result.returncode}"
        )
    return result.ok


async def start_services(config, log: logging.Logger) -> None:
    for f in config.active_failovers():
        await run_service_command(f.stop_cmd, "stop_cmd", log)
        if not await run_service_command(f.start_cmd, "start_cmd", log):
            log.info("Failed to start service %s:%s!", f.address, f.port)


async def stop_services(config, log: logging.Logger) -> None:
    for f in config.active_failovers():
        await run_service_command(f.stop_cmd, "stop_cmd", log)


async def gateway_reachable(log: logging.Logger, *, tries: int = PING_TRIES) -> bool:
    try:
        gateway = await asyncio.to_thread(netlink.default_gateway)
    except Exception as exc:  # netlink trouble: the network cannot be vouched for
        log.warning("cannot read the default gateway: %s", exc)
        return False
    if gateway is None:
        log.info("no default gateway to check")
        return False
    for _ in range(tries):
        result = await run_command(
            ["ping", "-n", "-c", "1", "-w", "1", gateway], timeout=5.0, capture=False
        )
        if result.ok:
            return True
    return False


class PartnerWatch:
    """The monitors of the partner's failover services while we are inactive."""

    def __init__(self, log: logging.Logger, on_failure: Callable[[str], None]) -> None:
        self.log = log
        self.on_failure = on_failure  # called once with the failover's name
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def running(self) -> bool:
        return any(not t.done() for t in self._tasks)

    async def start(self, config) -> None:
        await self.stop()
        for failover in config.active_failovers():
            monitor = Monitor(failover_monitor_spec(config, failover), None, log=self.log)
            task = asyncio.create_task(
                self._watch(monitor, failover.name), name=f"fos-{failover.name}"
            )
            self._tasks.append(task)

    async def _watch(self, monitor: Monitor, name: str) -> None:
        await monitor.run()
        if monitor.outcome is not None:
            self.log.info("Monitor for service %s exited. This is a failover condition!", name)
            self.on_failure(name)

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        current = asyncio.current_task()
        for task in tasks:
            if task is not current:
                with contextlib.suppress(Exception):
                    await cancel_and_wait(task)
