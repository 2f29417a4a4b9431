"""`piranha lvsd` as a command: flags, --test-start, refusals, the pid file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from piranha.cli import lvsd as cli
from piranha.runtime.daemon import default_pid_file

from .cfg import config_text, server, virtual
from .process import LvsdProcess, lvs_cf, random_vip, service, wait_until
from .realservers import TcpServer


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "piranha.cli.main", "lvsd", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_version() -> None:
    done = run("--version")
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    assert lines[0] == "Program Version:\t1.38"
    assert lines[2].startswith("A component of:\t\tpiranha-")


def test_test_start_says_what_it_would_do(tmp_path: Path) -> None:
    path = tmp_path / "lvs.cf"
    path.write_text(
        config_text(
            virtual(
                "www",
                "192.168.0.1",
                server("web1", "10.0.0.2", weight=3),
                extra="persistent = 60\npmask = 255.255.255.0\nsorry_server = 10.0.0.200",
            ),
            globals_="tcp_timeout = 30\ndataplane = userspace",
        )
    )
    done = run("-t", "-c", str(path))
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.splitlines() == [
        "lvs: would use data plane userspace",
        "lvs: test-start: lvsadm --set 30 0 0",
        "lvs: test-start: lvsadm -C",
        "lvs: starting virtual service www active: 80",
        "lvs: test-start: lvsadm -A -t 192.168.0.1:80 -s wlc -p 60 -M 255.255.255.0",
        "lvs: create_monitor for www/web1",
        "lvs: test-start: once its health check admits it: "
        "lvsadm -a -t 192.168.0.1:80 -r 10.0.0.2:80 -m -w 3",
        "lvs: test-start: while no real server is up: "
        "lvsadm -a -t 192.168.0.1:80 -r 10.0.0.200:80 -m -w 1",
        f"lvs: test-start: {path} checked; nothing was changed",
    ]


def test_bad_and_missing_files(tmp_path: Path) -> None:
    path = tmp_path / "lvs.cf"
    path.write_text("serial_no = 1\nvirtual www {\n     port = http80\n}\n")
    done = run("-n", "-c", str(path))
    assert done.returncode == 1
    err = done.stderr.splitlines()
    assert err[0] == f"lvs: error parsing {path}:"
    assert err[1].startswith(f"{path}:3:13: error: ")
    done = run("-n", "-c", str(tmp_path / "nope.cf"))
    assert done.returncode == 1
    assert done.stderr == f"lvs: failed to open {tmp_path / 'nope.cf'}: No such file or directory\n"


def test_pid_file_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PIRANHA_RUN_DIR", str(tmp_path))
    assert default_pid_file("lvs", cli.run_dir()) == tmp_path / "lvs.pid"
    monkeypatch.delenv("PIRANHA_RUN_DIR")
    if os.geteuid() == 0:
        assert default_pid_file("lvs", cli.run_dir()) == Path("/var/run/lvs.pid")


def test_nofork_daemon_and_a_second_lvsd(tmp_path: Path) -> None:
    real = TcpServer("rs1")
    vip = random_vip()
    text = lvs_cf(service("www", vip, 8090, [("rs1", real.port, 1)]))
    (tmp_path / "one").mkdir()
    try:
        with LvsdProcess(tmp_path / "one", text) as first:
            first.wait_ready()
            # a second lvsd on the same run directory is refused, the first keeps serving
            second = run("-n", "-c", str(first.path), env={"PIRANHA_RUN_DIR": str(first.run_dir)})
            assert second.returncode == 1
            assert "cannot serve the control socket" in second.stdout
            assert "another daemon is already serving" in second.stdout
            assert first.call("status")["state"] == "active"
    finally:
        real.stop(drop=True)
    # --nofork: a daemon (syslog, pid file) that stays our child, as pulse runs it
    run_dir = tmp_path / "two"
    run_dir.mkdir(mode=0o700)
    (run_dir / "lvs.cf").write_text(lvs_cf(service("www", random_vip(), 8091, [])))
    env = {**os.environ, "PIRANHA_RUN_DIR": str(run_dir)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "piranha.cli.main",
            "lvsd",
            "--nofork",
            "-c",
            str(run_dir / "lvs.cf"),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        pid_file = run_dir / "lvs.pid"
        wait_until(lambda: pid_file.exists() and (run_dir / "lvsd.sock").exists(), "the daemon")
        assert pid_file.read_text() == f"{proc.pid}\n"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        assert proc.stdout is not None and proc.stdout.read() == b"", "stdio is detached"
        assert not pid_file.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
