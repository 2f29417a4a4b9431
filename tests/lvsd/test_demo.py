"""`piranha demo` as a user runs it: curl it, list it, Ctrl-C, nothing left behind."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from .process import LVSADM
from .realservers import http_get

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def children_of(pid: int) -> set[int]:
    """Every descendant of ``pid`` (by /proc's parent links)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def test_demo_end_to_end() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "piranha.cli.main", "demo", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: list[str] = []
    banner = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("Ctrl-C stops everything."):
                banner.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    family: set[int] = set()
    try:
        assert banner.wait(90), "no banner from the demo:\n" + "".join(lines)
        family = children_of(proc.pid)
        out = "".join(lines)
        run_dir = re.search(r"PIRANHA_RUN_DIR=(\S+) lvsadm -L -n --stats", out).group(1)
        workdir = Path(run_dir).parent
        assert f"curl http://127.0.0.1:{port}/" in out

        answers = {http_get("127.0.0.1", port).split(" (")[0] for _ in range(9)}
        assert answers <= {"Hello from web1", "Hello from web2", "Hello from web3"}
        assert len(answers) > 1

        env = {**os.environ, "PIRANHA_RUN_DIR": run_dir}
        listing = subprocess.run(
            [str(LVSADM), "-L", "-n", "--stats"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert listing.returncode == 0, listing.stderr
        assert f"TCP  127.0.0.1:{port}" in listing.stdout
        assert len(re.findall(r"^  -> 127\.0\.0\.1:\d+ ", listing.stdout, re.M)) == 3

        gui = re.search(r"Configuration Tool: (http://\S+)\s+user piranha, password (\S+)", out)
        if gui is not None:
            try:
                with urllib.request.urlopen(gui.group(1), timeout=10) as page:
                    status = page.status
            except urllib.error.HTTPError as exc:  # a login page or challenge is fine
                status = exc.code
            assert status in (200, 302, 303, 401)
        else:
            assert "Configuration Tool: not available" in out, out

        assert family, "lvsd (and the GUI) run as children of the demo"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0, "".join(lines)
        reader.join(10)
        deadline = time.monotonic() + 10
        while any(Path(f"/proc/{pid}").exists() for pid in family) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in family if Path(f"/proc/{pid}").exists()], "orphans left"
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        assert not workdir.exists()
        assert "piranha demo: stopping" in "".join(lines)
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        for pid in family:  # what a failed test would otherwise leave running
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
