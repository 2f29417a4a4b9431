"""`piranha check` and `piranha format`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from lvscf_helpers import DATA, seed_text

from piranha.cli import check as check_cli
from piranha.cli import format as format_cli
from piranha.cli.main import main as piranha
from piranha.config import dumps, parse, relayout
from piranha.runtime import machine

SAMPLE = DATA / "piranha-sample.lvs.cf"


@pytest.fixture
def cfg(tmp_path):
    def write(text: str) -> Path:
        path = tmp_path / "lvs.cf"
        path.write_text(text)
        return path

    return write


def test_check_ok_prints_warnings_to_stderr(capsys):
    assert piranha(["check", "-c", str(SAMPLE)]) == 0
    out, err = capsys.readouterr()
    assert out == f"{SAMPLE}: OK (2 virtual servers, 2 failover services, 1 warning)\n"
    assert (
        err
        == f"{SAMPLE}:32:13: warning: `heartbeat` has no effect: heartbeats follow `backup_active` (the GUI always wrote 1)\n"
    )


def test_check_quiet(capsys):
    assert check_cli.main(["-q", "-c", str(SAMPLE)]) == 0
    assert capsys.readouterr() == ("", "")


def test_check_errors_exit_2_one_line_each(cfg, capsys):
    path = cfg("keepalive = x\nvirtual v {\n     schedular = wlc\n}\n")
    assert check_cli.main(["-c", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        f"{path}:1:13: error: integer expected for `keepalive`, found `x`",
        f"{path}:3:6: error: unknown keyword `schedular` in virtual `v` — did you mean `scheduler`?",
    ]


def test_check_unreadable_file_exits_1(tmp_path, capsys):
    assert check_cli.main(["-c", str(tmp_path / "missing.cf")]) == 1
    assert (
        capsys.readouterr().err
        == f"piranha check: cannot read {tmp_path / 'missing.cf'}: No such file or directory\n"
    )
    assert check_cli.main(["-c", str(tmp_path)]) == 1
    assert "Is a directory" in capsys.readouterr().err


def test_check_reads_piranha_config(cfg, monkeypatch, capsys):
    monkeypatch.setenv("PIRANHA_CONFIG", str(cfg("keepalive = 0\n")))
    assert check_cli.main([]) == 2
    assert "`keepalive` = 0 is out of range" in capsys.readouterr().err


def test_check_knows_whether_this_machine_can_tunnel(cfg, monkeypatch, capsys):
    path = cfg("network = tunnel\nvirtual v {\n}\n")
    monkeypatch.setattr(machine, "tunnel_possible", lambda: False)
    assert check_cli.main(["-q", "-c", str(path)]) == 2
    assert "this machine cannot tunnel" in capsys.readouterr().err
    monkeypatch.setattr(machine, "tunnel_possible", lambda: True)
    assert check_cli.main(["-q", "-c", str(path)]) == 0


def test_tunnel_probe_matches_this_machine():
    import os

    expected = os.path.exists("/proc/net/ip_vs") and (
        os.path.exists("/sys/module/ipip")
        or any(line.startswith("ipip ") for line in Path("/proc/modules").read_text().splitlines())
    )
    assert machine.tunnel_possible() == expected


def test_format_prints_the_canonical_layout(capsys):
    assert format_cli.main(["-c", str(SAMPLE)]) == 0
    out = capsys.readouterr().out
    assert out == dumps(parse(seed_text("piranha-sample.lvs.cf")))
    assert "#" not in out


def test_format_keep_layout_reindents_and_keeps_comments(cfg, capsys):
    text = "# top\r\nprimary   =\t10.0.0.1  \r\n\r\n  virtual   www {\r\n\t# inside\r\n  active = 0\r\n\t  server  a  {\r\n address = 10.0.0.2\r\n}\r\n     }\r\n"
    assert format_cli.main(["--keep-layout", "-c", str(cfg(text))]) == 0
    out = capsys.readouterr().out
    assert out == (
        "# top\r\nprimary = 10.0.0.1\r\n\r\nvirtual www {\r\n\t# inside\r\n     active = 0\r\n"
        "     server a {\r\n         address = 10.0.0.2\r\n     }\r\n}\r\n"
    )
    assert parse(out) == parse(text)


def test_relayout_keeps_value_spelling():
    text = 'virtual "my www" {\n  send   =   "a  b"\n  port = http\n address = 10.1   eth0:1\n}\n'
    assert (
        relayout(text)
        == 'virtual "my www" {\n     send = "a  b"\n     port = http\n     address = 10.1 eth0:1\n}\n'
    )


def test_format_write_replaces_the_file_with_a_backup(cfg, capsys):
    text = seed_text("five-node.lvs.cf")
    path = cfg(text)
    assert format_cli.main(["-w", "-c", str(path)]) == 0
    assert capsys.readouterr() == ("", "")
    assert path.read_text() == dumps(parse(text))
    assert Path(str(path) + ".bak").read_text() == text


def test_format_refuses_an_invalid_file(cfg, capsys):
    path = cfg("keepalive = x\n")
    assert format_cli.main(["-w", "-c", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:1:13: error: integer expected" in err
    assert path.read_text() == "keepalive = x\n"
    assert format_cli.main(["-c", str(path.parent / "missing")]) == 1


def test_the_installed_command(tmp_path):
    path = tmp_path / "lvs.cf"
    path.write_text("keepalive = x\n")
    bin_dir = Path(sys.executable).parent
    result = subprocess.run(
        [bin_dir / "piranha", "check", "-c", path], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert result.stderr.startswith(f"{path}:1:13: error:")
