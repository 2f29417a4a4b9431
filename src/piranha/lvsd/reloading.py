"""Reload on SIGHUP (or the control op, or autoreload): apply the difference, nothing else.

The file is read and checked off the event loop; a file with errors changes
nothing and every error is logged as FILE:LINE:COL.  Otherwise reload.diff
says what changed and each operation is applied in place (see reload.py
for what the original got wrong).  A real server that left lvs.cf is
drained for at most DRAIN_ON_REMOVE seconds, then deleted.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from piranha.config import ConfigError, load

from . import build
from .reload import (
    AddServer,
    AddService,
    EditServer,
    EditService,
    Notice,
    Operation,
    RecheckServer,
    RemoveServer,
    RemoveService,
    SetSysctls,
    SetTimeouts,
    diff,
)
from .slots import ServiceState

if TYPE_CHECKING:  # pragma: no cover
    from .supervisor import Lvsd

# A real server removed from lvs.cf by a reload is drained (weight 0, no new
# connections) and deleted when its connections are gone, or after this many
# seconds.  The original deleted at once, cutting established connections
# (peers.md (d) 3: "reload drops traffic").
DRAIN_ON_REMOVE = 60.0


class Reloading:
    """Lvsd's reload half (a mixin of supervisor.Lvsd)."""

    async def reload(self: Lvsd, source: str = "SIGHUP") -> dict[str, Any]:
        """Re-read lvs.cf and apply the difference; a file with errors changes nothing."""
        assert self._reload_lock is not None
        async with self._reload_lock:
            if self.state not in ("active", "standby"):
                return {"ok": False, "errors": [f"lvsd is {self.state}"]}
            self.log.info("rereading configuration file")
            self.notify("RELOADING=1")
            try:
                return await self._reload()
            finally:
                self.notify("READY=1")

    async def _reload(self: Lvsd) -> dict[str, Any]:
        self.watch.rebase()
        at = self.wall()
        try:
            config = await asyncio.to_thread(load, self.path, self.environment)
        except ConfigError as exc:
            errors = [str(d) for d in exc.errors]
            self.log.error(
                "error reading %s; the running configuration stays (%d error%s):",
                self.path,
                len(errors),
                "s" * (len(errors) != 1),
            )
            for line in errors:
                self.log.error("%s", line)
            return self._reload_done(at, errors)
        except OSError as exc:
            error = f"{self.path}: cannot read: {exc.strerror or exc}"
            self.log.error("%s; the running configuration stays", error)
            return self._reload_done(at, [error])
        plan = await asyncio.to_thread(build.plan, config, self.resolve_host)
        for problem in plan.problems:
            self.log.warning(problem)
        operations = diff(self.plan, plan)
        seen = {str(w) for w in self.config.warnings}
        self.config, self.plan = config, plan
        for op in operations:
            try:
                await self._apply(op)
            except Exception:
                self.log.exception("applying %s failed", type(op).__name__)
        self._rebind()
        self._restore_missing()
        for state in list(self.states.values()):
            self._judge_sorry(state)
        if self.converger is not None and self.programmed:
            await self.converger.settle()
        if not operations:
            self.log.info("configuration unchanged")
        for warning in config.warnings:
            if str(warning) not in seen:
                self.log.warning("%s", warning)
        return self._reload_done(at, [])

    def _reload_done(self: Lvsd, at: float, errors: list[str]) -> dict[str, Any]:
        self.last_reload = {"at": at, "ok": not errors, "errors": errors}
        return {"ok": not errors, "errors": errors}

    async def _apply(self: Lvsd, op: Operation) -> None:
        if isinstance(op, SetTimeouts | SetSysctls):
            self._apply_globals(self.plan)
        elif isinstance(op, Notice):
            self.log.warning("%s", op.message)
        elif isinstance(op, RemoveService):
            state = self.states.get(op.service.key)
            if state is not None:
                await self._remove_service(state)
        elif isinstance(op, AddService):
            state = self._add_service(op.service)
            for slot in state.slots.values():
                self._sync(state, slot)
        elif isinstance(op, EditService):
            self._edit_service(op)
        elif isinstance(op, AddServer):
            state = self.states[op.key]
            self.log.info("virtual service %s: new real server %s", state.name, op.server.name)
            slot = self._add_slot(state, op.server)
            self._sync(state, slot)
        elif isinstance(op, RemoveServer):
            await self._remove_server(op)
        elif isinstance(op, EditServer):
            self._edit_server(op)
        elif isinstance(op, RecheckServer):
            state = self.states[op.key]
            slot = state.slots.get(op.server.ident)
            if slot is not None and slot.monitor is not None:
                self._rebind_one(state)
                slot.monitor.reconfigure(self.spec_factory(self.config, state, slot))

    def _edit_service(self: Lvsd, op: EditService) -> None:
        state = self.states[op.service.key]
        old = state.plan
        state.plan = op.service
        self.log.info("virtual service %s: %s changed", op.service.name, ", ".join(op.changed))
        if self._service(state) is None:
            return  # _restore_missing sets it up
        if op.table_edit:
            build.update_service(self.table, op.service)
        else:
            build.label_service(self.table, op.service)
        if "forward" in op.changed:
            for slot in state.slots.values():
                self._sync(state, slot)
        if state.sorry_active and (
            old.sorry_server != op.service.sorry_server
            or old.vport != op.service.vport
            or old.forward != op.service.forward
        ):
            # the old sorry server goes; the new one (if any) is judged afresh
            state.sorry_active = False
            if old.sorry_server:
                self._sync_sorry(state, old.sorry_server, old.vport, present=False)
        self._request_converge()

    async def _remove_server(self: Lvsd, op: RemoveServer) -> None:
        state = self.states[op.key]
        slot = state.slots.get(op.server.ident)
        if slot is None:
            return
        await self._stop_monitor(slot)
        slot.monitor = None
        slot.leaving = True
        slot.start_drain(self.clock(), DRAIN_ON_REMOVE, "removed from lvs.cf")
        self.log.info(
            "real server %s (%s:%d) left the configuration: drained (weight 0) until its "
            "connections end, at most %g s",
            slot.label,
            *slot.ident,
            DRAIN_ON_REMOVE,
        )
        self._sync(state, slot)
        self._judge_sorry(state)

    def _edit_server(self: Lvsd, op: EditServer) -> None:
        state = self.states[op.key]
        slot = state.slots.get(op.server.ident)
        if slot is None:
            return
        # thresholds now; the weight follows through the monitor (RecheckServer),
        # which owns it (slow start, load monitoring)
        self.log.info(
            "real server %s: %s changed", op.server.label, ", ".join(op.changed).replace("_", "")
        )
        slot.plan = op.server
        self._sync(state, slot)

    def _rebind_one(self: Lvsd, state: ServiceState) -> None:
        """Point a kept service and its kept servers at the new lvs.cf's blocks.

        A change that only the checks see (``timeout``, ``send``...) edits
        nothing in the table, but the monitors must be built from the new
        blocks from now on.
        """
        new = self.plan.service(state.plan.key)
        if new is None:
            return
        state.plan = new
        for ident, slot in state.slots.items():
            server = new.server(ident)
            if server is not None and not slot.leaving:
                slot.plan = server

    def _rebind(self: Lvsd) -> None:
        for state in self.states.values():
            self._rebind_one(state)

    def _restore_missing(self: Lvsd) -> None:
        """Services of lvs.cf that are not in the table (deleted with lvsadm) are set up again."""
        for key, state in self.states.items():
            if key in self.table.services:
                continue
            self.log.info(
                "virtual service %s was not in the table (deleted with lvsadm?): set up again",
                state.name,
            )
            build.install_service(self.table, state.plan)
            state.sorry_active = False
            for slot in state.slots.values():
                self._sync(state, slot)
