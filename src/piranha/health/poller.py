"""One epoll for all check sockets, nested in the event loop's own.

asyncio's ``add_reader``/``add_writer`` cost about 20 µs of Python per
socket per registration (selector keys, handles, a hop through the ready
queue) — more than the rest of a TCP check together.  Check sockets are
therefore registered with a private epoll whose file descriptor is itself
registered with the loop: when any check socket is ready, the loop calls
`Poller._dispatch`, which calls the sockets' callbacks directly.  Moving a
socket from "writable" to "readable" interest is one ``epoll_ctl(MOD)``.

Where there is no epoll (not Linux), `LoopPoller` offers the same calls on
top of the loop's own ``add_reader``/``add_writer``.
"""

from __future__ import annotations

import asyncio
import select
import weakref
from collections.abc import Callable

READ = getattr(select, "EPOLLIN", 1)
WRITE = getattr(select, "EPOLLOUT", 4)
BATCH = 1024  # events taken per wake-up

Callback = Callable[[], None]


class Poller:
    """Level-triggered interest in READ or WRITE on many sockets."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._epoll = select.epoll()
        self._callbacks: dict[int, Callback] = {}
        self._events: dict[int, int] = {}
        loop.add_reader(self._epoll.fileno(), self._dispatch)

    def watch(self, fd: int, events: int, callback: Callback) -> None:
        """Call ``callback()`` while `fd` is ready for `events` (READ or WRITE), or has an error."""
        old = self._events.get(fd)
        if old is None:
            self._epoll.register(fd, events)
        elif old != events:
            self._epoll.modify(fd, events)
        self._events[fd] = events
        self._callbacks[fd] = callback

    def unwatch(self, fd: int) -> None:
        if self._events.pop(fd, None) is not None:
            del self._callbacks[fd]
            self._epoll.unregister(fd)

    def _dispatch(self) -> None:
        for fd, _ in self._epoll.poll(0, BATCH):
            callback = self._callbacks.get(fd)
            if callback is not None:
                callback()


class LoopPoller:
    """The same interface on the loop's own readers and writers (no epoll)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._events: dict[int, int] = {}

    def watch(self, fd: int, events: int, callback: Callback) -> None:
        self.unwatch(fd)
        if events == READ:
            self._loop.add_reader(fd, callback)
        else:
            self._loop.add_writer(fd, callback)
        self._events[fd] = events

    def unwatch(self, fd: int) -> None:
        events = self._events.pop(fd, None)
        if events == READ:
            self._loop.remove_reader(fd)
        elif events is not None:
            self._loop.remove_writer(fd)


_PER_LOOP: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Poller | LoopPoller] = (
    weakref.WeakKeyDictionary()
)


def poller(loop: asyncio.AbstractEventLoop) -> Poller | LoopPoller:
    found = _PER_LOOP.get(loop)
    if found is None:
        found = _PER_LOOP[loop] = Poller(loop) if hasattr(select, "epoll") else LoopPoller(loop)
    return found
