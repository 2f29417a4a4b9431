"""ipvsadm 1.31's static tables: options, commands, and which go together.

Copied from ipvsadm.c (``options_table``, ``cmdnames``, ``optnames``,
``commands_v_options``, ``tunnel_types_v_options``) so the validation
messages come out word for word.
"""

from __future__ import annotations

from .popt import OptionSpec

IPVSADM_VERSION = "v1.31"
IPVSADM_VERSION_DATE = "2019/12/24"
IPVS_VERSION_TEXT = "1.2.1"  # what "compiled with ... IPVS v%d.%d.%d" reports
SCHEDULERS = "rr|wrr|lc|wlc|lblc|lblcr|dh|sh|sed|nq|fo|ovf|mh"
PE_LIST = "sip"
DEF_SCHED = "wlc"
DEF_TUNNEL_TYPE = "ipip"
DEF_MCAST_IFN = "eth0"
MAX_TIMEOUT = 86400 * 31
PERSISTENT_TIMEOUT = 6 * 60  # IPVS_SVC_PERSISTENT_TIMEOUT: -p without a value
SCHEDNAME_MAXLEN = 16  # IP_VS_SCHEDNAME_MAXLEN (the name is cut to 15)
PENAME_MAXLEN = 16
IFNAME_MAXLEN = 16

# Commands, in ipvsadm's CMD_* order (the rows of commands_v_options).
CMD_NAMES = (
    "add-service",
    "edit-service",
    "delete-service",
    "flush",
    "list",
    "add-server",
    "delete-server",
    "edit-server",
    "set",
    "start-daemon",
    "stop-daemon",
    "restore",
    "save",
    "zero",
)

# Options, in ipvsadm's OPTC_* order (the columns of commands_v_options).
OPT_NAMES = (
    "numeric",
    "connection",
    "service-address",
    "scheduler",
    "persistent",
    "netmask",
    "real-server",
    "forwarding-method",
    "weight",
    "u-threshold",
    "l-threshold",
    "mcast-interface",
    "timeout",
    "daemon",
    "stats",
    "rate",
    "thresholds",
    "persistent-conn",
    "nosort",
    "syncid",
    "exact",
    "ops",
    "pe",
    "sched-flags",
    "mcast-group",
    "mcast-port",
    "mcast-ttl",
    "sync-maxlen",
    "tun-info",
    "tun-type",
    "tun-port",
    "tun-nocsum",
    "tun-csum",
    "tun-remcsum",
)

# '+' compulsory, 'x' illegal, '1' exclusive (only one '1' option), ' ' optional.
# Columns:    -n -c svc -s -p -M -r fwd -w -x -y -mc tot dmn -st -rt thr -pc srt sid -ex ops -pe -b grp port ttl size tinf type tprt nocs csum remc
_ROWS = {
    "add-service": "xx+   xxxxxxxxxxxxxxx   xxxxxxxxxx",
    "edit-service": "xx+   xxxxxxxxxxxxxxx   xxxxxxxxxx",
    "delete-service": "xx+xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "flush": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "list": " 11xxxxxxxxx11       xxxxxxx xxxxx",
    "add-server": "xx+xxx+    xxxxxxxxxxxxxxxxxx     ",
    "delete-server": "xx+xxx+xxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "edit-server": "xx+xxx+    xxxxxxxxxxxxxxxxxx     ",
    "set": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "start-daemon": "xxxxxxxxxxx xxxxxxx xxxx    xxxxxx",
    "stop-daemon": "xxxxxxxxxxxxxxxxxxx xxxxxxxxxxxxxx",
    "restore": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "save": " xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "zero": "xx xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
}
COMMANDS_V_OPTIONS: dict[str, dict[str, str]] = {
    cmd: dict(zip(OPT_NAMES, _ROWS[cmd], strict=True)) for cmd in CMD_NAMES
}

TUNNEL_TYPES = ("ipip", "gue", "gre")
TUNNEL_OPTS = ("tun-port", "tun-nocsum", "tun-csum", "tun-remcsum")
TUNNEL_TYPES_V_OPTIONS: dict[str, dict[str, str]] = {
    "ipip": dict(zip(TUNNEL_OPTS, "xxxx", strict=True)),
    "gue": dict(zip(TUNNEL_OPTS, "+111", strict=True)),
    "gre": dict(zip(TUNNEL_OPTS, "x11x", strict=True)),
}
TUNNEL_FLAG_NAMES = ("-c", "+c", "r+c")  # nocsum, csum, remcsum as --tun-info shows them
TUNNEL_FLAG_OPTS = ("--tun-nocsum", "--tun-csum", "--tun-remcsum")

