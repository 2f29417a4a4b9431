"""`piranha pulse` as a command: flags, start-up errors, --test-start, --cleanup (loopback only)."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from piranha.cli import pulse as pulse_cli
from piranha.runtime.control import ControlClient


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cf(tmp_path, body: str):
    path = tmp_path / "lvs.cf"
    path.write_text(body)
    return path


STANDALONE = """\
primary = 127.0.0.1
backup_active = 0
heartbeat_port = {port}
network = direct
virtual web {{
     active = 1
     address = 127.0.0.200 lo:1
     port = 8080
     server a {{
         address = 127.0.0.1
         active = 1
     }}
}}
"""


def run_pulse(tmp_path, *args, timeout=20):
    env = dict(os.environ, PIRANHA_RUN_DIR=str(tmp_path / "run"))
    return subprocess.run(
        [sys.executable, "-m", "piranha.cli.main", "pulse", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


def test_version(capsys):
    assert pulse_cli.main(["--version"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Program Version:\tpulse 1.56"
    assert out[2].startswith("A component of:\t\tpiranha-")


def test_bad_config_is_reported_with_file_line_col(tmp_path):
    path = cf(tmp_path, "keepalive = x\n")
    res = run_pulse(tmp_path, "-n", "-c", str(path))
    assert res.returncode == 1
    assert res.stderr.splitlines()[:2] == [
        f"pulse: error parsing {path}:",
        f"{path}:1:13: error: integer expected for `keepalive`, found `x`",
    ]


def test_missing_config(tmp_path):
    res = run_pulse(tmp_path, "-n", "-c", str(tmp_path / "nope.cf"))
    assert res.returncode == 1
    assert (
        res.stderr == f"pulse: failed to open {tmp_path / 'nope.cf'}: No such file or directory\n"
    )


def test_no_active_services(tmp_path):
    path = cf(tmp_path, "primary = 127.0.0.1\nvirtual web {\n active = 0\n}\n")
    res = run_pulse(tmp_path, "-n", "-c", str(path))
    assert res.returncode == 1
    assert f"pulse: no active lvs services defined in {path}" in res.stderr


def test_neither_router_address_is_local(tmp_path):
    body = STANDALONE.format(port=free_udp_port()).replace(
        "primary = 127.0.0.1\nbackup_active = 0",
        "primary = 10.254.0.1\nbackup = 10.254.0.2\nbackup_active = 1",
    )
    res = run_pulse(tmp_path, "-n", "-c", str(cf(tmp_path, body)))
    assert res.returncode == 1
    assert "pulse: neither primary (10.254.0.1) nor backup (10.254.0.2) is an address" in res.stderr


def test_group_readable_key_file_is_refused_with_the_fix(tmp_path):
    key = tmp_path / "hb.key"
    key.write_text("x" * 32)
    key.chmod(0o644)
    body = STANDALONE.format(port=free_udp_port()) + f"heartbeat_key_file = {key}\n"
    res = run_pulse(tmp_path, "-n", "-c", str(cf(tmp_path, body)))
    assert res.returncode == 1
    assert f"run `chmod 600 {key}`" in res.stderr


def test_test_start_logs_what_it_would_do_and_touches_nothing(tmp_path):
    path = cf(tmp_path, STANDALONE.format(port=free_udp_port()))
    env = dict(os.environ, PIRANHA_RUN_DIR=str(tmp_path / "run"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "piranha.cli.main", "pulse", "-n", "-t", "-c", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 15
        status = None
        while time.monotonic() < deadline:
            try:
                with ControlClient(tmp_path / "run" / "pulse.sock", timeout=2) as c:
                    status = c.call("status")
                if status["state"] == "active":
                    break
            except Exception:
                pass
            time.sleep(0.1)
        assert status is not None and status["state"] == "active"
        assert status["role"] == "primary" and status["lvsd_pid"] is None
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    lines = out.splitlines()
    for expected in (
        "pulse: STARTING PULSE AS MASTER",
        "pulse: no backup router (backup_active = 0): activating lvs",
        "pulse: test-start: would add 127.0.0.200/32 on lo:1 (virtual web)",
        "pulse: test-start: would start lvsd and wait for it to report ready",
        "pulse: Terminating due to signal 15",
    ):
        assert expected in lines, out
    addrs = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True).stdout
    assert "127.0.0.200" not in addrs


def test_cleanup_forgets_addresses_whose_interface_is_gone(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    state = run / "pulse-addresses.json"
    state.write_text(
        json.dumps(
            [
                dict(
                    address="10.253.0.1",
                    prefixlen=32,
                    device="nosuch0",
                    label="nosuch0:1",
                    purpose="virtual x",
                )
            ]
        )
    )
    res = run_pulse(tmp_path, "--cleanup")
    assert res.returncode == 0, res.stderr
    assert not state.exists()


@pytest.mark.parametrize(
    ("text", "low", "high"), [("", 0, 0), ("2.5", 2.5, 2.5), ("random", 0, 4.9)]
)
def test_delay_values(text, low, high):
    assert low <= pulse_cli._delay_seconds(text) <= high


def test_bad_delay(tmp_path):
    res = run_pulse(tmp_path, "--delay", "soon", "-c", str(tmp_path / "x"))
    assert res.returncode == 2 and "--delay wants seconds or `random`" in res.stderr
