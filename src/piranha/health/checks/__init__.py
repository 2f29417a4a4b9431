"""The checks: TCP and UDP (callback-driven), TCP over TLS, external program.

``start_check(loop, probe, address, port, timeout, done)`` starts one check
and returns a handle with ``cancel()``; ``done(result)`` is called once
with the CheckResult (possibly before start_check returns).  A failed check
never raises.  ``run_probe`` is the same as a coroutine.

Plain TCP/UDP checks of an IPv4 address — the bulk — run on event-loop
callbacks and take a slot of the per-loop socket pool (piranha.health.limits);
TLS checks, external programs and host names that need resolving run as
tasks.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from typing import Protocol

from ..limits import limits
from ..probe import DATAGRAM, PROGRAM, Probe
from .program import program_check
from .result import CheckResult
from .sockets import SocketCheck
from .tls import tls_check

__all__ = ["CheckResult", "InFlight", "run_probe", "start_check"]

Done = Callable[[CheckResult], None]


class InFlight(Protocol):
    """A running check."""

    def cancel(self) -> None:
        """Stop it; ``done`` will not be called."""

    def expire(self) -> bool:
        """The owner's deadline passed; True if the check finished (timed out) now."""


class _Finished:
    """The handle of a check that completed synchronously."""

    def cancel(self) -> None:
        pass

    def expire(self) -> bool:
        return True


class _TaskCheck:
    """A check running as a task; it keeps its own timeout and ends by itself."""

    __slots__ = ("task",)

    def __init__(self, task: asyncio.Task[CheckResult]) -> None:
        self.task = task

    def cancel(self) -> None:
        self.task.cancel()

    def expire(self) -> bool:
        return self.task.done()


def _is_ipv4(address: str) -> bool:
    try:
        return socket.inet_pton(socket.AF_INET, address) is not None
    except OSError:
        return False


def start_check(
    loop: asyncio.AbstractEventLoop,
    probe: Probe,
    address: str,
    port: int,
    timeout: float,
    done: Done,
    *,
    own_timer: bool = True,
) -> InFlight:
    """Start one check; see the module docstring.

    ``own_timer`` False: the caller keeps the deadline and calls
    ``expire()`` on the handle when ``timeout`` has passed.
    """
    if probe.error is not None:
        done(CheckResult.down(probe.error))
        return _Finished()
    if probe.kind == PROGRAM or probe.tls or not _is_ipv4(address):
        task = loop.create_task(_coroutine_check(probe, address, port, timeout))
        task.add_done_callback(lambda t: _task_done(t, done))
        return _TaskCheck(task)
    slots = limits(loop).sockets
    check = SocketCheck(
        loop, probe, address, port, timeout, done, on_release=slots.release, own_timer=own_timer
    )
    slots.request(check.start)
    return check


def _task_done(task: asyncio.Task[CheckResult], done: Done) -> None:
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:  # a bug must not stop the monitor: count it as a failed check
        done(CheckResult.down(f"check failed: {exc!r}"))
    else:
        done(task.result())


async def _coroutine_check(probe: Probe, address: str, port: int, timeout: float) -> CheckResult:
    if probe.kind == PROGRAM:
        return await program_check(probe, address, port, timeout)
    if probe.tls:
        async with limits().sockets.hold():
            return await tls_check(probe, address, port, timeout)
    # A host name: resolve it (within the check's time), then probe the address.
    loop = asyncio.get_running_loop()
    begun = time.monotonic()
    kind = socket.SOCK_DGRAM if probe.kind == DATAGRAM else socket.SOCK_STREAM
    try:
        async with asyncio.timeout(timeout):
            infos = await loop.getaddrinfo(address, port, family=socket.AF_INET, type=kind)
    except TimeoutError:
        return CheckResult.down(f"CONNECT to {address}:{port} timed out (resolving {address})")
    except OSError as exc:
        return CheckResult.down(
            f"CONNECT to {address}:{port} failed: cannot resolve {address}: {exc}"
        )
    ip = str(infos[0][4][0])
    remaining = max(0.001, timeout - (time.monotonic() - begun))
    return await run_probe(probe, ip, port, remaining)


async def run_probe(probe: Probe, address: str, port: int, timeout: float) -> CheckResult:
    """One check as a coroutine."""
    loop = asyncio.get_running_loop()
    result: asyncio.Future[CheckResult] = loop.create_future()

    def done(r: CheckResult) -> None:
        if not result.done():
            result.set_result(r)

    inflight = start_check(loop, probe, address, port, timeout, done)
    try:
        return await result
    finally:
        if not result.done():
            inflight.cancel()
