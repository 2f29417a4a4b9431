"""Helpers for the Configuration Tool's tests: a logged-in client, fake daemons, a live server."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from starlette.testclient import TestClient

from piranha.config import Environment
from piranha.gui import GuiSettings, create_app
from piranha.gui.passwords import hash_password, write_entry
from piranha.runtime.control import ControlServer

PASSWORD = "correct horse battery staple"
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"


@dataclass
class Site:
    """One Configuration Tool on a temporary directory."""

    dir: Path
    settings: GuiSettings
    app: Any = None

    @property
    def config(self) -> Path:
        return self.settings.config_path

    def client(self, address: str = "127.0.0.1", login: bool = True) -> TestClient:
        client = TestClient(self.app, client=(address, 40000), follow_redirects=False)
        if login:
            log_in(client)
        return client


def make_site(tmp: Path, text: str | None = None, **overrides: Any) -> Site:
    """A site whose lvs.cf holds `text` (None: no file yet), password PASSWORD, sockets in `tmp`.

    `overrides` replace any GuiSettings field (e.g. config_path, lvsd_socket).
    """
    tmp.mkdir(parents=True, exist_ok=True)
    write_entry(tmp / "piranha.passwd", _cached_hash())
    fields: dict[str, Any] = {
        "config_path": tmp / "lvs.cf",
        "passwd_file": tmp / "piranha.passwd",
        "token_file": tmp / "api.token",
        "environment": Environment.hermetic,
        "lvsd_socket": tmp / "lvsd.sock",
        "pulse_socket": tmp / "pulse.sock",
        "lvsd_pidfile": tmp / "lvs.pid",
        "pulse_pidfile": tmp / "pulse.pid",
        "daemon_timeout": 3.0,
        **overrides,
    }
    if text is not None:
        Path(fields["config_path"]).write_text(text)
    settings = GuiSettings(**fields)
    return Site(tmp, settings, create_app(settings))


_HASH: list[str] = []


def _cached_hash() -> str:
    if not _HASH:  # argon2 is slow on purpose; one hash serves every test
        _HASH.append(hash_password(PASSWORD))
    return _HASH[0]


def login_token(html: str) -> str:
    return re.search(r'name="login_token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def log_in(
    client: TestClient | httpx.Client, password: str = PASSWORD, user: str = "piranha"
) -> Any:
    page = client.get("/login")
    return client.post(
        "/login",
        data={
            "login_token": login_token(page.text),
            "username": user,
            "password": password,
            "next": "/control",
        },
    )


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def digest_of(html: str) -> str:
    return re.search(r'name="config_digest" value="([^"]*)"', html).group(1)  # type: ignore[union-attr]


# --- fake daemons -------------------------------------------------------------------------
@dataclass
class FakeDaemon:
    """A real ControlServer with canned handlers, on its own event loop thread."""

    path: Path
    handlers: dict[str, Callable[[dict[str, Any]], Any]]
    calls: list[dict[str, Any]] = field(default_factory=list)

    def __enter__(self) -> FakeDaemon:
        self._loop = asyncio.new_event_loop()
        recorded = {op: self._recording(fn) for op, fn in self.handlers.items()}
        self._server = ControlServer(self.path, recorded)
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self._server.start())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        assert ready.wait(5), "fake daemon did not start"
        return self

    def _recording(self, fn: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], Any]:
        def handler(request: dict[str, Any]) -> Any:
            self.calls.append(request)
            return fn(request)

        return handler

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._server.close(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def ops(self) -> list[str]:
        return [c["op"] for c in self.calls]


# --- a live server ---------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def live_gui(
    tmp: Path, text: str | None = None, extra: list[str] | None = None, scheme: str = "http"
) -> Iterator[str]:
    """`piranha gui` as a real process on 127.0.0.1; yields its base URL; stopped by PID."""
    site = make_site(tmp, text)
    port = free_port()
    env = {
        **os.environ,
        "PIRANHA_RUN_DIR": str(tmp / "run"),
        "PIRANHA_API_TOKEN_FILE": str(tmp / "api.token"),
    }
    cmd = [sys.executable, "-m", "piranha.cli.main", "gui", "-c", str(site.config),
           "--listen", f"127.0.0.1:{port}", "--passwd-file", str(site.settings.passwd_file), *(extra or [])]  # fmt: skip
    log = open(tmp / "gui.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    url = f"{scheme}://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(url + "/", timeout=1, verify=False)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(
                        f"piranha gui did not start: {(tmp / 'gui.log').read_text()}"
                    ) from None
                time.sleep(0.1)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        log.close()
