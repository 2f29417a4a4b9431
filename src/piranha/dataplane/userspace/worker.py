"""lvsd's side of the proxy worker: start it, program it, read it back, restart it.

The worker (:mod:`.child`) owns the sockets and its copy of the table;
lvsd's table gets a :class:`~.sync.MirroredConnections` in place of its
connection table and is refreshed from the worker's snapshots.  When the
worker dies unexpectedly it is started again after a second (doubling up
to 30 s while it keeps dying) and re-programmed with the last table lvsd
converged to; its connections were lost with it, and the log says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import json
import logging
import os
import socket
import sys
from pathlib import Path
from typing import Any

from piranha.table.model import ServiceKey, VirtualTable

from . import ipc, sync
from .settings import ProxySettings

START_TIMEOUT = 15.0  # seconds for a worker to import and report ready
CALL_TIMEOUT = 30.0
STOP_TIMEOUT = 5.0
QUERY_TIMEOUT = 2.0  # lvsd blocks this long at most for a connection list


class WorkerError(RuntimeError):
    """The worker could not be started or did not answer."""


class WorkerClient:
    def __init__(self, table: VirtualTable, settings: ProxySettings, log: logging.Logger) -> None:
        self.table = table
        self.settings = settings
        self.log = log
        self.mirror = sync.Mirror(table, self._fetch_entries)
        self._query: socket.socket | None = None
        self.pid: int | None = None
        self.loop_name = ""
        self.counters: dict[str, int] = {}
        self._process: asyncio.subprocess.Process | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._ids = itertools.count(1)
        self._ready = asyncio.Event()
        self._stopping = False
        self._spec: dict[str, Any] | None = None
        self._restart_delay = 1.0
        self._supervisor: asyncio.Task[None] | None = None

    # -- lifecycle ----------------------------------------------------------

    async def start(self) -> None:
        self.mirror.install()
        await self._spawn()

    async def stop(self) -> None:
        self._stopping = True
        if self._supervisor is not None:
            self._supervisor.cancel()
        if self._process is not None and self._process.returncode is None:
            with contextlib.suppress(WorkerError, ConnectionError):
                await self._call("stop", timeout=STOP_TIMEOUT)
            try:
                await asyncio.wait_for(self._process.wait(), STOP_TIMEOUT)
            except TimeoutError:
                self._process.kill()
                await self._process.wait()
        if self._reader_task is not None:
            self._reader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader_task
        self.mirror.connections.replace([])
        self.mirror.connections.fetch = None
        if self._query is not None:
            self._query.close()
            self._query = None

    async def converge(self) -> dict[ServiceKey, str]:
        self._spec = sync.describe(self.table)
        try:
            failed = await self._call("converge", spec=self._spec)
        except WorkerError as exc:
            why = f"the userspace data plane worker is not running: {exc}"
            return {svc.key: why for svc in self.table.services.values()}
        return {ServiceKey(*key): why for key, why in failed.items()}

    async def refresh(self) -> None:
        try:
            snap = await self._call("snapshot")
        except WorkerError:
            return  # being restarted; the next refresh catches up
        self.counters = snap["counters"]
        self.mirror.apply(snap)

    # -- the process --------------------------------------------------------

    async def _spawn(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        query, their_query = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        fields = {f.name: getattr(self.settings, f.name) for f in dataclasses.fields(self.settings)}
        argv = [
            sys.executable, "-m", "piranha.dataplane.userspace.child",
            "--fd", str(theirs.fileno()), "--query-fd", str(their_query.fileno()),
            "--settings", json.dumps(fields), "--log-level", str(self.log.getEffectiveLevel()),
        ]
        try:
            self._process = await asyncio.create_subprocess_exec(
                *argv, pass_fds=(theirs.fileno(), their_query.fileno()),
                stdin=asyncio.subprocess.DEVNULL, env=_child_env(),
            )
        except BaseException:
            ours.close()
            query.close()
            raise
        finally:
            theirs.close()
            their_query.close()
        if self._query is not None:
            self._query.close()
        query.settimeout(QUERY_TIMEOUT)
        self._query = query
        reader, self._writer = await asyncio.open_unix_connection(sock=ours)
        self._ready.clear()
        self.pid = None
        self._reader_task = asyncio.create_task(self._read(reader))
        try:
            await asyncio.wait_for(self._ready.wait(), START_TIMEOUT)
        except TimeoutError:
            self._process.kill()
            raise WorkerError(f"the proxy worker did not start within {START_TIMEOUT:.0f} s") from None
        if self.pid is None:
            status = await self._process.wait()
            raise WorkerError(f"the proxy worker exited at start (status {status}); see the log above")

    async def _read(self, reader: asyncio.StreamReader) -> None:
        process = self._process
        started = False
        try:
            while True:
                message = await ipc.receive(reader)
                if message is None:
                    break
                kind = message[0]
                if kind == "log":
                    self.log.log(message[1], "%s", message[2])
                elif kind == "ready":
                    _, self.pid, self.loop_name = message
                    started = True
                    self._ready.set()
                elif kind in ("reply", "error"):
                    future = self._pending.pop(message[1], None)
                    if future is not None and not future.done():
                        if kind == "reply":
                            future.set_result(message[2])
                        else:
                            future.set_exception(WorkerError(message[2]))
        finally:
            self._ready.clear()
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(WorkerError("the proxy worker exited"))
            self._pending.clear()
            if self._writer is not None:
                self._writer.close()
            if not started:
                self._ready.set()  # wake the waiting _spawn: it sees the exit and says so
            elif not self._stopping:
                self._supervisor = asyncio.get_running_loop().create_task(self._restart(process))

    async def _restart(self, process: asyncio.subprocess.Process | None) -> None:
        status = await process.wait() if process is not None else None
        self.log.error(
            "userspace data plane worker %s exited (status %s); its connections are lost; "
            "restarting it in %.0f s",
            self.pid, status, self._restart_delay,
        )
        self.pid = None
        await asyncio.sleep(self._restart_delay)
        self._restart_delay = min(self._restart_delay * 2, 30.0)
        if self._stopping:
            return
        try:
            await self._spawn()
        except (WorkerError, OSError) as exc:
            self.log.error("userspace data plane worker did not restart: %s", exc)
            return
        if self._spec is not None:
            failed = await self._call("converge", spec=self._spec)
            for key, why in failed.items():
                self.log.error("%s: %s", ServiceKey(*key), why)
        self.log.info("userspace data plane worker %s restarted", self.pid)
        self._restart_delay = 1.0

    def _fetch_entries(self) -> list[tuple] | None:
        """The worker's connection entries, asked for synchronously (lvsadm -L -c)."""
        query = self._query
        if query is None or self.pid is None:
            return None
        try:
            query.sendall(ipc.frame(("entries",)))
            return ipc.receive_blocking(query)
        except (OSError, EOFError, ValueError) as exc:
            # the stream may be out of step now: drop it until the next start
            self.log.warning("userspace data plane worker: connection list unavailable: %s", exc)
            query.close()
            self._query = None
            return None

    async def _call(self, op: str, timeout: float = CALL_TIMEOUT, **args: Any) -> Any:
        if self._writer is None or self._writer.is_closing() or not self._ready.is_set():
            raise WorkerError("not running")
        request_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            self._writer.write(ipc.frame((request_id, op, args)))
            await self._writer.drain()
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise WorkerError(f"no answer to {op} within {timeout:.0f} s") from None
        except ConnectionError as exc:
            raise WorkerError(str(exc)) from None
        finally:
            self._pending.pop(request_id, None)


def _child_env() -> dict[str, str]:
    """The environment for the worker: ours, with piranha importable from where we run."""
    env = dict(os.environ)
    here = str(Path(__file__).resolve().parents[3])  # the directory holding the piranha package
    paths = [here, *[p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    return env
