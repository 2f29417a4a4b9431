"""How popt reads ipvsadm's command line: clusters, glued and optional arguments, leftovers."""

from __future__ import annotations

import pytest

from piranha.table import model
from piranha.table.ipvsadm import Command, UsageError, parse_args

VIP = model.ServiceKey.tcp("1.2.3.4", 80)


def parsed(line: str) -> Command:
    return parse_args(line.split())


@pytest.mark.parametrize(
    "line",
    [
        "-A -t 1.2.3.4:80",
        "-At 1.2.3.4:80",
        "-At1.2.3.4:80",
        "-A -t1.2.3.4:80",
        "-A -t=1.2.3.4:80",
        "-A --tcp-service=1.2.3.4:80",
        "-A --tcp-service 1.2.3.4:80",
        "--add-service -t 1.2.3.4:80",
        "-A -t 1.2.3.4:80 --sort",
    ],
)
def test_service_address_spellings(line: str) -> None:
    cmd = parsed(line)
    assert (cmd.kind, cmd.service.key()) == ("add-service", VIP)


@pytest.mark.parametrize(
    ("line", "options"),
    [
        ("-Ln", {"numeric"}),
        ("-Lnc", {"numeric", "connection"}),
        ("-Lcn", {"numeric", "connection"}),
        ("-lnc", {"numeric", "connection"}),
        ("-L -nc", {"numeric", "connection"}),
        ("-LnX --stats", {"numeric", "exact", "stats"}),
        ("-L --numeric --exact --rate --nosort --sort", {"numeric", "exact", "rate", "nosort"}),
        ("--list -n --thresholds", {"numeric", "thresholds"}),
        ("-Lnt 1.2.3.4:80", {"numeric", "service-address"}),
        ("-Sn", {"numeric"}),
        ("-L", set()),
    ],
)
def test_combined_list_flags(line: str, options: set[str]) -> None:
    cmd = parsed(line)
    assert cmd.kind in ("list", "save")
    assert cmd.options == options


@pytest.mark.parametrize(
    ("line", "timeout"),
    [
        ("-A -t 1.2.3.4:80 -p", 360),
        ("-A -t 1.2.3.4:80 -p 100", 100),
        ("-A -t 1.2.3.4:80 -p100", 100),
        ("-A -t 1.2.3.4:80 -p=100", 100),
        ("-A -t 1.2.3.4:80 --persistent=100", 100),
        ("-A -t 1.2.3.4:80 --persistent 100", 100),
        ("-A -t 1.2.3.4:80 --persistent", 360),
        ("-A -p -t 1.2.3.4:80", 360),  # the next word starts with '-': no timeout
        ("-A -t 1.2.3.4:0 -p -s rr", 360),
        ("-A -t 1.2.3.4:80 -p 2678400", 2678400),
        ("-A -t 1.2.3.4:80 -p 1", 1),
        ("-A -t 1.2.3.4:80 -p +7", 7),  # strtol takes a sign
    ],
)
def test_persistent_optional_timeout(line: str, timeout: int) -> None:
    cmd = parsed(line)
    assert cmd.service.persistent and cmd.service.timeout == timeout


def test_without_p_not_persistent() -> None:
    svc = parsed("-A -t 1.2.3.4:80").service
    assert (svc.persistent, svc.timeout, svc.scheduler) == (False, 0, "wlc")


@pytest.mark.parametrize(
    ("line", "weight"),
    [
        ("-a -t 1.2.3.4:80 -r 10.0.0.1 -w 5", 5),
        ("-a -t 1.2.3.4:80 -r 10.0.0.1 -w5", 5),
        ("-a -t 1.2.3.4:80 -r 10.0.0.1 -w=5", 5),
        ("-a -t 1.2.3.4:80 -r 10.0.0.1 --weight=5", 5),
        ("-a -t 1.2.3.4:80 -r 10.0.0.1 -mw 5", 5),
        ("-a -t 1.2.3.4:80 -r 10.0.0.1 -w 0", 0),
        ("-a -t 1.2.3.4:80 -r 10.0.0.1 -w 65535", 65535),
        ("-a -t 1.2.3.4:80 -r 10.0.0.1", 1),
    ],
)
def test_weight_spellings(line: str, weight: int) -> None:
    assert parsed(line).dest.weight == weight


