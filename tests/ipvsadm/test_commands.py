"""What each command does to the table, and -R's line-by-line semantics."""

from __future__ import annotations

from piranha.table import model
from piranha.table.ipvsadm import restore_lines, run

from .helpers import ConnectionsDouble, ok, sh

VIP = model.ServiceKey.tcp("1.2.3.4", 80)


def test_add_service_parameters(table: model.VirtualTable) -> None:
    result = sh(table, "-A -u 1.2.3.4:53 -s sh -b sh-port -p 120 -M 255.255.255.0 -o --pe sip")
    assert (result.exit_code, result.stdout, result.stderr, result.changed) == (0, "", "", True)
    svc = table.services[model.ServiceKey.udp("1.2.3.4", 53)]
    assert (svc.scheduler_name, svc.sched_flags, svc.persistent, svc.netmask) == (
        "sh",
        frozenset({"sh-port"}),
        120,
        "255.255.255.0",
    )
    assert (svc.ops, svc.pe_name) == (True, "sip")


def test_edit_service_replaces_every_parameter(table: model.VirtualTable) -> None:
    ok(table, "-A -t 1.2.3.4:80 -s rr -p 60 -M 255.255.0.0 --pe sip", "-E -t 1.2.3.4:80")
    svc = table.services[VIP]
    # as ipvsadm: no -s means wlc, no -p means not persistent
    assert (svc.scheduler_name, svc.persistent, svc.netmask, svc.pe_name) == (
        "wlc",
        0,
        "255.255.255.255",
        "",
    )
    ok(table, "-E -t 1.2.3.4:80 -s sh -b sh-fallback -p")
    assert (svc.scheduler_name, svc.sched_flags, svc.persistent) == (
        "sh",
        frozenset({"sh-fallback"}),
        360,
    )


def test_edit_server_replaces_every_parameter(table: model.VirtualTable) -> None:
    ok(table, "-A -t 1.2.3.4:80", "-a -t 1.2.3.4:80 -r 10.0.0.1 -m -w 5 -x 100 -y 50")
    dest = table.services[VIP].destinations[0]
    ok(table, "-e -t 1.2.3.4:80 -r 10.0.0.1 -w 3")
    # no -m: direct routing, no -x/-y: no thresholds
    assert (dest.forward, dest.weight, dest.u_threshold, dest.l_threshold) == (
        model.Forward.ROUTE,
        3,
        0,
        0,
    )
    ok(table, "-e -t 1.2.3.4:80 -r 10.0.0.1 -m")
    assert (dest.forward, dest.weight) == (model.Forward.MASQ, 1)


def test_masquerading_server_on_another_port_needs_m_to_be_edited(
    table: model.VirtualTable,
) -> None:
    ok(table, "-A -t 1.2.3.4:80", "-a -t 1.2.3.4:80 -r 10.0.0.1:8080 -m")
    # without -m the port is forced to 80, and 10.0.0.1:80 is not there
    result = sh(table, "-e -t 1.2.3.4:80 -r 10.0.0.1:8080 -w 2")
    assert (result.exit_code, result.stderr) == (255, "No such destination\n")
    ok(table, "-e -t 1.2.3.4:80 -r 10.0.0.1:8080 -m -w 2", "-d -t 1.2.3.4:80 -r 10.0.0.1:8080")
    assert table.services[VIP].destinations == []


def test_deleting_servers_and_services_hands_them_to_the_connection_table(
    table: model.VirtualTable,
) -> None:
    conns = ConnectionsDouble()
    table.connections = conns  # type: ignore[assignment]
    ok(
        table,
        "-A -t 1.2.3.4:80",
        "-a -t 1.2.3.4:80 -r 10.0.0.1",
        "-a -t 1.2.3.4:80 -r 10.0.0.2",
        "-A -f 3",
        "-a -f 3 -r 10.0.0.3",
    )
    ok(table, "-d -t 1.2.3.4:80 -r 10.0.0.1")
    assert [d.address for d in conns.flushed] == ["10.0.0.1"]
    ok(table, "-D -t 1.2.3.4:80")
    assert [d.address for d in conns.flushed] == ["10.0.0.1", "10.0.0.2"]
    ok(table, "-C")
    assert [d.address for d in conns.flushed] == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    assert table.services == {}


def test_zero_one_service_or_all(table: model.VirtualTable) -> None:
    ok(table, "-A -t 1.2.3.4:80", "-a -t 1.2.3.4:80 -r 10.0.0.1", "-A -f 3")
    http, mark = table.services[VIP], table.services[model.ServiceKey.mark(3)]
    for stats in (http.stats, http.destinations[0].stats, mark.stats):
        stats.conns, stats.inbytes = 5, 500
    result = sh(table, "-Z -f 3")
    assert (result.exit_code, result.changed) == (0, True)
    assert (mark.stats.conns, http.stats.conns) == (0, 5)
    ok(table, "--zero")
    assert (http.stats.conns, http.destinations[0].stats.inbytes) == (0, 0)


def test_set_timeouts_zero_keeps_a_value(table: model.VirtualTable) -> None:
    result = sh(table, "--set 1000 0 30")
    assert (result.exit_code, result.changed) == (0, True)
    assert (table.timeouts.tcp, table.timeouts.tcpfin, table.timeouts.udp) == (1000, 120, 30)


def test_listing_and_saving_change_nothing(table: model.VirtualTable) -> None:
    ok(table, "-A -t 1.2.3.4:80")
    for line in ("-Ln", "-Sn", "-L --timeout", "-L --daemon", "-Lnc", "-h", "-v", ""):
        assert sh(table, line).changed is False, line


