"""Bounds on what checks may hold at once: sockets and child processes.

Thousands of monitors share one process.  Normally only a handful of
checks are in flight (they are spread over the interval), but when many
real servers hang at once every check holds its socket until its timeout.
A per-event-loop pool of slots caps the sockets (below the file-descriptor
limit, leaving room for the daemon's own files and the data plane), and a
smaller one caps ``send_program``/load-monitor children.  A check's timeout
starts once it holds its slot, so waiting for a slot makes a check late
(visible as lateness), never falsely failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import weakref
from collections import deque
from collections.abc import AsyncIterator, Callable

# File descriptors kept free for everything that is not a check.
RESERVED_FDS = 256
MAX_SOCKET_SLOTS = 16384
PROGRAM_SLOTS = max(8, 8 * (os.cpu_count() or 1))


def socket_slots() -> int:
    """How many checks may hold a socket at once, from the current fd limit."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft == resource.RLIM_INFINITY:
        return MAX_SOCKET_SLOTS
    return max(16, min(MAX_SOCKET_SLOTS, (soft - RESERVED_FDS) * 3 // 4))


class Slots:
    """A counting limit usable from callbacks (``request``) and coroutines (``hold``).

    Cheaper than asyncio.Semaphore on the hot path: taking a free slot is
    a decrement, no coroutine.  Waiters are served in order.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.free = size
        self._waiting: deque[Callable[[], bool]] = deque()

    def request(self, start: Callable[[], bool]) -> None:
        """Call ``start()`` with a slot taken, now or when one frees up.

        ``start`` returns False if it no longer wants the slot (its check
        was cancelled while waiting); the slot then goes to the next waiter.
        """
        if self.free > 0:
            self.free -= 1
            if not start():
                self.release()
        else:
            self._waiting.append(start)

    def release(self) -> None:
        while self._waiting:
            if self._waiting.popleft()():
                return  # handed over
        self.free += 1

    @contextlib.asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        """``async with slots.hold():`` for coroutine checks."""
        loop = asyncio.get_running_loop()
        got: asyncio.Future[None] = loop.create_future()

        def start() -> bool:
            if got.done():  # the waiter was cancelled
                return False
            got.set_result(None)
            return True

        self.request(start)
        try:
            await got
        except asyncio.CancelledError:
            if got.done() and not got.cancelled():
                self.release()  # it had been handed a slot
            got.cancel()
            raise
        try:
            yield
        finally:
            self.release()


class Limits:
    """The slot pools of one event loop."""

    def __init__(self) -> None:
        self.sockets = Slots(socket_slots())
        self.programs = Slots(PROGRAM_SLOTS)


# Pools belong to one loop; tests and tools run several loops in turn.
_PER_LOOP: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Limits] = (
    weakref.WeakKeyDictionary()
)


def limits(loop: asyncio.AbstractEventLoop | None = None) -> Limits:
    loop = loop or asyncio.get_running_loop()
    found = _PER_LOOP.get(loop)
    if found is None:
        found = _PER_LOOP[loop] = Limits()
    return found
