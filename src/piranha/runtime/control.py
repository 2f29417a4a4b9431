"""The control socket: JSON lines over an owner-only Unix stream socket.

lvsd and pulse each serve one (``<run dir>/lvsd.sock``, ``pulse.sock``);
``lvsadm``, standalone ``nanny``, the GUI and the metrics endpoint are its
clients.  One request per line, one response line per request, in order::

    -> {"id": 1, "op": "table"}
    <- {"id": 1, "ok": true, "result": {...}}
    <- {"id": 2, "ok": false, "error": "No such service"}

Access control is the file system (socket 0600 in a 0700 directory) plus a
peer-credential check: only root and the daemon's own user are served.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import os
import socket
import struct
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

MAX_LINE = 4 << 20

Handler = Callable[[dict[str, Any]], Any | Awaitable[Any]]


class ControlError(Exception):
    """The daemon refused a request; ``str()`` is its message for the user."""


class NotRunning(ControlError):
    """Nothing is listening on the control socket."""

    def __init__(self, path: os.PathLike[str] | str, why: str) -> None:
        super().__init__(f"no daemon listening on {path} ({why})")
        self.path = Path(path)


def _peer_uid(sock: socket.socket) -> int | None:
    try:
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except OSError:
        return None
    _pid, uid, _gid = struct.unpack("3i", creds)
    return uid


class ControlServer:
    """Serve ``handlers`` (op name -> callable taking the request dict)."""

    def __init__(
        self,
        path: os.PathLike[str] | str,
        handlers: Mapping[str, Handler],
        *,
        log: logging.Logger | None = None,
    ) -> None:
        self.path = Path(path)
        self.handlers = dict(handlers)
        self.log = log or logging.getLogger("piranha.control")
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if self.path.exists() or self.path.is_symlink():
            if _is_listening(self.path):
                raise RuntimeError(f"another daemon is already serving {self.path}")
            self.path.unlink()
        old_umask = os.umask(0o177)
        try:
            self._server = await asyncio.start_unix_server(
                self._serve, path=str(self.path), limit=MAX_LINE
            )
        finally:
            os.umask(old_umask)
        os.chmod(self.path, 0o600)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        uid = _peer_uid(sock) if sock is not None else None
        try:
            if uid is not None and uid not in (0, os.geteuid()):
                await self._send(writer, {"id": None, "ok": False, "error": "permission denied"})
                return
            while True:
                try:
                    line = await reader.readline()
                except (asyncio.LimitOverrunError, ValueError):
                    await self._send(writer, {"id": None, "ok": False, "error": "request too long"})
                    return
                if not line:
                    return
                await self._send(writer, await self._dispatch(line))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _dispatch(self, line: bytes) -> dict[str, Any]:
        try:
            request = json.loads(line)
            if not isinstance(request, dict):
                raise ValueError("a request is a JSON object")
        except ValueError as exc:
            return {"id": None, "ok": False, "error": f"bad request: {exc}"}
        rid = request.get("id")
        op = request.get("op")
        handler = self.handlers.get(op) if isinstance(op, str) else None
        if handler is None:
            known = ", ".join(sorted(self.handlers))
            return {"id": rid, "ok": False, "error": f"unknown op {op!r} (known: {known})"}
        try:
            result = handler(request)
            if inspect.isawaitable(result):
                result = await result
        except ControlError as exc:
            return {"id": rid, "ok": False, "error": str(exc)}
        except Exception as exc:  # a bug must not take the daemon down
            self.log.exception("control request %r failed", op)
            return {"id": rid, "ok": False, "error": f"internal error: {exc}"}
        return {"id": rid, "ok": True, "result": result}

    @staticmethod
    async def _send(writer: asyncio.StreamWriter, message: dict[str, Any]) -> None:
        writer.write(json.dumps(message, separators=(",", ":")).encode() + b"\n")
        await writer.drain()


def _is_listening(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


class ControlClient:
    """Blocking client; one connection, many calls."""

    def __init__(self, path: os.PathLike[str] | str, *, timeout: float = 10.0) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._buf = b""
        self._next_id = 0

    def _connect(self) -> socket.socket:
        if self._sock is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
            sock.settimeout(self.timeout)
            try:
                sock.connect(str(self.path))
            except FileNotFoundError:
                sock.close()
                raise NotRunning(self.path, "no such socket") from None
            except ConnectionRefusedError:
                sock.close()
                raise NotRunning(self.path, "connection refused") from None
            except PermissionError:
                sock.close()
                raise ControlError(f"permission denied on {self.path} (run as root?)") from None
            self._sock = sock
        return self._sock

    def call(self, op: str, **params: Any) -> Any:
        sock = self._connect()
        self._next_id += 1
        request = {"id": self._next_id, "op": op, **params}
        try:
            sock.sendall(json.dumps(request, separators=(",", ":")).encode() + b"\n")
            while b"\n" not in self._buf:
                chunk = sock.recv(65536)
                if not chunk:
                    raise ControlError(f"{self.path}: daemon closed the connection")
                self._buf += chunk
                if len(self._buf) > MAX_LINE:
                    raise ControlError(f"{self.path}: response too long")
        except TimeoutError:
            self.close()
            raise ControlError(f"{self.path}: no answer within {self.timeout:g} s") from None
        except OSError as exc:
            self.close()
            raise ControlError(f"{self.path}: {exc.strerror or exc}") from None
        line, self._buf = self._buf.split(b"\n", 1)
        response = json.loads(line)
        if not response.get("ok"):
            raise ControlError(str(response.get("error", "unknown error")))
        return response.get("result")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
            self._buf = b""

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


async def acall(
    path: os.PathLike[str] | str, op: str, *, timeout: float = 10.0, **params: Any
) -> Any:
    """One request over a fresh connection, for asyncio callers (GUI, pulse)."""
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_unix_connection(str(path), limit=MAX_LINE), timeout
        )
    except FileNotFoundError:
        raise NotRunning(path, "no such socket") from None
    except ConnectionRefusedError:
        raise NotRunning(path, "connection refused") from None
    except PermissionError:
        raise ControlError(f"permission denied on {path} (run as root?)") from None
    try:
        writer.write(json.dumps({"id": 1, "op": op, **params}).encode() + b"\n")
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), timeout)
    except TimeoutError:
        raise ControlError(f"{path}: no answer within {timeout:g} s") from None
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    if not line:
        raise ControlError(f"{path}: daemon closed the connection")
    response = json.loads(line)
    if not response.get("ok"):
        raise ControlError(str(response.get("error", "unknown error")))
    return response.get("result")
