"""Coalesced convergence: many table changes in one event-loop turn, one ``converge()``.

Health checks, drains, reloads and lvsadm all edit the table and then
call :meth:`Converger.request`.  The first request schedules one task; it
runs after the current turn of the event loop, so every change made in
that turn is programmed by a single ``backend.converge()``.  Requests
arriving while a converge is in flight cause exactly one more round.
Never two converges at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from piranha.dataplane.base import BackendError

ConvergeFn = Callable[[], Awaitable[None]]


class Converger:
    def __init__(
        self,
        converge: ConvergeFn,
        *,
        on_error: Callable[[BackendError], None],
        on_success: Callable[[], None] | None = None,
        log: logging.Logger,
    ) -> None:
        self._converge = converge
        self._on_error = on_error
        self._on_success = on_success
        self._log = log
        self._dirty = False
        self._task: asyncio.Task[None] | None = None
        self.rounds = 0  # converges run so far (for tests and status)

    def request(self) -> None:
        """Ask for a converge soon; cheap, may be called any number of times per turn."""
        self._dirty = True
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def settle(self) -> None:
        """Converge now (coalescing with pending requests) and wait until it is done."""
        self.request()
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    async def idle(self) -> None:
        """Wait until no converge is pending or running (requests nothing itself)."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    async def _run(self) -> None:
        await asyncio.sleep(0)  # let the rest of this turn make its changes too
        while self._dirty:
            self._dirty = False
            self.rounds += 1
            try:
                await self._converge()
            except BackendError as exc:
                self._on_error(exc)
            except asyncio.CancelledError:
                raise
            except Exception:  # a backend bug must not take lvsd down
                self._log.exception("programming the data plane failed")
            else:
                if self._on_success is not None:
                    self._on_success()

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
