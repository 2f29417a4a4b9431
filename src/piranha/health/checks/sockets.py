"""The TCP and UDP probes, driven by event-loop callbacks.

A check is the hot path of a director with thousands of real servers, so
these do not use a task, a coroutine or a future per check: the socket is
registered with the event loop and each readiness callback moves the check
on (connect, send, read until the reply is judged).  One deadline covers
the whole check (connect + send + read = ``timeout``); the original gave
the connect and the read each a full ``timeout``.

TCP: connect; with ``send`` write it; with ``expect`` read until the reply
is decided (piranha.health.expect), else the connect alone means up.

UDP: one datagram out (``send``, or an empty datagram), a reply back within
the timeout.  ICMP port unreachable (ECONNREFUSED on the connected socket)
means down.  With ``expect`` the replies are judged as for TCP; without it
any datagram back means up (the original nanny crashed on that case).

The address must be an IPv4 literal; names are resolved by the caller.
"""

from __future__ import annotations

import asyncio
import errno
import select
import socket
from collections.abc import Callable

from ..expect import Verdict
from ..poller import READ as WANT_READ
from ..poller import WRITE as WANT_WRITE
from ..poller import poller as loop_poller
from ..probe import DATAGRAM, Probe
from .messages import CONNECT, READ, WRITE, failed, judged, timed_out
from .result import CheckResult

READ_CHUNK = 65536
MAX_DATAGRAM = 65535
_IN_PROGRESS = (0, errno.EINPROGRESS, errno.EAGAIN, errno.EALREADY)


