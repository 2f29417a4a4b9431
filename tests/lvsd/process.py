"""A real ``piranha lvsd -n`` process for the process tests, and what they ask of it.

lvsd runs with a run directory and lvs.cf of the test's own, and tells us
READY=1 over a NOTIFY_SOCKET the test binds (as pulse and systemd do).  It
is stopped by its PID (SIGTERM, then SIGKILL to its own process group if
it does not go), also when the test fails.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from piranha.runtime.control import ControlClient

from .cfg import server, virtual

T = TypeVar("T")

LVSADM = Path(sys.executable).parent / "lvsadm"


def random_vip() -> str:
    """An address of 127/8 nobody else is likely to use at the same time."""
    return f"127.{random.randint(1, 254)}.{random.randint(0, 255)}.{random.randint(1, 254)}"


def wait_until(fn: Callable[[], T], what: str, timeout: float = 20.0) -> T:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = fn()
        except (OSError, ValueError) as exc:  # not there yet
            last = exc
        else:
            if last:
                return last
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def lvs_cf(*virtuals: str, globals_: str = "") -> str:
    head = ["serial_no = 1", "primary = 127.0.0.1", "service = lvs", "network = nat",
            "dataplane = userspace", "hard_shutdown = 1"]  # fmt: skip
    head += [line.strip() for line in globals_.splitlines() if line.strip()]
    return "\n".join(head + list(virtuals)) + "\n"


def service(
    name: str, vip: str, port: int, servers: list[tuple[str, int, int]], extra: str = ""
) -> str:
    """A virtual block with quick TCP-connect checks; servers are (name, port, weight) on 127.0.0.1."""
    blocks = [server(n, "127.0.0.1", port=p, weight=w) for n, p, w in servers]
    return virtual(name, vip, *blocks, port=port, extra="timeout = 1\nreentry = 1\n" + extra)


class LvsdProcess:
    def __init__(self, directory: Path, text: str, *args: str) -> None:
        self.dir = directory
        self.path = directory / "lvs.cf"
        self.path.write_text(text)
        self.run_dir = directory / "run"
        self.run_dir.mkdir(mode=0o700, exist_ok=True)
        self.log_path = directory / "lvsd.log"
        self.notify_path = directory / "notify.sock"
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(str(self.notify_path))
        self.notes: list[str] = []
        self.env = {
            **os.environ,
            "PIRANHA_RUN_DIR": str(self.run_dir),
            "NOTIFY_SOCKET": str(self.notify_path),
            "PYTHONUNBUFFERED": "1",
        }
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "piranha.cli.main",
                    "lvsd",
                    "-n",
                    "-c",
                    str(self.path),
                    *args,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
            )

    @property
    def socket(self) -> Path:
        return self.run_dir / "lvsd.sock"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def read_notes(self) -> list[str]:
        """Everything lvsd has sent to NOTIFY_SOCKET so far."""
        self.notify.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            while True:
                self.notes += self.notify.recv(4096).decode().splitlines()
        return self.notes

    def wait_note(self, note: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while note not in self.read_notes():
            if self.proc.poll() is not None:
                raise AssertionError(f"lvsd exited ({self.proc.returncode}):\n{self.log()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {note} from lvsd within {timeout} s:\n{self.log()}")
            time.sleep(0.05)

    def wait_ready(self) -> LvsdProcess:
        self.wait_note("READY=1")
        return self

    def call(self, op: str, **params: Any) -> Any:
        with ControlClient(self.socket, timeout=30.0) as client:
            return client.call(op, **params)

    def lvsadm(self, *argv: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(LVSADM), *argv],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=60,
        )

    def wait_up(self, count: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        """Until ``count`` real servers are in service: checked up AND in the programmed table.

        A check reporting "up" and the data plane carrying the server are two
        steps (converges are coalesced), so tests that count connections
        must wait for the second.
        """

        def in_service() -> int:
            return sum(
                1
                for svc in self.call("table")["services"]
                for d in svc["destinations"]
                if d.get("in_table") and d["weight"] > 0 and not d.get("sorry")
                and (d.get("health") or {}).get("state") == "up"
            )

        return wait_until(
            lambda: (
                (h := self.call("health"))
                and sum(e["state"] == "up" for e in h) >= count
                and in_service() >= count
                and h
            ),
            f"{count} real servers up",
            timeout,
        )

    def reload(self) -> dict[str, Any]:
        """SIGHUP, then wait for lvsd to say it has read the file again."""
        before = (self.call("status")["last_reload"] or {}).get("at")
        self.proc.send_signal(signal.SIGHUP)
        return wait_until(
            lambda: (r := self.call("status")["last_reload"]) and r["at"] != before and r,
            "the reload",
        )

    def stop(self, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError(f"lvsd did not stop on SIGTERM:\n{self.log()}") from None
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def close(self) -> None:
        try:
            self.stop()
        finally:
            self.kill()
            self.notify.close()

    def __enter__(self) -> LvsdProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