# popt's option table, in ipvsadm's order (first match wins for --list).
OPTIONS: tuple[OptionSpec, ...] = (
    OptionSpec("add-service", "A", "A"),
    OptionSpec("edit-service", "E", "E"),
    OptionSpec("delete-service", "D", "D"),
    OptionSpec("clear", "C", "C"),
    OptionSpec("list", "L", "L"),
    OptionSpec("list", "l", "l"),
    OptionSpec("zero", "Z", "Z"),
    OptionSpec("add-server", "a", "a"),
    OptionSpec("edit-server", "e", "e"),
    OptionSpec("delete-server", "d", "d"),
    OptionSpec("set", None, "set"),
    OptionSpec("help", "h", "h"),
    OptionSpec("version", "v", "v"),
    OptionSpec("restore", "R", "R"),
    OptionSpec("save", "S", "S"),
    OptionSpec("start-daemon", None, "start-daemon", takes_arg=True),
    OptionSpec("stop-daemon", None, "stop-daemon", takes_arg=True),
    OptionSpec("tcp-service", "t", "t", takes_arg=True),
    OptionSpec("udp-service", "u", "u", takes_arg=True),
    OptionSpec("sctp-service", None, "sctp-service", takes_arg=True),
    OptionSpec("fwmark-service", "f", "f", takes_arg=True),
    OptionSpec("scheduler", "s", "s", takes_arg=True),
    OptionSpec("persistent", "p", "p", takes_arg=True, optional_arg=True),
    OptionSpec("netmask", "M", "M", takes_arg=True),
    OptionSpec("real-server", "r", "r", takes_arg=True),
    OptionSpec("masquerading", "m", "m"),
    OptionSpec("ipip", "i", "i"),
    OptionSpec("gatewaying", "g", "g"),
    OptionSpec("weight", "w", "w", takes_arg=True),
    OptionSpec("u-threshold", "x", "x", takes_arg=True),
    OptionSpec("l-threshold", "y", "y", takes_arg=True),
    OptionSpec("numeric", "n", "n"),
    OptionSpec("connection", "c", "c"),
    OptionSpec("mcast-interface", None, "mcast-interface", takes_arg=True),
    OptionSpec("syncid", None, "syncid", takes_arg=True),
    OptionSpec("timeout", None, "timeout"),
    OptionSpec("daemon", None, "daemon"),
    OptionSpec("stats", None, "stats"),
    OptionSpec("rate", None, "rate"),
    OptionSpec("thresholds", None, "thresholds"),
    OptionSpec("persistent-conn", None, "persistent-conn"),
    OptionSpec("nosort", None, "nosort"),
    OptionSpec("sort", None, "sort"),
    OptionSpec("exact", "X", "X"),
    OptionSpec("ipv6", "6", "6"),
    OptionSpec("ops", "o", "o"),
    OptionSpec("pe", None, "pe", takes_arg=True),
    OptionSpec("sched-flags", "b", "b", takes_arg=True),
    OptionSpec("mcast-group", None, "mcast-group", takes_arg=True),
    OptionSpec("mcast-port", None, "mcast-port", takes_arg=True),
    OptionSpec("mcast-ttl", None, "mcast-ttl", takes_arg=True),
    OptionSpec("sync-maxlen", None, "sync-maxlen", takes_arg=True),
    OptionSpec("tun-info", None, "tun-info"),
    OptionSpec("tun-type", None, "tun-type", takes_arg=True),
    OptionSpec("tun-port", None, "tun-port", takes_arg=True),
    OptionSpec("tun-nocsum", None, "tun-nocsum"),
    OptionSpec("tun-csum", None, "tun-csum"),
    OptionSpec("tun-remcsum", None, "tun-remcsum"),
)

# The command a first option selects (ipvsadm's first switch).
COMMAND_TAGS = {
    "A": "add-service",
    "E": "edit-service",
    "D": "delete-service",
    "a": "add-server",
    "e": "edit-server",
    "d": "delete-server",
    "C": "flush",
    "L": "list",
    "l": "list",
    "Z": "zero",
    "set": "set",
    "R": "restore",
    "S": "save",
    "start-daemon": "start-daemon",
    "stop-daemon": "stop-daemon",
}

# Scheduler flag bits (IP_VS_SVC_F_SCHED1..3) and the names -b accepts.
SCHED_FLAG_1 = 0x08
SCHED_FLAG_2 = 0x10
SCHED_FLAG_3 = 0x20
SCHED_FLAG_BITS = {
    "flag-1": SCHED_FLAG_1,
    "flag-2": SCHED_FLAG_2,
    "flag-3": SCHED_FLAG_3,
    "sh-fallback": SCHED_FLAG_1,
    "sh-port": SCHED_FLAG_2,
    "mh-fallback": SCHED_FLAG_1,
    "mh-port": SCHED_FLAG_2,
}
# flags only valid with one scheduler
SCHED_FLAG_OWNER = {"sh-fallback": "sh", "sh-port": "sh", "mh-fallback": "mh", "mh-port": "mh"}


def sched_flag_names(scheduler: str, bits: int) -> list[str]:
    """The flag names ipvsadm prints for ``bits`` (print_sched_flags).

    For sh and mh the first two bits have the scheduler's own names and the
    third is not printed at all; other schedulers show flag-1..3.
    """
    if scheduler in ("sh", "mh"):
        names = [f"{scheduler}-fallback", f"{scheduler}-port"]
        return [n for n, b in zip(names, (SCHED_FLAG_1, SCHED_FLAG_2), strict=True) if bits & b]
    return [
        f"flag-{i + 1}"
        for i, b in enumerate((SCHED_FLAG_1, SCHED_FLAG_2, SCHED_FLAG_3))
        if bits & b
    ]


def sched_flags_from_names(names: frozenset[str] | set[str]) -> int:
    bits = 0
    for name in names:
        bits |= SCHED_FLAG_BITS.get(name, 0)
    return bits


def sched_flag_set(scheduler: str, bits: int) -> frozenset[str]:
    """The model's flag names for ``bits`` under ``scheduler``.

    Unlike :func:`sched_flag_names` this keeps the third bit for sh/mh (as
    "flag-3") so nothing the kernel would store is lost.
    """
    names = set(sched_flag_names(scheduler, bits))
    if scheduler in ("sh", "mh") and bits & SCHED_FLAG_3:
        names.add("flag-3")
    return frozenset(names)