class SocketCheck:
    """One check of ``address:port``; calls ``done(result)`` exactly once (unless cancelled).

    With ``own_timer`` False the check keeps no timer of its own: its
    owner (a Monitor, whose period timer is the deadline) calls
    ``expire()`` when the time is up.
    """

    __slots__ = (
        "_began",
        "_data",
        "_done",
        "_finished",
        "_holding",
        "_loop",
        "_on_release",
        "_own_timer",
        "_phase",
        "_poller",
        "_probe",
        "_sent",
        "_sock",
        "_timeout",
        "_timer",
        "_udp",
        "_watched",
        "_where",
        "address",
        "port",
    )

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        probe: Probe,
        address: str,
        port: int,
        timeout: float,
        done: Callable[[CheckResult], None],
        on_release: Callable[[], None] | None = None,
        own_timer: bool = True,
    ) -> None:
        self._loop = loop
        self._probe = probe
        self.address = address
        self.port = port
        self._timeout = timeout
        self._done = done
        self._on_release = on_release
        self._udp = probe.kind == DATAGRAM
        self._where = f"{address}:{port}"
        self._sock: socket.socket | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._phase = CONNECT
        self._data = b""
        self._sent = 0
        self._poller = loop_poller(loop)
        self._watched = False  # the socket is registered with the poller
        self._finished = False
        self._holding = False  # a socket slot, from start() to the end
        self._own_timer = own_timer
        self._began: float | None = None

    # --- steps -----------------------------------------------------------------------------
    def start(self) -> bool:
        """Begin (the caller holds a socket slot); False if already cancelled."""
        if self._finished:
            return False
        self._holding = True
        loop = self._loop
        self._began = loop.time()
        if self._own_timer:
            self._timer = loop.call_later(self._timeout, self._timed_out)
        try:
            kind = socket.SOCK_DGRAM if self._udp else socket.SOCK_STREAM
            sock = self._sock = socket.socket(socket.AF_INET, kind | socket.SOCK_NONBLOCK)
            err = sock.connect_ex((self.address, self.port))
        except OSError as exc:
            self._finish(CheckResult.down(failed(CONNECT, self._where, exc)))
            return True
        if err not in _IN_PROGRESS:
            self._finish(CheckResult.down(failed(CONNECT, self._where, OSError(err, ""))))
        elif err == 0:  # UDP always; TCP when loopback completes at once
            self._connected()
        else:
            self._watch(WANT_WRITE, self._connect_done)
        return True

    def _connect_done(self) -> None:
        assert self._sock is not None
        err = self._sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            self._finish(CheckResult.down(failed(CONNECT, self._where, OSError(err, ""))))
            return
        self._connected()

    def _connected(self) -> None:
        probe = self._probe
        if probe.send or self._udp:
            self._phase = WRITE
            self._write()
        else:
            self._after_write()

    def _write(self) -> None:
        sock = self._sock
        assert sock is not None
        payload = self._probe.send or b""
        try:
            while True:
                n = sock.send(payload[self._sent :] if self._sent else payload)
                self._sent += n
                if self._sent >= len(payload):
                    break
        except (BlockingIOError, InterruptedError):
            self._watch(WANT_WRITE, self._write)
            return
        except OSError as exc:
            self._finish_error(WRITE, exc)
            return
        self._after_write()

    def _after_write(self) -> None:
        sock = self._sock
        assert sock is not None
        if self._probe.expectation is None and not self._udp:
            self._finish(CheckResult.up())
            return
        self._phase = READ
        self._watch(WANT_READ, self._readable)

    def _readable(self) -> None:
        sock = self._sock
        assert sock is not None
        try:
            chunk = sock.recv(MAX_DATAGRAM if self._udp else READ_CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._finish_error(READ, exc)
            return
        expectation = self._probe.expectation
        if expectation is None:  # UDP: any datagram back
            self._finish(CheckResult.up())
            return
        self._data += chunk
        closed = not chunk and not self._udp
        verdict = expectation.judge(self._data, closed)
        if verdict is not Verdict.MORE:
            self._finish(judged(verdict, expectation, self._where, len(self._data)))

    def _watch(self, events: int, callback: Callable[[], None]) -> None:
        assert self._sock is not None
        self._poller.watch(self._sock.fileno(), events, callback)
        self._watched = True

    def _timed_out(self) -> None:
        self._timer = None
        if self._finished:
            return
        self._last_chance()
        if not self._finished:
            self._finish(CheckResult.down(timed_out(self._phase, self._where, len(self._data))))

    def _last_chance(self) -> None:
        """Take what the kernel already has before calling it a timeout.

        A busy event loop may run the deadline before the readiness callback
        of a reply that did arrive in time; that must not count as a failure.
        """
        sock = self._sock
        if sock is None:
            return
        poller = select.poll()
        poller.register(sock.fileno(), select.POLLIN | select.POLLOUT)
        ready = 0
        for _, mask in poller.poll(0):
            ready |= mask
        if self._phase == CONNECT and ready & (select.POLLOUT | select.POLLERR | select.POLLHUP):
            self._connect_done()
        elif self._phase == WRITE and ready & select.POLLOUT:
            self._write()
        if not self._finished and self._phase == READ:
            self._readable()  # non-blocking: a reply that is there gets judged

    def expire(self) -> bool:
        """The owner's deadline passed: finish as timed out, if this check's time is up.

        True when the check is finished now.  A check that started late (it
        waited for a socket slot) still gets its full timeout: it arms its
        own timer for the rest and finishes later (False).
        """
        if self._finished:
            return True
        if self._began is None:  # still waiting for a slot
            self._own_timer = True
            return False
        remaining = self._began + self._timeout - self._loop.time()
        if remaining > 0.001:
            if self._timer is None:
                self._timer = self._loop.call_later(remaining, self._timed_out)
            return False
        self._timed_out()
        return True

    def _finish_error(self, phase: str, exc: OSError) -> None:
        reason = failed(phase, self._where, exc)
        if self._udp and isinstance(exc, ConnectionRefusedError):
            reason += " (ICMP port unreachable)"
        self._finish(CheckResult.down(reason))

    # --- the end ------------------------------------------------------------------------------
    def _close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        sock = self._sock
        if sock is not None:
            fd = sock.fileno()
            if self._watched:
                self._watched = False
                self._poller.unwatch(fd)
            sock.close()
            self._sock = None
        if self._holding:
            self._holding = False
            if self._on_release is not None:
                self._on_release()

    def _finish(self, result: CheckResult) -> None:
        if self._finished:
            return
        self._finished = True
        self._close()
        self._done(result)

    def cancel(self) -> None:
        """Stop without a result (the monitor was stopped)."""
        if self._finished:
            return
        self._finished = True  # a start() still waiting for a slot will decline it
        self._close()
