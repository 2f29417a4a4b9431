"""Helpers for tests that run `piranha nanny` as a process."""

from __future__ import annotations

import asyncio
import os
import queue
import signal
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from piranha.runtime.control import ControlServer
from piranha.table.ipvsadm import render_save, run
from piranha.table.model import VirtualTable

NANNY = [sys.executable, "-m", "piranha.cli.main", "nanny"]


class Nanny:
    """``piranha nanny ARGS`` with its stdout read line by line; killed on exit."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [*NANNY, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, **(env or {})},
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, wanted: str | Callable[[str], bool], timeout: float = 15.0) -> str:
        """The next line that is (or satisfies) `wanted`; fails after a safety limit."""
        match = wanted if callable(wanted) else (lambda line: line == wanted)
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                line = self._queue.get(timeout=max(0.01, remaining))
            except queue.Empty:
                raise AssertionError(f"no line {wanted!r}; got {self.lines}") from None
            if line is None:
                raise AssertionError(f"nanny exited before {wanted!r}; got {self.lines}")
            self.lines.append(line)
            if match(line):
                return line

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def exit_code(self, timeout: float = 15.0) -> int:
        code = self.proc.wait(timeout)
        while (line := self._queue.get(timeout=5)) is not None:
            self.lines.append(line)
        return code

    def __enter__(self) -> Nanny:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)


class _Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        server: WebServer = self.server  # type: ignore[assignment]
        if server.mode == "hang":
            time.sleep(5)
            return
        self.request.settimeout(1.0)
        try:
            self.request.recv(1024)
            self.request.sendall(server.reply)
        except OSError:
            pass


class WebServer(socketserver.ThreadingTCPServer):
    """A real server in a thread (the nanny under test is another process)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.mode = "reply"
        self.reply = b"HTTP/1.0 200 OK\r\n\r\n"
        self.port = self.server_address[1]
        threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class FakeLvsd:
    """lvsd's control socket with only the ``lvsadm`` op, on a real piranha table."""

    def __init__(self, path: Path, *service: str) -> None:
        self.path = path
        self.table = VirtualTable()
        assert run(self.table, ["-A", *service, "-s", "wlc"]).exit_code == 0
        self.argvs: list[list[str]] = []
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=asyncio.run, args=(self._serve(),), daemon=True)

    def _lvsadm(self, request: dict) -> dict:
        with self._lock:
            self.argvs.append(list(request["argv"]))
            r = run(self.table, request["argv"], stdin=request.get("stdin", ""))
        return {
            "exit_code": r.exit_code,
            "stdout": r.stdout,
            "stderr": r.stderr,
            "changed": r.changed,
        }

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = ControlServer(self.path, {"lvsadm": self._lvsadm})
        await server.start()
        self._ready.set()
        await self._stop.wait()
        await server.close()

    def saved(self) -> str:
        with self._lock:
            return render_save(self.table)

    def __enter__(self) -> FakeLvsd:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.02)
