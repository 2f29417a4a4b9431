"""The `lvsadm` command: works without lvsd for -h, -v and refused lines; talks to lvsd otherwise."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import io
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from piranha.cli import lvsadm
from piranha.runtime.control import ControlServer
from piranha.table import model
from piranha.table.ipvsadm import Result, run

from .test_golden import SAVE_N


@pytest.fixture
def run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PIRANHA_RUN_DIR", str(tmp_path))
    return tmp_path


def no_lvsd(path: Path) -> str:
    return (
        f"lvsadm: no running lvsd (no control socket at {path}) — start one with "
        "'piranha lvsd' (or 'systemctl start pulse' on a router)\n"
    )


def test_socket_path_follows_the_run_directory(run_dir: Path) -> None:
    assert lvsadm.lvsd_socket() == run_dir / "lvsd.sock"


def test_help_and_version_without_lvsd(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert lvsadm.main(["-h"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("lvsadm v1.31 2019/12/24 (piranha ")
    assert "  lvsadm -L|l [virtual-service] [options]\n" in out
    assert lvsadm.main(["--version"]) == 0
    assert "compatible with ipvsadm v1.31" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "code", "stderr"),
    [
        (["-L", "-A"], 2, "invalid option `-A'\n"),
        (["-A", "-t", "1.2.3.4:0"], 2, "Zero port specified for non-persistent service\n"),
        (["-nL"], 255, "Try `lvsadm -h' or 'lvsadm --help' for more information.\n"),
        (["-L", "--bogus"], 255, "--bogus: unknown option\n"),
    ],
)
def test_refused_lines_without_lvsd(
    run_dir: Path, capsys: pytest.CaptureFixture[str], argv: list[str], code: int, stderr: str
) -> None:
    assert lvsadm.main(argv) == code
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", stderr)


@pytest.mark.parametrize("argv", [[], ["-Ln"], ["-A", "-t", "1.2.3.4:80"], ["-C"]])
def test_no_lvsd(run_dir: Path, capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    assert lvsadm.main(argv) == 255
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", no_lvsd(run_dir / "lvsd.sock"))


def test_a_table_runner_replaces_lvsd(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    table = model.VirtualTable()

    def runner(argv: list[str], stdin: str) -> Result:
        return run(table, argv, stdin=stdin)

    monkeypatch.setattr(sys, "stdin", io.StringIO(SAVE_N))
    assert lvsadm.main(["-R"], runner=runner) == 0
    assert lvsadm.main(["-S", "-n"], runner=runner) == 0
    assert capsys.readouterr().out == SAVE_N
    assert lvsadm.main(["-A", "-f", "100"], runner=runner) == 255
    assert capsys.readouterr().err == "Service already exists\n"


@contextlib.contextmanager
def control_server(path: Path, handlers: dict) -> Iterator[None]:
    """A ControlServer on an event loop of its own thread."""
    loop = asyncio.new_event_loop()
    server = ControlServer(path, handlers)
    started = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        assert started.wait(10), "control server did not start"
        yield
    finally:
        if started.is_set():
            asyncio.run_coroutine_threadsafe(server.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@pytest.fixture
def fake_lvsd(run_dir: Path) -> Iterator[model.VirtualTable]:
    """lvsd's proposed "lvsadm" op over a real control socket."""
    table = model.VirtualTable()

    def handle(request: dict) -> dict:
        result = run(table, request["argv"], stdin=request.get("stdin", ""), prog=request["prog"])
        return dataclasses.asdict(result)

    with control_server(run_dir / "lvsd.sock", {"lvsadm": handle}):
        yield table


def test_through_the_control_socket(
    fake_lvsd: model.VirtualTable,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert lvsadm.main(["-A", "-t", "192.168.1.100:80", "-s", "rr"]) == 0
    assert lvsadm.main(["-a", "-t", "192.168.1.100:80", "-r", "10.0.0.2", "-m"]) == 0
    assert model.ServiceKey.tcp("192.168.1.100", 80) in fake_lvsd.services
    capsys.readouterr()
    assert lvsadm.main(["-Sn"]) == 0
    assert capsys.readouterr().out == (
        "-A -t 192.168.1.100:80 -s rr\n-a -t 192.168.1.100:80 -r 10.0.0.2:80 -m -w 1\n"
    )
    assert lvsadm.main(["-D", "-t", "10.9.9.9:80"]) == 255
    assert capsys.readouterr().err == "No such service\n"
    monkeypatch.setattr(sys, "stdin", io.StringIO("-C\n-A -u 10.0.0.1:53\n"))
    assert lvsadm.main(["-R"]) == 0
    assert list(fake_lvsd.services) == [model.ServiceKey.udp("10.0.0.1", 53)]


def test_stale_socket_file(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (run_dir / "lvsd.sock").touch()  # left behind, nobody listening
    assert lvsadm.main(["-Ln"]) == 255
    assert capsys.readouterr().err == no_lvsd(run_dir / "lvsd.sock")


def test_daemon_without_the_lvsadm_op(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with control_server(run_dir / "lvsd.sock", {"ping": lambda request: "pong"}):
        assert lvsadm.main(["-Ln"]) == 255
    assert capsys.readouterr().err == "lvsadm: unknown op 'lvsadm' (known: ping)\n"


def test_console_script(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "lvsadm"
    assert script.exists(), f"{script} is missing: is the project installed in this venv?"
    env = {**os.environ, "PIRANHA_RUN_DIR": str(tmp_path)}
    done = subprocess.run([script, "-v"], capture_output=True, text=True, env=env, timeout=60)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("lvsadm v1.31 ")
    done = subprocess.run([script, "-Ln"], capture_output=True, text=True, env=env, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (255, "", no_lvsd(tmp_path / "lvsd.sock"))


def test_system_resolver_knows_services_and_localhost() -> None:
    resolver = lvsadm.SystemResolver()
    assert resolver.port("http", model.IPPROTO_TCP) == 80
    assert resolver.service(80, model.IPPROTO_TCP) == "http"
    assert resolver.service(80, model.IPPROTO_IP) is None
    assert resolver.service(0, model.IPPROTO_TCP) is None
    assert resolver.port("no-such-service-name", model.IPPROTO_UDP) is None
    assert resolver.address("localhost") == "127.0.0.1"
