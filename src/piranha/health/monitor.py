"""One real server's health monitor: an asyncio task that checks, decides and acts.

The decisions are piranha.health.machine's; this module adds the clock,
the checks and the Actions.  Scheduling is fixed-rate: check *n* starts at
``phase + n × interval`` (the original slept ``interval`` after each check,
so its period was check duration + interval).  A check that overruns its
slot is followed at once by the next one, with no catch-up burst.  A check
never lasts longer than ``timeout`` (= the interval), so a failure is seen
at most ``2 × timeout`` after it happens.

The first check of a monitor is spread over the first interval (a fixed
phase derived from the server's address, stable across reloads), so that
ten thousand monitors started together do not probe in one burst; pass
``start_delay=0`` to check at once (the standalone nanny does).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import zlib
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from piranha.runtime.process import run_command

from .checks import CheckResult, InFlight, start_check
from .limits import limits
from .load import load_argv, load_monitoring, parse_load
from .machine import (
    Action,
    Admit,
    Decision,
    FailoverWatch,
    HealthState,
    QueryLoad,
    SetWeight,
    Withdraw,
)
from .probe import build_probe
from .spec import MonitorSpec
from .wheel import TimerWheel, WheelTimer, wheel

# Called after every check: (scheduled start, actual start, end, ok), monitor clock.
CheckHook = Callable[[float, float, float, bool], None]


class Actions(Protocol):
    """What a monitor does to the table; lvsd implements it."""

    async def admit(self, weight: int) -> None:
        """In service at `weight`: add the real server, or re-weight its quiesced entry."""

    async def set_weight(self, weight: int) -> None:
        """Slow-start ramp, load monitoring, forced up or a reload changed the weight."""

    async def withdraw(self, quiesce: bool) -> None:
        """Out of service: weight 0 (`quiesce`, connections continue) or removal."""


class Monitor:
    def __init__(
        self,
        spec: MonitorSpec,
        actions: Actions | None,
        *,
        log: logging.Logger,
        clock: Callable[[], float] = time.monotonic,
        start_delay: float | None = None,
        on_check: CheckHook | None = None,
    ) -> None:
        self.spec = spec
        self.actions = actions
        self.log = log
        self.clock = clock
        self.on_check = on_check
        # fos: why the watch ended ("lost": was available, now fails; "never").
        self.outcome: str | None = None
        self._probe = build_probe(spec.check)
        self._health = HealthState(
            weight=spec.weight,
            reentry=spec.reentry,
            quiesce=spec.quiesce,
            interval=spec.interval,
            scale=spec.scale,
            load_monitoring=load_monitoring(spec.load_monitor),
        )
        self._fos = None if spec.lvs_mode else FailoverWatch()
        self._start_delay = start_delay
        self._next = 0.0
        self._scheduled = 0.0
        self._started = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ended: asyncio.Future[None] | None = None
        self._wheel: TimerWheel | None = None
        self._timer: WheelTimer | None = None
        self._inflight: InFlight | None = None
        self._overdue = False
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._load_task: asyncio.Task[None] | None = None
        self._deferred: list[Decision] = []
        self._last_reason: str | None = None
        self._announced_readmission = False

    # --- the loop -----------------------------------------------------------------------
    async def run(self) -> None:
        """Check until cancelled (fos: until the watch ends); never raises for a failed check.

        The task only waits.  One timer per period (on the shared timer
        wheel) is both the start of the next check and the deadline of the
        current one; the check's completion callback judges it.
        """
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._wheel = wheel(loop)
        self._ended = loop.create_future()
        self._log_start()
        if self._deferred:
            deferred, self._deferred = self._deferred, []
            self._spawn(self._carry_out(deferred))
        self._next = self.clock() + self._first_delay()
        self._arm()
        try:
            await self._ended
        finally:
            self._stop()

    def _first_delay(self) -> float:
        if self._start_delay is not None:
            return max(0.0, self._start_delay)
        c = self.spec.check
        key = f"{self.spec.vip}:{c.vport}>{c.address}:{c.port}/{c.protocol}".encode()
        return (zlib.crc32(key) % 10007) / 10007 * self.spec.interval

    def _arm(self) -> None:
        assert self._wheel is not None
        self._timer = self._wheel.call_later(self._next - self.clock(), self._tick)

    def _tick(self) -> None:
        """Period boundary: the running check's deadline, the next check's start."""
        self._timer = None
        inflight = self._inflight
        if inflight is not None and not inflight.expire():
            # It started late or keeps its own timeout: the next check
            # begins when it ends.
            self._overdue = True
            return
        if self._ended is not None and not self._ended.done():
            self._begin()

    def _begin(self) -> None:
        interval = self.spec.interval
        self._started = started = self.clock()
        self._scheduled = scheduled = self._next  # (reported: lateness = started - scheduled)
        if started - scheduled >= interval:  # a period or more behind: re-anchor, no burst
            scheduled = started
        self._next = scheduled + interval
        self._arm()
        check = self.spec.check
        assert self._loop is not None
        try:
            self._inflight = _PENDING
            inflight = start_check(
                self._loop,
                self._probe,
                check.address,
                check.port,
                check.timeout,
                self._done,
                own_timer=False,
            )
            if self._inflight is _PENDING:  # not finished synchronously
                self._inflight = inflight
        except Exception as exc:  # a bug must not stop the monitor
            self.log.exception("check of %s could not start%s", self._where, self._context)
            self._done(CheckResult.down(f"check could not start: {exc!r}"))

    def _done(self, result: CheckResult) -> None:
        self._inflight = None
        if self._ended is None or self._ended.done():
            return
        finished = self.clock()
        try:
            if self.on_check is not None:
                self.on_check(self._scheduled, self._started, finished, result.ok)
            if self._fos is not None:
                if self._watch_failover(result, finished):
                    self._ended.set_result(None)
                    return
            else:
                self._judge(result, finished)
        except Exception:  # a bug must not stop the monitor
            self.log.exception("judging the check of %s failed%s", self._where, self._context)
        if self._overdue:
            self._overdue = False
            if self._timer is not None:
                self._timer.cancel()
            self._begin()

    def _stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._inflight is not None:
            self._inflight.cancel()
            self._inflight = None
        if self._load_task is not None:
            self._load_task.cancel()

    def _judge(self, result: CheckResult, now: float) -> None:
        health = self._health
        was_passing = health.passing
        decisions = health.observe(result.ok, now, result.reason)
        if not result.ok:
            withdrawing = any(isinstance(d, Withdraw) for d in decisions)
            if withdrawing or was_passing is not False or result.reason != self._last_reason:
                self.log.info("%s%s", result.reason, self._context)
            else:
                self.log.debug("%s%s", result.reason, self._context)
            self._last_reason = result.reason
            self._announced_readmission = False
        else:
            self._last_reason = None
            readmit = health.readmit_at()
            if readmit is not None and health.forced is None and not self._announced_readmission:
                self._announced_readmission = True
                self.log.info(
                    "%s answers again; re-admitting it after %gs of passing checks%s",
                    self._where,
                    health.reentry,
                    self._context,
                )
            elif not decisions and self.log.isEnabledFor(logging.DEBUG):
                self.log.debug("check of %s passed%s", self._where, self._context)
        if decisions:
            self._schedule(decisions)

    def _watch_failover(self, result: CheckResult, now: float) -> bool:
        """fos: log as nanny --fos did; True when the watch is over."""
        self._health.observe(result.ok, now, result.reason)
        outcome = self._fos.observe(result.ok) if self._fos is not None else None
        if not result.ok:
            self.log.info("%s%s", result.reason, self._context)
        if outcome == "available":
            self.log.info("Remote service %s is available%s", self._where, self._context)
        elif outcome == "lost":
            self.log.info("Exiting due to connection failure of %s%s", self._where, self._context)
        elif outcome == "never":
            self.log.info(
                "Timeout waiting for remote service -- triggering failover!%s", self._context
            )
        elif not result.ok:
            self.log.info("No service active & available...%s", self._context)
        if outcome in ("lost", "never"):
            self.outcome = outcome
            return True
        return False

    # --- carrying out decisions ---------------------------------------------------------------
    async def _carry_out(self, decisions: list[Decision]) -> None:
        for decision in decisions:
            if isinstance(decision, QueryLoad):
                self._start_load_query()
            else:
                await self._act(decision)

    def _announce(self, decisions: list[Decision]) -> None:
        """Log decisions when they are made (the original logged before running ipvsadm)."""
        where = self._where
        for action in decisions:
            if isinstance(action, Admit) and not action.forced:
                self.log.info("[ active ] making %s available%s", where, self._context)
            elif isinstance(action, Withdraw):
                why = "(forced down)" if action.forced else "due to connection failure"
                self.log.info("[inactive] shutting down %s %s%s", where, why, self._context)
            elif isinstance(action, SetWeight):
                self.log.debug(
                    "Adjusting weight of %s to %d (%s)%s",
                    where,
                    action.weight,
                    action.reason,
                    self._context,
                )

    async def _act(self, action: Action) -> None:
        where = self._where
        if self.actions is None or not self.spec.lvs_mode:
            return
        async with self._lock:
            try:
                if isinstance(action, Admit):
                    await self.actions.admit(action.weight)
                elif isinstance(action, SetWeight):
                    await self.actions.set_weight(action.weight)
                else:
                    await self.actions.withdraw(action.quiesce)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # The original nanny exited when ipvsadm failed (and lvsd
                # then shut everything down); a retry at the next check is
                # kinder and loses nothing.
                self._health.action_failed(action)
                self.log.warning(
                    "%s of %s failed: %s; retrying at the next check%s",
                    type(action).__name__.lower(),
                    where,
                    exc,
                    self._context,
                )

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _schedule(self, decisions: list[Decision]) -> None:
        """Announce decisions and carry them out in a task (in order, one at a time)."""
        if not decisions:
            return
        self._announce(decisions)
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # not running yet: run() carries them out first
            self._deferred.extend(decisions)
            return
        self._spawn(self._carry_out(decisions))

    # --- load monitoring --------------------------------------------------------------------------
    def _start_load_query(self) -> None:
        if self._load_task is not None and not self._load_task.done():
            return  # the previous reading is still on its way
        self._load_task = asyncio.get_running_loop().create_task(self._query_load())

    async def _query_load(self) -> None:
        argv = load_argv(self.spec.load_monitor, self.spec.rsh_command, self.spec.check.address)
        if argv is None:
            return
        async with limits().programs:
            result = await run_command(argv, timeout=self.spec.interval)
        load: float | None = None
        if not result.ok:
            self.log.info("failed to read remote load%s", self._context)
        else:
            output = result.stdout.decode("utf-8", "replace")
            load = parse_load(output)
            if load is None:
                self.log.info("bad load average returned: %s%s", output.strip(), self._context)
            else:
                self.log.debug(
                    "Loadavg of %s is %f%s", self.spec.check.address, load, self._context
                )
        decisions = self._health.load_measured(load)
        self._announce(decisions)
        await self._carry_out(decisions)

    # --- operator and lvsd ------------------------------------------------------------------------
    def force(self, mode: str) -> None:
        """``down`` | ``up`` | ``resume``: nanny's SIGUSR1 / SIGUSR2 / SIGHUP."""
        decisions = self._health.force(mode, self.clock())
        if mode == "down":
            self.log.info("opaque glasses on%s", self._context)
        elif mode == "up":
            self.log.info("rose-colored glasses on%s", self._context)
        else:
            self.log.info("DEBUG -- removing glasses%s", self._context)
        self._schedule(decisions)

    def reconfigure(self, spec: MonitorSpec) -> None:
        """A reload changed the settings: apply them in place, keeping the up/down state."""
        old, self.spec = self.spec, spec
        if spec.check != old.check:
            self._probe = build_probe(spec.check)
            for note in self._probe.notes:
                self.log.info("%s%s", note, self._context)
        decisions = self._health.reconfigure(
            weight=spec.weight,
            reentry=spec.reentry,
            quiesce=spec.quiesce,
            interval=spec.interval,
            scale=spec.scale,
            load_monitoring=load_monitoring(spec.load_monitor),
        )
        if spec.interval < old.interval and self._timer is not None:
            self._next = min(self._next, self.clock() + spec.interval)
            self._timer.cancel()
            self._arm()
        self._schedule(decisions)

    @property
    def active(self) -> bool:
        """In service with a real weight (what SIGTERM withdraws)."""
        return self._health.active

    def status(self) -> dict[str, Any]:
        """The ``health`` entry of lvsd's control socket for this server."""
        h = self._health
        virtual, _, server = self.spec.label.partition("/")
        readmit = h.readmit_at()
        return {
            "virtual": virtual,
            "server": server,
            "address": self.spec.check.address,
            "port": self.spec.check.port,
            "state": h.state,
            "forced": h.forced,
            "draining": False,
            "since": self._epoch(h.since),
            "last_check": self._epoch(h.last_check),
            "last_error": h.last_error or None,
            "checks": h.checks,
            "failures": h.failures,
            "weight": h.weight,
            "passing": h.passing,
            "readmit_at": self._epoch(readmit) if h.passing else None,
        }

    # --- helpers --------------------------------------------------------------------------------------
    def _epoch(self, t: float | None) -> float | None:
        return None if t is None else time.time() - (self.clock() - t)

    @property
    def _where(self) -> str:
        return f"{self.spec.check.address}:{self.spec.check.port}"

    @property
    def _context(self) -> str:
        return f" [{self.spec.label}]" if self.spec.label else ""

    def _log_start(self) -> None:
        c = self.spec.check
        if self.spec.lvs_mode:
            self.log.info(
                "starting LVS client monitor for %s:%d -> %s:%d%s",
                self.spec.vip,
                c.vport,
                c.address,
                c.port,
                self._context,
            )
        else:
            self.log.info(
                "Failover service monitor for %s:%d started%s", c.address, c.port, self._context
            )
        for note in self._probe.notes:
            self.log.info("%s%s", note, self._context)


class _Pending:
    """Placeholder while a check is being started (it may finish synchronously)."""

    def cancel(self) -> None:
        pass


_PENDING = _Pending()


async def cancel_and_wait(task: asyncio.Task[Any]) -> None:
    """Stop a monitor's task and wait until it has stopped."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