def test_set_takes_three_leftovers_anywhere() -> None:
    assert parsed("--set 900 120 300").timeouts == (900, 120, 300)
    assert parsed("900 --set 120 300").timeouts == (900, 120, 300)
    assert parse_args(["--set", "--", "1", "2", "3"]).timeouts == (1, 2, 3)
    assert parsed("--set 0 0 0").timeouts == (0, 0, 0)


def test_double_dash_ends_options() -> None:
    with pytest.raises(UsageError) as info:
        parse_args(["-L", "--", "-n"])
    assert (info.value.message, info.value.exit_code) == ("unexpected argument -n", 2)


def test_real_server_port_defaults() -> None:
    # no port: the service's; -g and -i force the service's port
    assert parsed("-a -t 1.2.3.4:80 -r 10.0.0.1 -m").dest.port == 80
    assert parsed("-a -t 1.2.3.4:80 -r 10.0.0.1:8080 -m").dest.port == 8080
    assert parsed("-a -t 1.2.3.4:80 -r 10.0.0.1:8080 -g").dest.port == 80
    assert parsed("-a -t 1.2.3.4:80 -r 10.0.0.1:8080").dest.port == 80
    assert parsed("-a -t 1.2.3.4:80 -r 10.0.0.1:8080 -i").dest.port == 80
    assert parsed("-e -t 1.2.3.4:80 -r 10.0.0.1:8080").dest.port == 80
    # fwmark services keep the given port, and -d never forces it
    assert parsed("-a -f 5 -r 10.0.0.1:8080").dest.port == 8080
    assert parsed("-a -f 5 -r 10.0.0.1").dest.port == 0
    assert parsed("-d -t 1.2.3.4:80 -r 10.0.0.1:8080").dest.port == 8080
    # the default applies to the service as far as the line has said it
    assert parsed("-a -r 10.0.0.1 -m -t 1.2.3.4:80").dest.port == 0


def test_addresses_as_inet_aton_reads_them() -> None:
    assert parsed("-A -t 10.1:80").service.address == "10.0.0.1"
    assert parsed("-A -t 0x7f.1:80").service.address == "127.0.0.1"
    assert parsed("-A -t 1.2.3.4:0080").service.port == 80
    assert parsed("-A -t [1.2.3.4]:80 -p").service.port == 0  # (sic) ipvsadm drops the port
    assert parsed("-A -t 1.2.3.4:80 -p -M 255.255.255.0").service.netmask == "255.255.255.0"
    assert parsed("-A -t 1.2.3.4:80 -p -M 24").service.netmask == "0.0.0.24"  # inet_aton


def test_scheduler_names_and_flags() -> None:
    svc = parsed("-A -t 1.2.3.4:80 -s sh -b sh-fallback,,sh-port").service
    assert (svc.scheduler, svc.sched_flags) == ("sh", 0x18)
    assert parsed("-A -t 1.2.3.4:80 -s sh -b flag-1").service.sched_flags == 0x08
    assert parsed("-A -t 1.2.3.4:80 -s abcdefghijklmnopqrst").service.scheduler == "abcdefghijklmno"
    assert parse_args(["-A", "-t", "1.2.3.4:80", "-b", ""]).service.sched_flags == 0


def test_help_and_version_come_first_only() -> None:
    assert parsed("-h").kind == "help"
    assert parsed("--help -L").kind == "help"
    assert parsed("-v").kind == "version"
    assert parsed("--version").kind == "version"
    assert parse_args([]).kind == "list"
    assert parse_args([]).options == set()


def test_daemon_commands() -> None:
    cmd = parsed("--start-daemon backup --mcast-interface eth1 --syncid 9 --mcast-group 224.0.0.82")
    assert (cmd.kind, cmd.daemon.state, cmd.daemon.mcast_interface) == (
        "start-daemon",
        "backup",
        "eth1",
    )
    assert (cmd.daemon.syncid, cmd.daemon.mcast_group) == (9, "224.0.0.82")
    assert parsed("--start-daemon=master").daemon.mcast_interface == "eth0"
    assert parsed("--stop-daemon master --syncid 3").daemon.state == "master"


def test_usage_error_carries_text_and_status() -> None:
    with pytest.raises(UsageError) as info:
        parse_args(["-A", "-t", "1.2.3.4:0"])
    assert info.value.message == "Zero port specified for non-persistent service"
    assert info.value.exit_code == 2
    with pytest.raises(UsageError) as info:
        parse_args(["-Ln", "--bogus"], prog="ipvsadm")
    assert (info.value.message, info.value.exit_code) == ("--bogus: unknown option", 255)
