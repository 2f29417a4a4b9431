"""What "activate" and "deactivate" mean, for virtual servers (lvs) and failover services (fos).

lvs (piranha-behaviour.md §2.4/§2.5, done right):

* activate: ``active_cmd`` (in the background, as the original), the
  floating addresses (nat_router and every distinct VIP) over netlink,
  then — with a warm standby lvsd, whose data plane is programmed already
  — the sync daemon as master, the gratuitous ARPs (at once, repeated) and
  ``activate`` to lvsd; without one, a new lvsd is started and pulse waits
  (10 s at most) for its ``READY=1`` before the sync daemon and the ARPs.
  Any failure to get lvsd ready fails the activation: the caller gives the
  role away rather than sitting half-active.
* deactivate: ``inactive_cmd``, sync daemon as backup; if we were active:
  stop the ARPs, stop lvsd (SIGTERM, SIGKILL after 30 s), remove exactly
  the addresses we added; then start a fresh warm-standby lvsd.

fos (§2.7): activate = addresses, ARPs (``gratuitous fos arps finished``),
each service's stop_cmd then start_cmd; deactivate = each stop_cmd, then
the addresses go.  The partner watch and the gateway check live in
:mod:`.fos`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from piranha.runtime.process import run_command, split_command

from . import fos
from .addresses import AddressError, AddressKeeper, FloatingAddress, planned
from .announce import Announcer
from .child import LvsdChild
from .syncd import BACKUP, MASTER, SyncDaemon

HOOK_TIMEOUT = 60.0  # active_cmd / inactive_cmd (the original never waited for them)

StillWanted = Callable[[], bool]


class CommandRunner:
    """active_cmd / inactive_cmd: no shell, in the background, failures logged."""

    def __init__(self, log: logging.Logger, *, dry_run: bool) -> None:
        self.log = log
        self.dry_run = dry_run
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, key: str, command: str | None) -> None:
        if not command:
            return
        argv = split_command(command)
        if self.dry_run:
            self.log.info("test-start: would run %s: %s", key, " ".join(argv))
            return
        task = asyncio.create_task(self._run(key, argv), name=key)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, key: str, argv: list[str]) -> None:
        result = await run_command(argv, timeout=HOOK_TIMEOUT, capture=False)
        if not result.ok:
            self.log.warning(
                "%s `%s` failed: %s",
                key,
                " ".join(argv),
                result.error or f"exit status {result.returncode}",
            )

    async def wait(self, timeout: float = 5.0) -> None:
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)


class Floating:
    """The floating addresses of the current configuration, held while active."""

    def __init__(self, keeper: AddressKeeper, log: logging.Logger, *, dry_run: bool) -> None:
        self.keeper = keeper
        self.log = log
        self.dry_run = dry_run
        self.held: list[FloatingAddress] = []

    async def reconcile(self) -> None:
        """At start (inactive): remove what an earlier run of pulse left behind."""
        if self.dry_run:
            return
        for fa in await asyncio.to_thread(self.keeper.remove_all):
            self.log.info("removed %s left by an earlier run of pulse", fa.describe())

    async def bring_up(self, wanted: list[FloatingAddress]) -> list[FloatingAddress]:
        """Add each address; return the ones that are now up (for the ARPs)."""
        up: list[FloatingAddress] = []
        if self.dry_run:
            for fa in wanted:
                self.log.info("test-start: would add %s (%s)", fa.describe(), fa.purpose)
            return up
        # one raw netlink batch, under a millisecond: a thread hop would cost about as much
        outcomes = self.keeper.add_all(wanted)
        for fa, outcome in zip(wanted, outcomes, strict=True):
            if isinstance(outcome, AddressError):
                self.log.error("%s", outcome)
                continue
            if outcome == "present":
                self.log.info(
                    "%s (%s) was already configured; pulse uses it but will not remove it",
                    fa.describe(),
                    fa.purpose,
                )
            else:
                self.log.debug("added %s (%s)", fa.describe(), fa.purpose)
            up.append(fa)
            if fa not in self.held:
                self.held.append(fa)
        return up

    async def take_down(self, only: list[FloatingAddress] | None = None) -> None:
        for fa in list(self.held if only is None else only):
            if fa in self.held:
                self.held.remove(fa)
            if self.dry_run:
                continue
            try:
                if await asyncio.to_thread(self.keeper.remove, fa):
                    self.log.debug("removed %s", fa.describe())
            except AddressError as exc:
                self.log.error("%s", exc)

    def addresses(self) -> list[str]:
        return [fa.address for fa in self.held]


class LvsService:
    kind = "lvs"

    def __init__(
        self,
        config,
        *,
        floating: Floating,
        child: LvsdChild | None,  # None in --test-start
        announcer: Announcer,
        syncd: SyncDaemon,
        hooks: CommandRunner,
        log: logging.Logger,
    ) -> None:
        self.config = config
        self.floating = floating
        self.child = child
        self.announcer = announcer
        self.syncd = syncd
        self.hooks = hooks
        self.log = log
        self._standby_task: asyncio.Task[None] | None = None
        self.stopping = False

    @property
    def warm_standby(self) -> bool:
        return bool(self.config.warm_standby) and self.child is not None

    def lvsd_pid(self) -> int | None:
        return self.child.pid if self.child is not None else None

    def lvsd_state(self) -> str | None:
        return self.child.state if self.child is not None else None

    async def prepare(self) -> None:
        """Start-up, inactive: leftovers gone, inactive_cmd, sync as backup, warm standby."""
        await self.floating.reconcile()
        self.hooks.start("inactive_cmd", self.config.inactive_cmd)
        await self.syncd.become(BACKUP)

    def start_standby(self) -> None:
        """Start a warm-standby lvsd in the background (the heartbeat never waits for it)."""
        if not self.warm_standby or self.stopping:
            return
        if self._standby_task is not None and not self._standby_task.done():
            return
        self._standby_task = asyncio.create_task(self._start_standby(), name="lvsd-standby")

    async def _start_standby(self) -> None:
        assert self.child is not None
        if self.child.pid is not None:
            return
        why = await self.child.start(standby=True)
        if why is not None:
            self.log.warning("warm standby: %s; lvsd will be started at takeover instead", why)
        else:
            self.log.debug("warm standby lvsd running as pid %s", self.child.pid)

    async def _settle_standby(self) -> None:
        if self._standby_task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._standby_task
            self._standby_task = None

    async def activate(self, still_wanted: StillWanted) -> str | None:
        started = time.monotonic()
        self.hooks.start("active_cmd", self.config.active_cmd)
        addresses = await self.floating.bring_up(planned(self.config))
        up = time.monotonic()
        if self.child is not None:
            await self._settle_standby()
        if self.child is not None and self.child.state == "standby":
            # the warm standby's data plane serves whatever reaches the VIPs already:
            # announce them at once (after the connection state, if synced), then tell lvsd
            await self.syncd.become(MASTER)
            self._announce(addresses, still_wanted)
            why = await self.child.activate()
        else:
            if self.child is None:
                self.log.info("test-start: would start lvsd and wait for it to report ready")
                why = None
            elif self.child.pid is not None:
                why = None  # already serving (an activation superseded a deactivation)
            else:
                why = await self.child.start(standby=False)
            if why is None:
                await self.syncd.become(MASTER)
                self._announce(addresses, still_wanted)
        if why is not None:
            return why
        self.log.info(
            "active in %.3f s (addresses %.3f s, lvsd %.3f s)",
            time.monotonic() - started,
            up - started,
            time.monotonic() - up,
        )
        return None

    def _announce(self, addresses: list[FloatingAddress], still_wanted: StillWanted) -> None:
        if still_wanted():
            self.announcer.start(
                addresses, self.config.garp_count, float(self.config.garp_interval)
            )

    async def deactivate(self, was_active: bool) -> None:
        self.hooks.start("inactive_cmd", self.config.inactive_cmd)
        await self.syncd.become(BACKUP)
        self.announcer.cancel()
        if self.child is not None and (was_active or self.stopping or not self.child.standby):
            await self._settle_standby()
            await self.child.stop()
        await self.floating.take_down()
        if not self.stopping:
            self.start_standby()

    async def reassert(self) -> None:
        """ "partner active: resending arps": active_cmd again, a new ARP burst."""
        self.hooks.start("active_cmd", self.config.active_cmd)
        self.announcer.start(
            list(self.floating.held), self.config.garp_count, float(self.config.garp_interval)
        )

    async def reload(self, config, active: bool) -> None:
        """New lvs.cf: plumb VIPs that arrived, remove those that left, SIGHUP lvsd."""
        self.config = config
        if active:
            wanted = planned(config)
            gone = [fa for fa in self.floating.held if fa not in wanted]
            if gone:
                await self.floating.take_down(gone)
                for fa in gone:
                    self.log.info("%s (%s) left lvs.cf: removed", fa.describe(), fa.purpose)
            new = [fa for fa in wanted if fa not in self.floating.held]
            # removing an address can take secondaries of its subnet with it: re-add what we hold
            up = await self.floating.bring_up(wanted)
            fresh = [fa for fa in up if fa in new]
            for fa in fresh:
                self.log.info("%s (%s) is new in lvs.cf: added", fa.describe(), fa.purpose)
            if fresh:
                self.announcer.announce_now(fresh)
        if self.child is not None and self.child.reload():
            self.log.debug("forwarded SIGHUP to lvsd (pid %s)", self.child.pid)

    async def close(self) -> None:
        self.stopping = True
        self.announcer.close()
        if self._standby_task is not None:
            self._standby_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._standby_task
        if self.child is not None:
            await self.child.stop()
        await self.syncd.close()


class FosService:
    kind = "fos"

    def __init__(
        self,
        config,
        *,
        floating: Floating,
        announcer: Announcer,
        watch: fos.PartnerWatch,
        log: logging.Logger,
        dry_run: bool,
    ) -> None:
        self.config = config
        self.floating = floating
        self.announcer = announcer
        self.watch = watch
        self.log = log
        self.dry_run = dry_run
        self.stopping = False

    def lvsd_pid(self) -> int | None:
        return None

    def lvsd_state(self) -> str | None:
        return None

    async def prepare(self) -> None:
        await self.floating.reconcile()

    def start_standby(self) -> None:
        pass

    async def activate(self, still_wanted: StillWanted) -> str | None:
        await self.watch.stop()
        addresses = await self.floating.bring_up(planned(self.config))
        if still_wanted():
            self.announcer.start(
                addresses, self.config.garp_count, float(self.config.garp_interval)
            )
        if self.dry_run:
            self.log.info("test-start: would run the failover services' stop_cmd and start_cmd")
        else:
            await fos.start_services(self.config, self.log)
        return None

    async def deactivate(self, was_active: bool) -> None:
        self.announcer.cancel()
        if was_active and not self.dry_run:
            await fos.stop_services(self.config, self.log)
        await self.floating.take_down()
        if self.stopping:
            await self.watch.stop()

    async def start_monitors(self) -> None:
        if self.dry_run:
            self.log.info("test-start: would monitor the partner's failover services")
            return
        await self.watch.start(self.config)

    async def reassert(self) -> None:
        self.announcer.start(
            list(self.floating.held), self.config.garp_count, float(self.config.garp_interval)
        )

    async def reload(self, config, active: bool) -> None:
        self.config = config
        if active:
            wanted = planned(config)
            gone = [fa for fa in self.floating.held if fa not in wanted]
            await self.floating.take_down(gone)
            await self.floating.bring_up(wanted)
        elif self.watch.running:
            await self.watch.start(config)

    async def close(self) -> None:
        self.stopping = True
        self.announcer.close()
        await self.watch.stop()
