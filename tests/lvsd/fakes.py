"""An lvsd in the test's own event loop: a recording data plane and hand-driven health checks.

The real `Lvsd` runs with everything real except the two things a unit
test must drive itself: the data plane (``FakeBackend`` counts and
snapshots converges, and can be told to fail a service) and the health
monitors (``FakeMonitor`` reports up/down when the test says so).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from piranha.config import Environment, parse
from piranha.dataplane.base import Backend, BackendError, BackendOptions
from piranha.lvsd import preflight
from piranha.lvsd.supervisor import Lvsd
from piranha.table.model import ServiceKey, VirtualTable

from .cfg import HOSTS, resolve


class FakeBackend(Backend):
    name = "fake"

    def __init__(
        self,
        table: VirtualTable,
        options: BackendOptions | None = None,
        *,
        log: logging.Logger | None = None,
    ) -> None:
        super().__init__(table, options, log=log)
        self.started = False
        self.stopped = False
        self.converges = 0
        self.refreshes = 0
        self.fail: dict[ServiceKey, str] = {}
        self.programmed: list[dict[ServiceKey, dict[tuple[str, int], int]]] = []

    @classmethod
    def unavailable_reason(cls) -> str | None:
        return None

    async def start(self) -> None:
        self.started = True

    async def converge(self) -> None:
        self.converges += 1
        self.programmed.append(
            {
                key: {(d.address, d.port): d.weight for d in svc.destinations}
                for key, svc in self.table.services.items()
            }
        )
        failed = {k: why for k, why in self.fail.items() if k in self.table.services}
        if failed:
            raise BackendError(failed)

    async def refresh(self, now: float) -> None:
        self.refreshes += 1

    async def stop(self) -> None:
        self.stopped = True


class FakeMonitor:
    """Stands in for piranha.health.Monitor; the test calls up()/down()."""

    def __init__(self, spec: Any, actions: Any, log: logging.Logger) -> None:
        self.spec = spec
        self.actions = actions
        self.state = "unknown"
        self.forced: str | None = None
        self.reconfigured: list[Any] = []
        self.crash: BaseException | None = None
        self.cancelled = False

    async def run(self) -> None:
        if self.crash is not None:
            raise self.crash
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise

    def force(self, mode: str) -> None:
        self.forced = None if mode == "resume" else mode

    def reconfigure(self, spec: Any) -> None:
        self.reconfigured.append(spec)
        self.spec = spec

    def status(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "forced": self.forced,
            "since": None,
            "last_check": None,
            "last_error": None,
            "checks": 0,
            "failures": 0,
        }

    async def up(self, weight: int | None = None) -> None:
        self.state = "up"
        await self.actions.admit(self.spec.weight if weight is None else weight)

    async def down(self) -> None:
        self.state = "down"
        await self.actions.withdraw(self.spec.quiesce)


class ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@dataclass
class Harness:
    lvsd: Lvsd
    path: Path
    log: ListHandler
    notes: list[str]
    monitors: list[FakeMonitor] = field(default_factory=list)
    backends: list[FakeBackend] = field(default_factory=list)

    @property
    def backend(self) -> FakeBackend:
        return self.backends[-1]

    def monitor(self, label: str) -> FakeMonitor:
        """The newest monitor of ``virtual/server``."""
        for m in reversed(self.monitors):
            if m.spec.label == label:
                return m
        raise KeyError(label)

    def weights(self, key: ServiceKey) -> dict[tuple[str, int], int]:
        svc = self.lvsd.table.services[key]
        return {(d.address, d.port): d.weight for d in svc.destinations}

    def write(self, text: str) -> None:
        self.path.write_text(text)

    async def settle(self) -> None:
        for _ in range(3):
            await asyncio.sleep(0)
        if self.lvsd.converger is not None:
            await self.lvsd.converger.idle()


GOOD_MACHINE = preflight.Facts(
    ip_forward=lambda: True, is_local=lambda a: True, route_device=lambda a: "eth1"
)


@contextlib.asynccontextmanager
async def running(
    tmp_path: Path, text: str, *, standby: bool = False, start: bool = True
) -> AsyncIterator[Harness]:
    path = tmp_path / "lvs.cf"
    path.write_text(text)
    env = Environment.hermetic(HOSTS)
    config = parse(text, str(path), env)
    logger = logging.getLogger(f"test.lvsd.{id(path)}")
    logger.handlers.clear()
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    handler = ListHandler()
    logger.addHandler(handler)
    notes: list[str] = []
    harness: Harness

    def backend_factory(
        table: VirtualTable, options: BackendOptions, log: logging.Logger
    ) -> Backend:
        backend = FakeBackend(table, options, log=log)
        harness.backends.append(backend)
        return backend

    def monitor_factory(spec: Any, actions: Any, log: logging.Logger) -> FakeMonitor:
        monitor = FakeMonitor(spec, actions, log)
        harness.monitors.append(monitor)
        return monitor

    lvsd = Lvsd(
        config,
        path,
        log=logger,
        standby=standby,
        resolve_host=resolve,
        environment=env,
        facts=GOOD_MACHINE,
        backend_factory=backend_factory,
        backend_name="fake",
        monitor_factory=monitor_factory,
        notify=notes.append,
        socket_path=tmp_path / "lvsd.sock",
    )
    harness = Harness(lvsd, path, handler, notes)
    try:
        if start:
            assert await lvsd.start(), handler.lines
        yield harness
    finally:
        await lvsd.shutdown()
