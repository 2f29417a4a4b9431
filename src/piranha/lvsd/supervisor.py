"""lvsd's core: lvs.cf -> table -> data plane, health checks, sorry servers, drains, reloads.

`Lvsd` owns one VirtualTable.  It sets the services of lvs.cf up (file
order), runs one health monitor task per active real server, and brings
the table in line with their verdicts; every change ends in one coalesced
``backend.converge()``.  A timer refreshes counters and connections from
the backend, expires connections, runs the rate estimator every 2 s,
finishes drains, and switches sorry servers.  Reloads (reloading.py) and
the control ops (operations.py) are the other two parts of the class.

The original's log lines are kept where operators grep for them:
``starting virtual service <name> active: <port>``, ``create_monitor for
<vs>/<server>`` (the monitors are tasks now, so no pid), ``shutting down
virtual service <name>``, ``rereading configuration file``, ``shutting
down due to signal <n>``, ``Virtual Server <name>: No real servers;
activate sorry_server <ip>`` and ``... <n> real servers; deactivate
sorry_server <ip>``, ``nanny for child <vs>/<server> died! ...``.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from piranha.config import Config, Environment
from piranha.config.environment import system_resolve_host
from piranha.dataplane import choose
from piranha.dataplane.base import Backend, BackendError, BackendOptions
from piranha.runtime import notify as sd
from piranha.runtime.resolver import CachingResolver
from piranha.table.estimator import tick_table
from piranha.table.model import Destination, Service, ServiceKey, TableError, Timeouts, VirtualTable

from . import build, preflight
from .actions import SlotActions
from .converge import Converger
from .history import History
from .operations import Operations
from .reloading import Reloading
from .slots import ServerSlot, ServiceState
from .watch import FileWatch

HOUSEKEEPING_INTERVAL = 1.0
ESTIMATOR_INTERVAL = 2.0
AUTORELOAD_INTERVAL = 2.0
CONVERGE_RETRY = 5.0
# Before its checks have spoken, a service is not judged sorry-worthy for
# this long beyond one check period (the original waited for its 5-s tick).
FIRST_CHECK_GRACE = 2.0
MONITOR_RESTART_MAX = 60.0
BACKEND_STOP_TIMEOUT = 10.0
# the states in which the data plane follows the table
PROGRAMMED = frozenset({"active", "standby"})

BackendFactory = Callable[[VirtualTable, BackendOptions, logging.Logger], Backend]
MonitorFactory = Callable[[Any, Any, logging.Logger], Any]


def use_uvloop() -> bool:
    """uvloop for the userspace data plane when installed (``piranha[fast]``).

    It runs the proxy in a worker process on uvloop (lvsd's own loop stays
    the stdlib one: pyroute2 breaks on uvloop).  ``PIRANHA_UVLOOP=0`` keeps
    the proxy in lvsd's loop.
    """
    if os.environ.get("PIRANHA_UVLOOP", "1") in ("0", "no", "off", "false"):
        return False
    return importlib.util.find_spec("uvloop") is not None


async def _cancel_all(tasks: list[asyncio.Task[Any]], log: logging.Logger) -> None:
    """Cancel and wait for ``tasks``; cancel again what is still running after a
    second (Python 3.11's wait_for can swallow one cancellation)."""
    pending = {t for t in tasks if not t.done()}
    for _ in range(5):
        if not pending:
            break
        for task in pending:
            task.cancel()
        _done, pending = await asyncio.wait(pending, timeout=1.0)
    for task in pending:
        log.warning("task %s did not stop", task.get_name())
    for task in tasks:
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: nothing logged as "never retrieved"


def default_monitor_factory(spec: Any, actions: Any, log: logging.Logger) -> Any:
    from piranha.health import Monitor

    return Monitor(spec, actions, log=log)


def default_spec(config: Config, state: ServiceState, slot: ServerSlot) -> Any:
    from piranha.health import monitor_spec

    virtual = state.plan.virtual
    server = slot.plan.server
    assert virtual is not None and server is not None
    return monitor_spec(config, virtual, server)


class Lvsd(Reloading, Operations):
    """One lvsd: start with ``await run()``; it returns the exit status."""

    def __init__(
        self,
        config: Config,
        path: Path,
        *,
        log: logging.Logger,
        standby: bool = False,
        resolve_host: Callable[[str], str | None] = system_resolve_host,
        environment: Environment | None = None,
        facts: preflight.Facts | None = None,
        backend_factory: BackendFactory | None = None,
        backend_name: str | None = None,
        monitor_factory: MonitorFactory = default_monitor_factory,
        spec_factory: Callable[[Config, ServiceState, ServerSlot], Any] = default_spec,
        notify: Callable[[str], Any] = sd.notify,
        socket_path: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.path = path
        self.log = log
        self.standby = standby
        self.resolve_host = resolve_host
        self.environment = environment
        self.facts = facts
        self.backend_factory = backend_factory
        self.backend_name = backend_name
        self.monitor_factory = monitor_factory
        self.spec_factory = spec_factory
        self.notify = notify
        self.socket_path = socket_path
        self.clock = clock
        self.wall = wall

        self.table = VirtualTable()
        self.plan = build.Plan((0, 0, 0), False, False, ())
        self.states: dict[ServiceKey, ServiceState] = {}
        self.state = "starting"
        self.backend: Backend | None = None
        self.converger: Converger | None = None
        self.history = History()
        self.resolver = CachingResolver()
        self.watch = FileWatch(path)
        self.warnings: list[str] = []
        self.last_reload: dict[str, Any] | None = None
        self.started_wall = wall()
        self.exit_code = 0
        self._stop: asyncio.Event | None = None
        self._reload_lock: asyncio.Lock | None = None
        self._background: list[asyncio.Task[Any]] = []
        self._converge_failed = False
        self._failure_log: dict[ServiceKey, str] = {}
        self._control: Any = None
        self._signal_tasks: set[asyncio.Task[Any]] = set()
        self._next_estimate = 0.0
        self._next_retry = 0.0
        self._next_watch = 0.0
        self._last_refresh = 0.0

    @property
    def programmed(self) -> bool:
        """The data plane follows the table: active, and standby too (see start)."""
        return self.state in PROGRAMMED

    # ------------------------------------------------------------------ life

    async def run(self) -> int:
        """Start, serve until a signal (or a fatal monitor death), shut down; the exit status."""
        self._stop = asyncio.Event()
        self._reload_lock = asyncio.Lock()
        self._install_signals()
        try:
            if await self.start():
                await self._stop.wait()
        finally:
            await self.shutdown()
            self._remove_signals()
        return self.exit_code

    def request_stop(self, code: int | None = None) -> None:
        if code is not None and self.exit_code == 0:
            self.exit_code = code
        if self._stop is not None:
            self._stop.set()

    async def start(self) -> bool:
        """Everything up to READY=1; False (exit status set) when lvsd cannot run."""
        if self._stop is None:
            self._stop = asyncio.Event()
            self._reload_lock = asyncio.Lock()
        self.plan = await asyncio.to_thread(build.plan, self.config, self.resolve_host)
        for problem in self.plan.problems:
            self.log.warning(problem)
        self.warnings = list(self.plan.problems)
        if not self._choose_backend():
            return False
        if not await self._start_control():
            return False
        self._apply_globals(self.plan)
        if not self.standby:
            await self._run_preflight()
        if not await self._start_backend():
            return False
        for svc in self.plan.services:
            self._add_service(svc)
        # a standby programs its data plane as the active router does (keepalived's
        # routers both carry the IPVS table too): nothing reaches it while its VIPs are
        # on the other router, and a takeover is then only pulse adding the addresses —
        # a sub-second failover has no time to program a table
        self.state = "standby" if self.standby else "active"
        for state in self.states.values():
            for slot in state.slots.values():
                self._sync(state, slot)
        assert self.converger is not None
        await self.converger.settle()
        if self.standby:
            self.log.info(
                "standby: data plane programmed; it carries traffic once pulse brings "
                "the virtual IPs up (control op `activate` at takeover)"
            )
        now = self.clock()
        self._next_estimate = now + ESTIMATOR_INTERVAL
        self._next_retry = now + CONVERGE_RETRY
        self._next_watch = now + AUTORELOAD_INTERVAL
        self._background = [
            asyncio.create_task(self._housekeeping(), name="lvsd-housekeeping"),
        ]
        self.notify("READY=1")
        self.notify(f"STATUS={self._status_line()}")
        return True

    async def shutdown(self) -> None:
        """§3.2 step 7: stop the monitors and delete each service, then release the data plane."""
        if self.state == "stopped":
            return
        self.state = "stopping"  # from here on, reloads are refused
        self.notify("STOPPING=1")
        await _cancel_all([*self._background, *self._signal_tasks], self.log)
        self._background = []
        if self._reload_lock is not None:
            await self._reload_lock.acquire()  # a reload from the control socket finishes first
        for state in list(self.states.values()):
            await self._remove_service(state)
        self.states.clear()
        if self.converger is not None:
            await self.converger.close()
        if self.backend is not None:
            try:
                await asyncio.wait_for(self.backend.stop(), BACKEND_STOP_TIMEOUT)
            except Exception as exc:
                self.log.error("stopping the %s data plane failed: %s", self.backend.name, exc)
            self.backend = None
        if self._control is not None:
            await self._control.close()
            self._control = None
        self.state = "stopped"

    # ------------------------------------------------------------- start-up

    def _install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._on_term, signum)
        loop.add_signal_handler(signal.SIGHUP, self._on_hup)
        for signum in (signal.SIGUSR1, signal.SIGUSR2):
            # the original had no handler (so these killed it); ignore them instead
            loop.add_signal_handler(signum, self._on_usr, signum)

    def _remove_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (
            signal.SIGTERM,
            signal.SIGINT,
            signal.SIGHUP,
            signal.SIGUSR1,
            signal.SIGUSR2,
        ):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(signum)

    def _on_term(self, signum: int) -> None:
        if self._stop is not None and self._stop.is_set():
            return  # already on the way out (Ctrl-C and a SIGTERM, say)
        self.log.info("shutting down due to signal %d", signum)
        self.request_stop()

    def _on_hup(self) -> None:
        task = asyncio.get_running_loop().create_task(self.reload())
        self._signal_tasks.add(task)
        task.add_done_callback(self._signal_tasks.discard)

    def _on_usr(self, signum: int) -> None:
        self.log.info("signal %d ignored (lvsd acts on SIGHUP, SIGTERM and SIGINT)", signum)

    def _choose_backend(self) -> bool:
        if self.backend_factory is not None:
            self.backend_name = self.backend_name or "injected"
            return True
        try:
            cls, notes = choose(self.config.dataplane)
        except RuntimeError as exc:
            self.log.error("%s", exc)
            self.exit_code = 1
            return False
        self.backend_name = cls.name
        why = f" (passed over: {'; '.join(notes)})" if notes else ""
        self.log.info("using data plane %s%s", cls.name, why)

        def factory(table: VirtualTable, options: BackendOptions, log: logging.Logger) -> Backend:
            return cls(table, options, log=log)

        self.backend_factory = factory
        return True

    async def _start_control(self) -> bool:
        from piranha.runtime.control import ControlServer
        from piranha.runtime.paths import socket_path

        from .control import handlers

        path = self.socket_path or socket_path("lvsd")
        server = ControlServer(path, handlers(self), log=self.log)
        try:
            await server.start()
        except (RuntimeError, OSError) as exc:
            self.log.error("cannot serve the control socket %s: %s", path, exc)
            self.exit_code = 1
            return False
        self._control = server
        return True

    def _backend_options(self) -> BackendOptions:
        cfg = self.config
        return BackendOptions(
            # a standby's VIPs are on the other router until the takeover
            freebind=self.standby,
            nat_router=cfg.nat_router,
            nat_router_device=cfg.nat_router_device,
            sync_interface=cfg.syncd_iface if cfg.syncdaemon else None,
            sync_id=cfg.syncd_id,
            use_uvloop=use_uvloop(),
        )

    async def _start_backend(self) -> bool:
        assert self.backend_factory is not None
        backend = self.backend_factory(self.table, self._backend_options(), self.log)
        try:
            await backend.start()
        except Exception as exc:
            self.log.error("cannot start the %s data plane: %s", self.backend_name, exc)
            self.exit_code = 1
            return False
        self.backend = backend
        self.converger = Converger(
            backend.converge,
            on_error=self._converge_error,
            on_success=self._converge_ok,
            log=self.log,
        )
        return True

    async def _run_preflight(self) -> None:
        facts = self.facts or preflight.machine_facts()
        try:
            findings = await asyncio.to_thread(
                preflight.check, self.config, self.plan, self.backend_name or "", facts
            )
        except Exception as exc:  # a check that cannot run must not stop lvsd
            self.log.debug("start-up checks failed: %s", exc)
            findings = []
        for finding in findings:
            self.log.warning("%s", finding)
        self.warnings = [*self.plan.problems, *findings]

    def _apply_globals(self, plan: build.Plan) -> None:
        """``ipvsadm --set`` (0 = the default) and the two sysctls."""
        defaults = Timeouts()
        tcp, tcpfin, udp = plan.timeouts
        self.table.timeouts = Timeouts(
            tcp or defaults.tcp, tcpfin or defaults.tcpfin, udp or defaults.udp
        )
        self.table.expire_quiescent_template = plan.expire_quiescent_template
        self.table.expire_nodest_conn = plan.expire_nodest_conn

    # -------------------------------------------------------------- services

    def _add_service(self, svc: build.ServicePlan) -> ServiceState:
        self.log.info("starting virtual service %s active: %d", svc.name, svc.vport)
        if svc.key in self.table.services:
            # left over from an lvsadm edit: lvs.cf takes it over
            build.update_service(self.table, svc)
        else:
            build.install_service(self.table, svc)
        state = ServiceState(plan=svc, started=self.clock())
        self.states[svc.key] = state
        for server in svc.servers:
            self._add_slot(state, server)
        return state

    async def _remove_service(self, state: ServiceState) -> None:
        for slot in list(state.slots.values()):
            await self._stop_monitor(slot)
        key = state.plan.key
        self.log.info("shutting down virtual service %s", state.name)
        svc = self.table.services.get(key)
        if svc is not None:
            self.table.delete_service(key)
            self._flush(svc.destinations)
            self._request_converge()
        self.states.pop(key, None)

    def _add_slot(self, state: ServiceState, server: build.ServerPlan) -> ServerSlot:
        slot = state.slots.get(server.ident)
        if slot is not None and slot.leaving:
            # it left in an earlier reload and is back before its drain ended: its
            # entry and connections stay, at weight 0 until its new check admits it
            slot.leaving = False
            slot.stop_drain()
            slot.plan = server
            slot.admitted, slot.quiesced, slot.weight = False, True, 0
        else:
            slot = ServerSlot(plan=server)
            state.slots[server.ident] = slot
        self._start_monitor(state, slot)
        return slot

    # -------------------------------------------------------------- monitors

    def _start_monitor(self, state: ServiceState, slot: ServerSlot) -> None:
        self.log.info("create_monitor for %s", slot.label)
        spec = self.spec_factory(self.config, state, slot)
        slot.monitor = self.monitor_factory(spec, SlotActions(self, state, slot), self.log)
        slot.task = asyncio.get_running_loop().create_task(
            self._keep_monitor(state, slot), name=f"monitor {slot.label}"
        )

    async def _keep_monitor(self, state: ServiceState, slot: ServerSlot) -> None:
        """Run a monitor; one that dies (a bug) stops lvsd or is restarted (hard_shutdown)."""
        delay = 1.0
        while True:
            try:
                await slot.monitor.run()
                why = "returned"
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                why = f"{type(exc).__name__}: {exc}"
                self.log.debug("monitor %s failed", slot.label, exc_info=True)
            if self.config.hard_shutdown:
                self.log.error("nanny for child %s died! shutting down lvs (%s)", slot.label, why)
                self.request_stop(1)
                return
            self.log.error(
                "nanny for child %s died! restarting it in %g s (%s)", slot.label, delay, why
            )
            if slot.admitted:  # nobody vouches for it now; the new monitor re-admits it
                quiesce = bool(getattr(state.plan.virtual, "quiesce_server", False))
                self.slot_withdrawn(state, slot, quiesce)
            await asyncio.sleep(delay)
            delay = min(delay * 2, MONITOR_RESTART_MAX)
            slot.restarts += 1
            spec = self.spec_factory(self.config, state, slot)
            slot.monitor = self.monitor_factory(spec, SlotActions(self, state, slot), self.log)

    async def _stop_monitor(self, slot: ServerSlot) -> None:
        task, slot.task = slot.task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # ------------------------------------------------- verdicts (SlotActions)

    def slot_admitted(self, state: ServiceState, slot: ServerSlot, weight: int) -> None:
        slot.admit(weight, self.wall())
        self._sync(state, slot)
        self._judge_sorry(state)

    def slot_weight(self, state: ServiceState, slot: ServerSlot, weight: int) -> None:
        slot.set_weight(weight)
        self._sync(state, slot)

    def slot_withdrawn(self, state: ServiceState, slot: ServerSlot, quiesce: bool) -> None:
        slot.withdraw(quiesce, self.wall())
        self._sync(state, slot)
        self._judge_sorry(state)

    # ------------------------------------------------------------ the table

    def _service(self, state: ServiceState) -> Service | None:
        return self.table.services.get(state.plan.key)

    def _sync(self, state: ServiceState, slot: ServerSlot) -> None:
        """Make the slot's destination what it should be (once the data plane is up)."""
        if not self.programmed:
            return
        svc = self._service(state)
        if svc is None:
            return  # deleted with lvsadm: a reload or restart sets it up again
        address, port = slot.ident
        dest = svc.find(address, port)
        want = slot.wanted_weight(dest is not None)
        plan = slot.plan
        forward = state.plan.forward
        try:
            if want is None:
                if dest is None:
                    return
                self.table.delete_dest(svc.key, address, port)
                self._flush([dest])
            elif dest is None:
                self.table.add_dest(
                    svc.key,
                    address,
                    port,
                    weight=want,
                    forward=forward,
                    u_threshold=plan.u_threshold,
                    l_threshold=plan.l_threshold,
                )
            elif (dest.weight, dest.forward, dest.u_threshold, dest.l_threshold) != (
                want,
                forward,
                plan.u_threshold,
                plan.l_threshold,
            ):
                self.table.edit_dest(
                    svc.key,
                    address,
                    port,
                    weight=want,
                    forward=forward,
                    u_threshold=plan.u_threshold,
                    l_threshold=plan.l_threshold,
                )
            else:
                return
        except TableError as exc:
            self.log.error("real server %s: the table refused the change: %s", slot.label, exc)
            return
        self._request_converge()

    def _flush(self, dests: list[Destination]) -> None:
        """Deleted destinations: their connections go now if expire_nodest_conn says so."""
        assert self.table.connections is not None
        now = self.clock()
        for dest in dests:
            self.table.connections.flush_dest(dest, now)

    def _request_converge(self) -> None:
        if self.converger is not None and self.programmed:
            self.converger.request()

    def _converge_error(self, exc: BackendError) -> None:
        self._converge_failed = True
        for key, why in exc.failed.items():
            state = self.states.get(key)
            name = state.name if state is not None else str(key)
            if state is not None:
                state.failure = why
            if self._failure_log.get(key) != why:
                self._failure_log[key] = why
                self.log.error("data plane failed for virtual server %s: %s", name, why)
        for key, state in self.states.items():
            if key not in exc.failed and state.failure is not None:
                self._recovered(key, state)

    def _converge_ok(self) -> None:
        self._converge_failed = False
        for key, state in self.states.items():
            if state.failure is not None:
                self._recovered(key, state)

    def _recovered(self, key: ServiceKey, state: ServiceState) -> None:
        state.failure = None
        self._failure_log.pop(key, None)
        self.log.info("virtual server %s is programmed now", state.name)

    # ---------------------------------------------------------- sorry server

    def _reported(self, slot: ServerSlot) -> bool:
        if slot.admitted:
            return True
        try:
            return slot.monitor is not None and slot.monitor.status().get("state") in ("up", "down")
        except Exception:
            return False

    def _judge_sorry(self, state: ServiceState) -> None:
        """§3.5, judged from the monitors' state: sorry server in while no real server is up."""
        sorry = state.plan.sorry_server
        if not sorry or not self.programmed:
            return
        serving = state.serving()
        if serving == 0 and not state.sorry_active:
            waited = self.clock() - state.started
            grace = float(getattr(state.plan.virtual, "timeout", 10)) + FIRST_CHECK_GRACE
            current = [s for s in state.slots.values() if not s.leaving]
            if waited < grace and not all(self._reported(s) for s in current):
                return
            self.log.info(
                "Virtual Server %s: No real servers; activate sorry_server %s", state.name, sorry
            )
            state.sorry_active = True
            self._sync_sorry(state, sorry, state.plan.vport, present=True)
        elif serving and state.sorry_active:
            self.log.info(
                "Virtual Server %s: %d real servers; deactivate sorry_server %s",
                state.name,
                serving,
                sorry,
            )
            state.sorry_active = False
            self._sync_sorry(state, sorry, state.plan.vport, present=False)

    def _sync_sorry(self, state: ServiceState, address: str, port: int, *, present: bool) -> None:
        svc = self._service(state)
        if svc is None:
            return
        ident = (address, port)
        if ident in state.slots:
            self.log.warning(
                "virtual server %s: sorry_server %s:%d is also one of its real servers; "
                "left to its health check",
                state.name,
                *ident,
            )
            return
        dest = svc.find(*ident)
        try:
            if present and dest is None:
                self.table.add_dest(svc.key, *ident, weight=1, forward=state.plan.forward)
            elif not present and dest is not None:
                self.table.delete_dest(svc.key, *ident)
                self._flush([dest])
            else:
                return
        except TableError as exc:
            self.log.error("virtual server %s: sorry_server: %s", state.name, exc)
            return
        self._request_converge()

    # ---------------------------------------------------------- housekeeping

    async def _housekeeping(self) -> None:
        # the state check too: on 3.11 a cancellation that meets a finishing wait_for
        # inside a round can be swallowed, and the loop must still end
        while self.state not in ("stopping", "stopped"):
            await asyncio.sleep(HOUSEKEEPING_INTERVAL)
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:  # keep the timer alive whatever one round did
                self.log.exception("housekeeping failed")

    async def tick(self) -> None:
        """One housekeeping round (every second): refresh, expire, drains, sorry
        servers; every 2 s the rate estimator and a history sample; retries of a
        failed converge; the autoreload look at lvs.cf."""
        now = self.clock()
        await self._refresh(now)
        self._finish_drains(now)
        for state in list(self.states.values()):
            self._judge_sorry(state)
        if now >= self._next_estimate:
            self._next_estimate = max(self._next_estimate + ESTIMATOR_INTERVAL, now)
            tick_table(self.table)
            self.history.record(self.table, self.wall())
        if self._converge_failed and now >= self._next_retry:
            self._next_retry = now + CONVERGE_RETRY
            self._request_converge()
        if now >= self._next_watch:
            self._next_watch = now + AUTORELOAD_INTERVAL
            if self.config.autoreload and self.watch.changed():
                self.log.info("%s changed", self.path)
                await self.reload(source="autoreload")

    async def _refresh(self, now: float) -> None:
        self._last_refresh = now
        if self.backend is not None and self.programmed:
            await self.backend.refresh(now)
        assert self.table.connections is not None
        self.table.connections.expire(now)

    def _finish_drains(self, now: float) -> None:
        for state in list(self.states.values()):
            svc = self._service(state)
            for ident, slot in list(state.slots.items()):
                if not (slot.draining or slot.leaving) or slot.drained:
                    continue
                dest = svc.find(*ident) if svc is not None else None
                connections = None if dest is None else dest.activeconns + dest.inactconns
                why = slot.drain_done(connections, now)
                if why is None:
                    continue
                slot.drained = True
                self.log.info(
                    "real server %s (%s:%d) drained (%s): out of the table",
                    slot.label,
                    *ident,
                    why,
                )
                self._sync(state, slot)
                if slot.leaving:
                    del state.slots[ident]
