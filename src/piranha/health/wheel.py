"""A coarse timer wheel for thousands of monitors on one event loop.

Every monitor needs one timer per check.  With 10,000 monitors that is
5,000 asyncio timers a second, each pushed into and popped from the
loop's heap (Python-level comparisons, ~30 per timer at this size).  The
wheel rounds deadlines *up* to the next ``RESOLUTION`` boundary and keeps
one loop timer per occupied slot, so the loop's heap holds a few hundred
entries and each monitor timer costs a list append.  Rounding up means a
timer never fires early (a check is never cut short); it may fire up to
``RESOLUTION`` late.
"""

from __future__ import annotations

import asyncio
import math
import weakref
from collections.abc import Callable

RESOLUTION = 0.005  # seconds
# Callbacks run per turn of the event loop; the rest wait one turn, so that
# sockets that became ready are served between batches of new checks (an
# overloaded loop then runs late, instead of starving check replies).
CHUNK = 64


class WheelTimer:
    """A scheduled callback; ``cancel()`` before it fires to drop it."""

    __slots__ = ("callback", "cancelled")

    def __init__(self, callback: Callable[[], None]) -> None:
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class TimerWheel:
    def __init__(self, loop: asyncio.AbstractEventLoop, resolution: float = RESOLUTION) -> None:
        self._loop = loop
        self._resolution = resolution
        self._slots: dict[int, list[WheelTimer]] = {}

    def call_later(self, delay: float, callback: Callable[[], None]) -> WheelTimer:
        return self.call_at(self._loop.time() + max(0.0, delay), callback)

    def call_at(self, when: float, callback: Callable[[], None]) -> WheelTimer:
        timer = WheelTimer(callback)
        slot = math.ceil(when / self._resolution)
        entries = self._slots.get(slot)
        if entries is None:
            entries = self._slots[slot] = []
            self._loop.call_at(slot * self._resolution, self._fire, slot)
        entries.append(timer)
        return timer

    def _fire(self, slot: int) -> None:
        self._run(self._slots.pop(slot, []), 0)

    def _run(self, timers: list[WheelTimer], start: int) -> None:
        end = min(len(timers), start + CHUNK)
        for timer in timers[start:end]:
            if not timer.cancelled:
                timer.cancelled = True  # fired: a later cancel() is a no-op
                try:
                    timer.callback()
                except Exception as exc:  # one bad callback must not starve the others
                    self._loop.call_exception_handler(
                        {"message": "timer wheel callback failed", "exception": exc}
                    )
        if end < len(timers):
            self._loop.call_soon(self._run, timers, end)


_PER_LOOP: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, TimerWheel] = (
    weakref.WeakKeyDictionary()
)


def wheel(loop: asyncio.AbstractEventLoop) -> TimerWheel:
    found = _PER_LOOP.get(loop)
    if found is None:
        found = _PER_LOOP[loop] = TimerWheel(loop)
    return found