def test_thresholds_are_not_saved(table: model.VirtualTable) -> None:
    # ipvsadm -S writes no -x/-y: an ipvsadm-save/restore cycle loses them
    ok(table, "-A -t 1.2.3.4:80", "-a -t 1.2.3.4:80 -r 10.0.0.1 -x 10 -y 5")
    assert (
        sh(table, "-Sn").stdout
        == "-A -t 1.2.3.4:80 -s wlc\n-a -t 1.2.3.4:80 -r 10.0.0.1:80 -g -w 1\n"
    )


def test_tunnelled_servers_save_their_tunnel_type(table: model.VirtualTable) -> None:
    ok(table, "-A -t 1.2.3.4:80", "-a -t 1.2.3.4:80 -r 10.0.0.1 -i -w 4 --tun-type ipip")
    saved = sh(table, "-Sn").stdout
    assert saved.splitlines()[1] == "-a -t 1.2.3.4:80 -r 10.0.0.1:80 -i -w 4 --tun-type ipip"
    copy = model.VirtualTable()
    assert run(copy, ["-R"], stdin=saved).exit_code == 0
    assert sh(copy, "-Sn").stdout == saved


def test_restore_runs_each_line(table: model.VirtualTable) -> None:
    stdin = (
        "-A -t 1.2.3.4:80 -s rr\n"
        "\n"
        "   \t \n"
        "ipvsadm -a -t 1.2.3.4:80 -r 10.0.0.1:8080 -m -w 3\r\n"
        "# a comment line\n"
        "lvsadm -a -t 1.2.3.4:80 -r 10.0.0.2 -m # and a trailing one\n"
        "-a -t 1.2.3.4:80 -r 10.0.0.3 -m"  # no newline at the end
    )
    result = run(table, ["-R"], stdin=stdin)
    assert (result.exit_code, result.stdout, result.stderr, result.changed) == (0, "", "", True)
    assert sorted(d.address for d in table.services[VIP].destinations) == [
        "10.0.0.1",
        "10.0.0.2",
        "10.0.0.3",
    ]
    assert run(table, ["--restore"], stdin="").changed is False


def test_restore_goes_on_after_a_refusal_by_the_table(table: model.VirtualTable) -> None:
    stdin = "-A -t 1.2.3.4:80\n-A -t 1.2.3.4:80\n-a -t 1.2.3.4:80 -r 10.0.0.1\n-Ln\n"
    result = run(table, ["-R"], stdin=stdin)
    # the status is the last line's
    assert (result.exit_code, result.stderr) == (0, "Service already exists\n")
    assert "  -> 10.0.0.1:80" in result.stdout
    result = run(table, ["-R"], stdin="-D -t 9.9.9.9:80\n")
    assert (result.exit_code, result.stderr, result.changed) == (255, "No such service\n", False)


def test_restore_stops_at_a_refused_command_line(table: model.VirtualTable) -> None:
    stdin = "-A -t 1.2.3.4:80\n-L -n\n-A -t 1.2.3.5:0\n-A -t 1.2.3.6:80\n"
    result = run(table, ["-R"], stdin=stdin)
    assert result.exit_code == 2
    assert result.stderr == "Zero port specified for non-persistent service\n"
    assert result.stdout.startswith("IP Virtual Server version")
    assert result.changed is True
    assert list(table.services) == [VIP]


def test_restore_popt_errors_do_not_stop_it(table: model.VirtualTable) -> None:
    result = run(table, ["-R"], stdin="-L --bogus\n-A -t 1.2.3.4:80\n")
    assert (result.exit_code, result.stderr) == (0, "--bogus: unknown option\n")
    assert VIP in table.services
    result = run(table, ["-R"], stdin="-A -t 1.2.3.9:80\n-L --bogus\n")
    assert result.exit_code == 255


def test_restore_inside_restore_and_help(table: model.VirtualTable) -> None:
    result = run(table, ["-R"], stdin="-A -t 1.2.3.4:80\n-R\n-A -t 1.2.3.5:80\n")
    assert (result.exit_code, result.stderr) == (
        255,
        "Try `lvsadm -h' or 'lvsadm --help' for more information.\n",
    )
    assert list(table.services) == [VIP]
    result = run(table, ["-R"], stdin="-h\n-C\n")
    assert result.exit_code == 0 and result.stdout.startswith("lvsadm v1.31")
    assert list(table.services) == [VIP]
    result = run(table, ["-R"], stdin="-t 1.2.3.4:80\n")
    assert (result.exit_code, result.stderr) == (
        255,
        "Try `lvsadm -h' or 'lvsadm --help' for more information.\n",
    )


def test_restore_line_splitting() -> None:
    assert restore_lines("ipvsadm\n-A  -t\t1.2.3.4:80 \n\n#x\n-C ipvsadm\n") == [
        ["-A", "-t", "1.2.3.4:80"],
        ["-C"],
    ]


def test_listing_one_service_by_fwmark_and_udp(table: model.VirtualTable) -> None:
    ok(table, "-A -f 9 -s rr", "-A -u 1.2.3.4:53 -s rr")
    assert sh(table, "-L -n -f 9").stdout.splitlines()[2] == "FWM  9 rr"
    assert sh(table, "-L -n -u 1.2.3.4:53").stdout.splitlines()[2] == "UDP  1.2.3.4:53 rr"
    result = sh(table, "-L -n -t 1.2.3.4:53")
    assert (result.exit_code, result.stderr) == (1, "No such service\n")
