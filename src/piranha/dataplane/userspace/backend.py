"""``UserspaceBackend``: the Backend contract over the proxy engine, in-process or in a worker.

Two ways to run, one engine:

* **in lvsd's process** (``use_uvloop`` off, or ``userspace.in_process``):
  the engine serves from lvsd's own event loop and schedules straight into
  lvsd's table, so counters, ActiveConn/InActConn and ``lvsadm -L -n -c``
  are live.
* **in a worker process** (``use_uvloop`` on): lvsd's loop must stay the
  stdlib loop (pyroute2 breaks on uvloop), so the engine runs in a child
  process on uvloop, with its own copy of the table that ``converge``
  keeps in step; ``refresh`` brings counters, connection counts and the
  connection entries back into lvsd's table (so they are as fresh as the
  last refresh).  The worker also keeps the data plane off lvsd's core
  and out of its pauses.  If it dies it is restarted and re-programmed.

``BackendOptions.workers`` above 1 is not honoured: faithful scheduling
(one rr cursor, least-connection counts over all connections, persistence
templates) needs one decision point, and on the machines measured a
second worker process did not pay for itself — see
docs/dataplane-userspace.md.
"""

from __future__ import annotations

import importlib.util
import logging

from piranha.table.model import VirtualTable

from ..base import Backend, BackendError, BackendOptions
from .engine import ProxyEngine
from .settings import ProxySettings


class UserspaceBackend(Backend):
    name = "userspace"

    def __init__(
        self,
        table: VirtualTable,
        options: BackendOptions | None = None,
        *,
        log: logging.Logger | None = None,
    ) -> None:
        super().__init__(table, options, log=log)
        self.settings = ProxySettings.from_options(self.options)
        self._engine: ProxyEngine | None = None
        self._worker = None  # WorkerClient when the engine runs in a child process

    @classmethod
    def unavailable_reason(cls) -> str | None:
        return None  # needs nothing: no root, no kernel module

    async def start(self) -> None:
        if self.options.workers > 1:
            self.log.warning(
                "userspace data plane: workers = %d not honoured, running one proxy process "
                "(faithful scheduling needs a single decision point)",
                self.options.workers,
            )
        if self.settings.use_uvloop and not self.settings.in_process:
            if importlib.util.find_spec("uvloop") is None:
                self.log.warning(
                    "uvloop is not installed (pip install 'piranha[fast]'); "
                    "the userspace data plane runs in lvsd's event loop"
                )
            else:
                from .worker import WorkerClient

                self._worker = WorkerClient(self.table, self.settings, self.log)
                await self._worker.start()
                return
        self._engine = ProxyEngine(self.table, self.settings, log=self.log)
        await self._engine.start()

    async def converge(self) -> None:
        if self._worker is not None:
            failed = await self._worker.converge()
        else:
            assert self._engine is not None, "converge() before start()"
            failed = await self._engine.converge()
        if failed:
            raise BackendError(failed)

    async def refresh(self, now: float) -> None:
        if self._worker is not None:
            await self._worker.refresh()
        elif self._engine is not None:
            self._engine.housekeeping()

    async def stop(self) -> None:
        if self._worker is not None:
            await self._worker.stop()
            self._worker = None
        if self._engine is not None:
            await self._engine.close()
            self._engine = None

    def counters(self) -> dict[str, int]:
        """Refusals and failures so far (no_destination, connect_failed, expired, udp_*)."""
        if self._worker is not None:
            return dict(self._worker.counters)
        if self._engine is not None:
            return self._engine.counters.as_dict()
        return {}

    def describe(self) -> str:
        if self._worker is not None:
            return f"userspace (worker process {self._worker.pid}, {self._worker.loop_name})"
        return "userspace (in lvsd's event loop)"
