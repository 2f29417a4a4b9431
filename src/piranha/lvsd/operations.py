"""What the control socket asks of a running lvsd beyond reading views: status, activate,
lvsadm on the live table, drains, zeroing counters.

Every op that changes the table waits for the data plane to follow before
it answers, so a client that asks next sees (and gets) what it asked for.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import TYPE_CHECKING, Any

from piranha import __version__
from piranha.runtime.control import ControlError
from piranha.table import ipvsadm
from piranha.table.model import ServiceKey

from .slots import ServerSlot, ServiceState

if TYPE_CHECKING:  # pragma: no cover
    from .supervisor import Lvsd

# Listing ops refresh the counters first unless they are at most this old.
FRESH_ENOUGH = 0.05


class Operations:
    """Lvsd's operator half (a mixin of supervisor.Lvsd)."""

    def _status_line(self: Lvsd) -> str:
        n = len(self.states)
        return f"{self.state}: {n} virtual service{'s' * (n != 1)} on {self.backend_name}"

    def status(self: Lvsd) -> dict[str, Any]:
        failures = [
            f"virtual server {s.name}: {s.failure}" for s in self.states.values() if s.failure
        ]
        return {
            "pid": os.getpid(),
            "version": __version__,
            "config": str(self.path),
            "dataplane": self.backend_name,
            "state": self.state,
            "started": self.started_wall,
            "serial_no": self.config.serial_no,
            "last_reload": self.last_reload,
            "warnings": [*self.warnings, *failures],
        }

    async def activate(self: Lvsd) -> dict[str, Any]:
        """Standby -> active.  The standby's data plane is programmed already (see
        ``Lvsd.start``): pulse has just added the VIPs, so this is a change of name, the
        start-up checks (in the background: they only warn) and a converge if one is due."""
        if self.state == "active":
            return {"state": "active", "changed": False}
        if self.state != "standby":
            raise ControlError(f"cannot activate: lvsd is {self.state}")
        started = time.perf_counter()
        self.state = "active"
        self._restore_missing()  # a service deleted with lvsadm on the standby
        assert self.converger is not None
        if self._converge_failed:
            await self.converger.settle()  # retry now what the standby could not program
        else:
            await self.converger.idle()
        self.log.info(
            "active: the %s data plane was programmed on standby (%.3f s to switch)",
            self.backend_name,
            time.perf_counter() - started,
        )
        self._background.append(asyncio.create_task(self._run_preflight(), name="lvsd-preflight"))
        self.notify(f"STATUS={self._status_line()}")
        return {"state": "active", "changed": True}

    async def lvsadm(self: Lvsd, argv: list[str], stdin: str, prog: str) -> dict[str, Any]:
        """One ipvsadm command line on the live table; names looked up without blocking."""
        await self.fresh()
        result = ipvsadm.run(
            self.table, argv, stdin=stdin, now=self.clock(), resolver=self.resolver, prog=prog
        )
        for _ in range(2):
            if result.changed or not self.resolver.misses:
                break
            await self.resolver.fill()
            result = ipvsadm.run(
                self.table, argv, stdin=stdin, now=self.clock(), resolver=self.resolver, prog=prog
            )
        self.resolver.misses.clear()
        if result.changed:
            self._request_converge()
            if self.converger is not None and self.programmed:
                await self.converger.settle()
        return {
            "exit_code": result.exit_code,
            "stdout": result.stdout,
            "stderr": result.stderr,
            "changed": result.changed,
        }

    async def fresh(self: Lvsd) -> None:
        """Counters and connections as of now (a data plane in another process reports on
        refresh only); at most one refresh per FRESH_ENOUGH seconds."""
        now = self.clock()
        if now - self._last_refresh >= FRESH_ENOUGH:
            await self._refresh(now)

    async def followed(self: Lvsd) -> None:
        """Wait until the data plane has what the table says (after an edit)."""
        if self.converger is not None and self.programmed:
            await self.converger.idle()

    async def start_drain(
        self: Lvsd, state: ServiceState, slot: ServerSlot, seconds: float | None
    ) -> None:
        slot.start_drain(self.clock(), seconds, "operator")
        until = (
            "when its connections end"
            if seconds is None
            else f"when its connections end, at most {seconds:g} s"
        )
        self.log.info(
            "draining real server %s (%s:%d): weight 0, out of the table %s",
            slot.label,
            *slot.ident,
            until,
        )
        self._sync(state, slot)
        self._judge_sorry(state)
        await self.followed()

    async def stop_drain(self: Lvsd, state: ServiceState, slot: ServerSlot) -> None:
        if not (slot.draining or slot.drained):
            return
        slot.stop_drain()
        self.log.info("real server %s (%s:%d) is no longer drained", slot.label, *slot.ident)
        self._sync(state, slot)
        self._judge_sorry(state)
        await self.followed()

    def zero(self: Lvsd, key: ServiceKey | None) -> None:
        self.table.zero(key)

    def now(self: Lvsd) -> float:
        return self.clock()
