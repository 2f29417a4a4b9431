"""A recording Actions and a log capture for Monitor tests."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field


@dataclass
class Event:
    at: float  # time.monotonic()
    action: str  # admit | set_weight | withdraw
    value: int | bool


@dataclass
class RecordingActions:
    events: list[Event] = field(default_factory=list)
    fail_next: int = 0  # raise on the next N calls

    async def _record(self, action: str, value) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise RuntimeError("lvsd is not answering")
        self.events.append(Event(time.monotonic(), action, value))

    async def admit(self, weight: int) -> None:
        await self._record("admit", weight)

    async def set_weight(self, weight: int) -> None:
        await self._record("set_weight", weight)

    async def withdraw(self, quiesce: bool) -> None:
        await self._record("withdraw", quiesce)

    def actions(self) -> list[tuple[str, int | bool]]:
        return [(e.action, e.value) for e in self.events]

    async def wait_for(self, count: int, timeout: float = 10.0) -> None:
        """Until `count` events are recorded (a generous safety limit, not a measurement)."""
        async with asyncio.timeout(timeout):
            while len(self.events) < count:
                await asyncio.sleep(0.01)


@dataclass
class Check:
    scheduled: float
    started: float
    finished: float
    ok: bool


class CheckLog:
    """An on_check hook that keeps every check."""

    def __init__(self) -> None:
        self.checks: list[Check] = []

    def __call__(self, scheduled: float, started: float, finished: float, ok: bool) -> None:
        self.checks.append(Check(scheduled, started, finished, ok))


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def capture(name: str) -> tuple[logging.Logger, Lines]:
    log = logging.getLogger(f"test.health.{name}")
    log.handlers.clear()
    log.propagate = False
    log.setLevel(logging.DEBUG)
    lines = Lines()
    log.addHandler(lines)
    return log, lines
