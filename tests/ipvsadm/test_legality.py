"""ipvsadm's commands_v_options table, cell by cell (14 commands x 34 options)."""

from __future__ import annotations

import pytest

from piranha.table.ipvsadm import UsageError, parse_args
from piranha.table.ipvsadm.tables import CMD_NAMES, COMMANDS_V_OPTIONS, OPT_NAMES

# The smallest valid line of each command, required options included.
BASE = {
    "add-service": ["-A", "-t", "1.2.3.4:80"],
    "edit-service": ["-E", "-t", "1.2.3.4:80"],
    "delete-service": ["-D", "-t", "1.2.3.4:80"],
    "flush": ["-C"],
    "list": ["-L"],
    "add-server": ["-a", "-t", "1.2.3.4:80", "-r", "10.0.0.1"],
    "delete-server": ["-d", "-t", "1.2.3.4:80", "-r", "10.0.0.1"],
    "edit-server": ["-e", "-t", "1.2.3.4:80", "-r", "10.0.0.1"],
    "set": ["--set", "1", "2", "3"],
    "start-daemon": ["--start-daemon", "master"],
    "stop-daemon": ["--stop-daemon", "master"],
    "restore": ["-R"],
    "save": ["-S"],
    "zero": ["-Z"],
}

# One way to give each option (valid on its own).
GIVE = {
    "numeric": ["-n"],
    "connection": ["-c"],
    "service-address": ["-u", "1.2.3.5:53"],
    "scheduler": ["-s", "rr"],
    "persistent": ["-p", "60"],
    "netmask": ["-M", "255.255.255.0"],
    "real-server": ["-r", "10.0.0.2"],
    "forwarding-method": ["-m"],
    "weight": ["-w", "2"],
    "u-threshold": ["-x", "10"],
    "l-threshold": ["-y", "0"],
    "mcast-interface": ["--mcast-interface", "eth1"],
    "timeout": ["--timeout"],
    "daemon": ["--daemon"],
    "stats": ["--stats"],
    "rate": ["--rate"],
    "thresholds": ["--thresholds"],
    "persistent-conn": ["--persistent-conn"],
    "nosort": ["--nosort"],
    "syncid": ["--syncid", "3"],
    "exact": ["--exact"],
    "ops": ["-o"],
    "pe": ["--pe", "sip"],
    "sched-flags": ["-b", "flag-1"],
    "mcast-group": ["--mcast-group", "224.0.0.82"],
    "mcast-port": ["--mcast-port", "8849"],
    "mcast-ttl": ["--mcast-ttl", "2"],
    "sync-maxlen": ["--sync-maxlen", "1400"],
    "tun-info": ["--tun-info"],
    "tun-type": ["--tun-type", "ipip"],
    "tun-port": ["--tun-port", "6080"],
    "tun-nocsum": ["--tun-nocsum"],
    "tun-csum": ["--tun-csum"],
    "tun-remcsum": ["--tun-remcsum"],
}

TABLE_MESSAGES = ("Illegal '", "You need to supply", "The option '")

CELLS = [(cmd, opt) for cmd in CMD_NAMES for opt in OPT_NAMES]


def test_table_shape() -> None:
    assert len(CMD_NAMES) == 14 and len(OPT_NAMES) == 34
    assert set(GIVE) == set(OPT_NAMES)
    for row in COMMANDS_V_OPTIONS.values():
        assert set(row.values()) <= {"+", "x", "1", " "}


@pytest.mark.parametrize(("cmd", "opt"), CELLS)
def test_cell(cmd: str, opt: str) -> None:
    rule = COMMANDS_V_OPTIONS[cmd][opt]
    base = BASE[cmd]
    if rule == "+":
        # required: the base line has it; leaving it out is refused
        with pytest.raises(UsageError) as info:
            parse_args([w for w in base if w not in _words_of(cmd, opt)])
        assert (
            info.value.message == f"You need to supply the '{opt}' option for the '{cmd}' command"
        )
        assert info.value.exit_code == 2
        return
    argv = [*base, *GIVE[opt]]
    if rule == "x":
        with pytest.raises(UsageError) as info:
            parse_args(argv)
        assert info.value.message == f"Illegal '{opt}' option with the '{cmd}' command"
        assert info.value.exit_code == 2
        return
    # ' ' and '1': the table lets it through (a later rule may still object)
    try:
        parse_args(argv)
    except UsageError as exc:
        assert not exc.message.startswith(TABLE_MESSAGES), exc.message
        assert exc.message in (
            "Tunnel options conflict with forward method",
            "One-Packet Scheduling is only for UDP virtual services",
        ), exc.message


def _words_of(cmd: str, opt: str) -> list[str]:
    return {"service-address": ["-t", "1.2.3.4:80"], "real-server": ["-r", "10.0.0.1"]}[opt]


def test_exclusive_list_options_pairwise() -> None:
    exclusive = [o for o in OPT_NAMES if COMMANDS_V_OPTIONS["list"][o] == "1"]
    assert exclusive == ["connection", "service-address", "timeout", "daemon"]
    for i, first in enumerate(exclusive):
        for second in exclusive[i + 1 :]:
            with pytest.raises(UsageError) as info:
                parse_args(["-L", *GIVE[second], *GIVE[first]])
            assert info.value.message == (
                f"The option '{second}' conflicts with the '{first}' option in the 'list' command"
            )


def test_optional_list_options_all_together() -> None:
    cmd = parse_args(
        [
            "-L",
            "-n",
            "--stats",
            "--rate",
            "--thresholds",
            "--persistent-conn",
            "--nosort",
            "--exact",
            "--tun-info",
            "--syncid",
            "1",
        ]
    )
    assert cmd.kind == "list"
