"""pulse's own sd_notify socket: how lvsd tells pulse "the table is programmed".

The RHEL pulse waited on a POSIX semaphore; we use the systemd protocol
instead (lvsd sends ``READY=1`` to ``$NOTIFY_SOCKET``), so the same lvsd
works under systemd and under pulse.  Messages are accepted only from the
process pulse is waiting on: the kernel tells us the sender's pid
(SO_PASSCRED), so nothing else on the machine can fake readiness.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
from pathlib import Path

_UCRED = struct.Struct("3i")
SEEN_KEPT = 16


class NotifySocket:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._sock: socket.socket | None = None
        self._waiters: dict[int, list[tuple[str, asyncio.Future[bool]]]] = {}
        # what recent senders said: a child may be ready before we start waiting for it
        self._seen: dict[int, set[str]] = {}

    def open(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        old = os.umask(0o177)
        try:
            sock.bind(str(self.path))
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        finally:
            os.umask(old)
        self._sock = sock
        asyncio.get_running_loop().add_reader(sock.fileno(), self._readable)

    def close(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        for waiters in self._waiters.values():
            for _, fut in waiters:
                if not fut.done():
                    fut.set_result(False)
        self._waiters.clear()

    def _readable(self) -> None:
        assert self._sock is not None
        while True:
            try:
                data, ancdata, _flags, _addr = self._sock.recvmsg(4096, socket.CMSG_SPACE(12))
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            pid = None
            for level, kind, payload in ancdata:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    pid = _UCRED.unpack(payload[: _UCRED.size])[0]
            if pid is None:
                continue
            lines = data.decode(errors="replace").splitlines()
            self._seen.setdefault(pid, set()).update(lines)
            while len(self._seen) > SEEN_KEPT:
                del self._seen[next(iter(self._seen))]
            for state, fut in list(self._waiters.get(pid, [])):
                if state in lines and not fut.done():
                    fut.set_result(True)

    def forget(self, pid: int) -> None:
        """``pid`` has exited: what it said must not count for a later process with its pid."""
        self._seen.pop(pid, None)

    def expect(self, pid: int, state: str = "READY=1") -> asyncio.Future[bool]:
        """A future that becomes True when ``pid`` sends ``state`` (False if cancelled)."""
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        if state in self._seen.get(pid, ()):
            fut.set_result(True)
            return fut
        self._waiters.setdefault(pid, []).append((state, fut))

        def forget(_f: asyncio.Future[bool]) -> None:
            entries = self._waiters.get(pid, [])
            entries[:] = [e for e in entries if e[1] is not fut]
            if not entries:
                self._waiters.pop(pid, None)

        fut.add_done_callback(forget)
        return fut
