"""`piranha nanny`: the original's command line, --test-start, lvsd's socket, signals, --fos."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from piranha.cli import nanny as cli

from .processes import FakeLvsd, Nanny, WebServer, wait_until
from .servers import free_tcp_port


def opts(*argv: str) -> cli.Options:
    return cli.parse_options(list(argv))


def test_both_spellings_of_the_renamed_options():
    a = opts("--send_string", "quit", "--expect_string", "220", "--quiesce_server", "--lvs")
    b = opts("--send_str", "quit", "--expect_str", "220", "--quiesce-server", "--lvsd")
    assert (a.send, a.expect, a.quiesce, a.lvs) == (b.send, b.expect, b.quiesce, b.lvs) == (
        "quit", "220", True, True,
    )  # fmt: skip


def test_popt_forms_clusters_glued_and_equals():
    o = opts("-nvq", "-t5", "--port=8080", "-r", "0x1f90", "-w", "010", "-M", "-g", "--norun")
    assert (o.nodaemon, o.verbose, o.quiesce, o.test_start) == (True, True, True, True)
    assert (o.interval, o.port, o.rport, o.weight, o.method) == (5.0, 8080, 8080, 8, "-g")
    assert opts("-t", "0.5").interval == 0.5  # piranha accepts fractions of a second


def test_the_lvsd_argument_order_parses():
    # lvsd.c's exact invocation (piranha-behaviour.md §3.3)
    o = opts(
        "-c", "-h", "10.0.0.2", "-p", "80", "-r", "8080", "-u", "-e", "/bin/check %h",
        "-s", "GET /", "-x", "HTTP", "-q", "--regex", "-v", "-a", "60", "-I", "/sbin/ipvsadm",
        "-t", "5", "-w", "3", "-V", "192.168.0.100", "-M", "g", "-U", "ssh", "--nodaemon", "--lvs",
    )  # fmt: skip
    spec = cli.build_spec(o)
    assert spec.check.address == "10.0.0.2" and spec.check.port == 8080 and spec.check.vport == 80
    assert spec.check.protocol == "udp" and spec.check.send_program == "/bin/check %h"
    assert spec.reentry == 60.0 and spec.weight == 3 and spec.quiesce and spec.load_monitor == "ssh"
    assert o.method == "-g" and o.nofork and o.nodaemon


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--bogus"], "bad argument --bogus: unknown option"),
        (["-t"], "bad argument -t: missing argument"),
        (["-t", "soon"], "bad argument soon: invalid numeric value"),
        (["--lvs", "extra"], "unexpected arguments"),
    ],
)
def test_command_line_errors(argv, message):
    with pytest.raises(cli.UsageError, match=f"^{message}$"):
        cli.parse_options(argv)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--lvs"], "No address supplied. Use '--help' for help."),
        (["-h", "host.example", "--lvs"], "bad IP address -- host.example"),
        (["-h", "10.0.0.2", "-V", "1.2.3.4"], "unknown service type"),
        (
            ["-h", "10.0.0.2", "--lvs"],
            "no virtual address: give -V (or -f for a firewall-mark service)",
        ),
        (
            ["-h", "10.0.0.2", "--lvs", "-V", "1.1.1.1", "-t", "0"],
            "--interval must be more than 0 seconds",
        ),
        (["-h", "10.0.0.2", "--lvs", "-V", "1.1.1.1", "-x", "(", "--regex"], "Error '"),
    ],
)
def test_what_cannot_run_is_refused(argv, message):
    with pytest.raises(cli.UsageError) as err:
        cli.build_spec(cli.parse_options(argv))
    assert str(err.value).startswith(message)


def test_defaults_as_the_original():
    spec = cli.build_spec(opts("-h", "10.0.0.2", "--lvs", "-V", "192.168.0.100"))
    assert spec.check.port == spec.check.vport == 80 and spec.check.timeout == 10.0
    assert spec.reentry == 180.0 and spec.weight == 1 and spec.scale == 10
    fos = cli.build_spec(opts("-h", "10.0.0.9", "--fos", "-t", "4"))
    assert fos.reentry == 4.0 and not fos.lvs_mode and fos.vip == "10.0.0.9"


def test_version_and_help(capsys):
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out == f"nanny 1.46 (piranha {cli.__version__})\n"
    assert cli.main(["-?"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Usage: nanny [OPTION...]") and "--send_string" in out
    assert cli.main(["--lvs"]) == 1
    assert capsys.readouterr().err == "nanny: No address supplied. Use '--help' for help.\n"


def test_test_start_logs_commands_and_obeys_signals():
    web = WebServer()
    try:
        with Nanny(
            "-n", "--test-start", "--lvs", "-h", "127.0.0.1", "-p", "80", "-r", str(web.port),
            "-V", "192.168.0.100", "-t", "0.3", "-w", "64", "-q",
        ) as nanny:  # fmt: skip
            real = f"127.0.0.1:{web.port}"
            nanny.wait_for(f"nanny: starting LVS client monitor for 192.168.0.100:80 -> {real}")
            nanny.wait_for("nanny: no monitor configured, assuming web service on port 80")
            nanny.wait_for(f"nanny: [ active ] making {real} available")
            add = f'nanny: running command "/sbin/ipvsadm" "-a" "-t" "192.168.0.100:80" "-r" "{real}" "-m" "-w"'
            nanny.wait_for(add + ' "2"')
            nanny.signal(signal.SIGUSR1)
            nanny.wait_for("nanny: opaque glasses on")
            delete = (
                f'nanny: running command "/sbin/ipvsadm" "-d" "-t" "192.168.0.100:80" "-r" "{real}"'
            )
            nanny.wait_for(delete)
            nanny.signal(signal.SIGUSR2)
            nanny.wait_for("nanny: rose-colored glasses on")
            nanny.wait_for(add + ' "64"')
            nanny.signal(signal.SIGHUP)
            nanny.wait_for("nanny: DEBUG -- removing glasses")
            web.mode = "hang"
            nanny.wait_for(f"nanny: READ to {real} timed out")
            nanny.wait_for(f"nanny: [inactive] shutting down {real} due to connection failure")
            edit0 = f'nanny: running command "/sbin/ipvsadm" "-e" "-t" "192.168.0.100:80" "-r" "{real}" "-m" "-w" "0"'
            nanny.wait_for(edit0)  # quiesced
            nanny.signal(signal.SIGTERM)
            assert nanny.exit_code() == 0
            assert "nanny: Terminating due to signal 15" in nanny.lines
            assert not any('"-d"' in line for line in nanny.lines[nanny.lines.index(edit0) :])
    finally:
        web.stop()


def test_against_lvsd_the_table_follows_the_server(tmp_path):
    web = WebServer()
    sock = tmp_path / "lvsd.sock"
    try:
        with FakeLvsd(sock, "-t", "192.168.0.100:80") as lvsd, Nanny(
            "-n", "--lvs", "-h", "127.0.0.1", "-p", "80", "-r", str(web.port), "-V", "192.168.0.100",
            "-t", "0.3", "-a", "0.6", "-w", "5", "--socket", str(sock),
        ) as nanny:  # fmt: skip
            dest = f"-a -t 192.168.0.100:80 -r 127.0.0.1:{web.port} -m -w 1"
            wait_until(lambda: dest in lvsd.saved(), "the real server in the table")
            port = web.port
            web.stop()
            wait_until(lambda: f"127.0.0.1:{port}" not in lvsd.saved(), "the real server removed")
            web = WebServer(port)
            wait_until(lambda: dest in lvsd.saved(), "the real server back")
            nanny.signal(signal.SIGTERM)
            assert nanny.exit_code() == 0
            assert f"127.0.0.1:{port}" not in lvsd.saved()
            kinds = [argv[0] for argv in lvsd.argvs]
            assert kinds[:3] == ["-a", "-d", "-a"] and kinds[-1] == "-d"
            assert all(argv[1:3] == ["-t", "192.168.0.100:80"] for argv in lvsd.argvs)
    finally:
        web.stop()


def test_without_lvsd_nanny_keeps_checking_and_says_why(tmp_path):
    web = WebServer()
    try:
        with Nanny(
            "-n", "--lvs", "-h", "127.0.0.1", "-r", str(web.port), "-V", "192.168.0.100", "-t", "0.2",
            "--socket", str(tmp_path / "none.sock"),
        ) as nanny:  # fmt: skip
            line = nanny.wait_for(lambda line: "retrying at the next check" in line)
            assert "/sbin/ipvsadm command failed!" in line and "no daemon listening" in line
            nanny.wait_for(lambda line: "retrying at the next check" in line)
            nanny.signal(signal.SIGINT)
            # It counts the server as admitted; the final removal fails too: exit 1, as the original.
            assert nanny.exit_code() == 1
            assert "nanny: Terminating due to signal 2" in nanny.lines
    finally:
        web.stop()


def test_fos_exit_codes():
    web = WebServer()
    try:
        with Nanny("-n", "--fos", "-h", "127.0.0.1", "-p", str(web.port), "-t", "0.2") as nanny:
            nanny.wait_for(f"nanny: Remote service 127.0.0.1:{web.port} is available")
            web.stop()
            assert nanny.exit_code() == 0
            assert (
                f"nanny: Exiting due to connection failure of 127.0.0.1:{web.port}" in nanny.lines
            )
    finally:
        web.stop()
    with Nanny("-n", "--fos", "-h", "127.0.0.1", "-p", str(free_tcp_port()), "-t", "0.2") as nanny:
        assert nanny.exit_code() == 1
        assert "nanny: Timeout waiting for remote service -- triggering failover!" in nanny.lines


def test_the_manual_lists_every_option():
    manual = (Path(__file__).parents[2] / "docs" / "nanny.md").read_text()
    for option in cli.OPTIONS:
        if option.long not in ("help", "usage"):
            assert f"--{option.long}" in manual, option.long
