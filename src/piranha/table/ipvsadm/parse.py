"""ipvsadm's command line: ``parse_options`` and the checks of ``process_options``.

Errors come out in ipvsadm's order and words: each option is checked as it
is read (so the first bad option on the line is the one reported), then the
``--set`` values, left-over words and scheduler flags, then the
command/option table, then the per-command rules.
"""

from __future__ import annotations

import ipaddress
import re

from ..model import IPPROTO_TCP, IPPROTO_UDP, Forward
from .addresses import (
    AF_INET,
    AF_INET6,
    IPPROTO_SCTP,
    NUMERIC,
    Resolver,
    inet6,
    parse_fwmark,
    parse_netmask,
    parse_service,
    string_to_number,
)
from .command import Command, UsageError
from .popt import ERROR_TEXTS, Option, PoptContext
from .tables import (
    COMMAND_TAGS,
    COMMANDS_V_OPTIONS,
    DEF_MCAST_IFN,
    DEF_SCHED,
    IFNAME_MAXLEN,
    MAX_TIMEOUT,
    OPT_NAMES,
    OPTIONS,
    PENAME_MAXLEN,
    PERSISTENT_TIMEOUT,
    SCHED_FLAG_1,
    SCHED_FLAG_2,
    SCHED_FLAG_3,
    SCHED_FLAG_BITS,
    SCHED_FLAG_OWNER,
    SCHEDNAME_MAXLEN,
    TUNNEL_OPTS,
    TUNNEL_TYPES,
    TUNNEL_TYPES_V_OPTIONS,
)

INT_MAX = 2**31 - 1
_ATOI = re.compile(r"[ \t\n\v\f\r]*([+-]?[0-9]+)")

_PROTOCOL_OF = {"t": IPPROTO_TCP, "u": IPPROTO_UDP, "sctp-service": IPPROTO_SCTP}
_FORWARD_OF = {"m": Forward.MASQ, "g": Forward.ROUTE, "i": Forward.TUNNEL}
_TUN_FLAG_OF = {"tun-nocsum": 0, "tun-csum": 1, "tun-remcsum": 2}
# options that only set their bit (and maybe a listing format)
_PLAIN_OPTIONS = {
    "c": "connection",
    "n": "numeric",
    "timeout": "timeout",
    "daemon": "daemon",
    "stats": "stats",
    "rate": "rate",
    "thresholds": "thresholds",
    "persistent-conn": "persistent-conn",
    "nosort": "nosort",
    "X": "exact",
    "tun-info": "tun-info",
}


def fail(message: str, exit_code: int = 2) -> UsageError:
    return UsageError(message, exit_code)


def tryhelp(prog: str) -> UsageError:
    return UsageError(f"Try `{prog} -h' or '{prog} --help' for more information.", 255)


def parse_args(
    argv: list[str], *, prog: str = "lvsadm", resolver: Resolver | None = None
) -> Command:
    """Parse one ipvsadm command line (``argv`` without the program name).

    Returns the command, or raises :class:`UsageError` carrying ipvsadm's
    message and exit status.  ``-h``/``-v`` come back as the commands
    "help"/"version"; no arguments at all is a (non-numeric) listing.
    """
    resolver = resolver or NUMERIC
    if not argv:
        return Command("list", prog=prog)
    cmd = _parse_options(argv, prog, resolver)
    if cmd.kind in ("help", "version"):
        return cmd
    _generic_opt_check(cmd)
    _check_command(cmd)
    return cmd


def _set_option(cmd: Command, name: str) -> None:
    if name in cmd.options:
        raise fail(f"multiple '{name}' options specified")
    cmd.options.add(name)


def _parse_timeout(text: str | None, low: int, high: int) -> int:
    if text is None:  # only -p can leave its value out
        return PERSISTENT_TIMEOUT
    value = string_to_number(text, low, high)
    if value == -1:
        raise fail(f"invalid timeout value `{text}' specified")
    return value


def _parse_options(argv: list[str], prog: str, resolver: Resolver) -> Command:
    ctx = PoptContext(OPTIONS, [prog, *argv])
    first = ctx.get_next()
    if not isinstance(first, Option):
        raise tryhelp(prog)
    if first.tag == "h":
        return Command("help", prog=prog)
    if first.tag == "v":
        return Command("version", prog=prog)
    kind = COMMAND_TAGS.get(first.tag)
    if kind is None:
        raise tryhelp(prog)
    cmd = Command(kind, prog=prog)
    if kind in ("start-daemon", "stop-daemon"):
        if first.arg not in ("master", "backup"):
            # (sic: ipvsadm words the two differently)
            raise fail(
                "illegal start-daemon parameter specified"
                if kind == "start-daemon"
                else "illegal start_daemon specified"
            )
        cmd.daemon.state = first.arg

    sched_flags_arg = ""
    while True:
        opt = ctx.get_next()
        if not isinstance(opt, Option):
            break
        sched_flags_arg = _apply_option(cmd, opt, ctx, resolver, sched_flags_arg)
    if opt < -1:
        raise UsageError(f"{ctx.bad_option()}: {ERROR_TEXTS[opt]}", 255, aborts=False)

    if cmd.kind == "set":
        values = [ctx.get_arg(), ctx.get_arg(), ctx.get_arg()]
        if any(v is None for v in values):
            raise fail("--set option requires 3 timeout values")
        tcp, tcpfin, udp = (_parse_timeout(v, 0, MAX_TIMEOUT) for v in values)
        cmd.timeouts = (tcp, tcpfin, udp)

    extra = ctx.get_arg()
    if extra is not None:
        raise fail(f"unexpected argument {extra}")

    if sched_flags_arg:
        svc = cmd.service
        svc.sched_flags &= ~(SCHED_FLAG_1 | SCHED_FLAG_2 | SCHED_FLAG_3)
        svc.sched_flags |= _parse_sched_flags(svc.scheduler, sched_flags_arg)
    return cmd


def _apply_option(
    cmd: Command, opt: Option, ctx: PoptContext, resolver: Resolver, sched_flags_arg: str
) -> str:
    """One option of the main loop; returns the (possibly new) -b argument."""
    svc, dest, daemon = cmd.service, cmd.dest, cmd.daemon
    tag, arg = opt.tag, opt.arg or ""
    if tag in _PROTOCOL_OF:
        _set_option(cmd, "service-address")
        svc.protocol = _PROTOCOL_OF[tag]
        endpoint = parse_service(arg, svc.protocol, resolver)
        if endpoint is None:
            raise fail("illegal virtual server address[:port] specified")
        svc.af, svc.address = endpoint.af, endpoint.address
        if endpoint.af == AF_INET6:
            svc.netmask = 128
        if endpoint.port is not None:
            svc.port = endpoint.port
    elif tag == "f":
        _set_option(cmd, "service-address")
        svc.af, svc.protocol = AF_INET, IPPROTO_TCP  # "sane values, even though not used"
        mark = parse_fwmark(arg)
        if mark is None:
            raise fail(f"invalid fwmark value `{arg}' specified")
        svc.fwmark = mark
    elif tag == "s":
        _set_option(cmd, "scheduler")
        svc.scheduler = arg[: SCHEDNAME_MAXLEN - 1]
    elif tag == "p":
        _set_option(cmd, "persistent")
        svc.persistent = True
        svc.timeout = _parse_timeout(opt.arg, 1, MAX_TIMEOUT)
    elif tag == "M":
        _set_option(cmd, "netmask")
        if svc.af != AF_INET6:
            mask = parse_netmask(arg, resolver)
            if mask is None:
                raise fail("illegal virtual server persistent mask specified")
            svc.netmask = mask
        else:
            match = _ATOI.match(arg)
            prefix = int(match.group(1)) if match else 0
            if not 1 <= prefix <= 128:
                raise fail("illegal ipv6 netmask specified")
            svc.netmask = prefix
    elif tag == "r":
        _set_option(cmd, "real-server")
        endpoint = parse_service(arg, svc.protocol, resolver)
        if endpoint is None:
            raise fail("illegal real server address[:port] specified")
        dest.af, dest.address = endpoint.af, endpoint.address
        # no port given: the service's port (as far as the line has said it)
        dest.port = endpoint.port if endpoint.port is not None else svc.port
    elif tag in _FORWARD_OF:
        _set_option(cmd, "forwarding-method")
        dest.forward = _FORWARD_OF[tag]
    elif tag == "w":
        _set_option(cmd, "weight")
        dest.weight = string_to_number(arg, 0, 65535)
        if dest.weight == -1:
            raise fail("illegal weight specified")
    elif tag == "x":
        _set_option(cmd, "u-threshold")
        dest.u_threshold = string_to_number(arg, 0, INT_MAX)
        if dest.u_threshold == -1:
            raise fail("illegal u_threshold specified")
    elif tag == "y":
        _set_option(cmd, "l-threshold")
        dest.l_threshold = string_to_number(arg, 0, INT_MAX)
        if dest.l_threshold == -1:
            raise fail("illegal l_threshold specified")
    elif tag in _PLAIN_OPTIONS:
        _set_option(cmd, _PLAIN_OPTIONS[tag])
    elif tag == "mcast-interface":
        _set_option(cmd, "mcast-interface")
        daemon.mcast_interface = arg[: IFNAME_MAXLEN - 1]
    elif tag == "syncid":
        _set_option(cmd, "syncid")
        daemon.syncid = string_to_number(arg, 0, 255)
        if daemon.syncid == -1:
            raise fail("illegal syncid specified")
    elif tag == "sort":
        pass  # sorting is the default; accepted for compatibility
    elif tag == "6":
        if not svc.fwmark:
            raise fail("-6 used before -f\n")  # (sic: ipvsadm prints an empty line after it)
        svc.af, svc.netmask = AF_INET6, 128
    elif tag == "o":
        _set_option(cmd, "ops")
        svc.ops = True
    elif tag == "pe":
        _set_option(cmd, "pe")
        svc.pe_name = arg[:PENAME_MAXLEN]
    elif tag == "b":
        _set_option(cmd, "sched-flags")
        sched_flags_arg = arg[:127]
    elif tag == "mcast-group":
        _set_option(cmd, "mcast-group")
        daemon.mcast_group = _parse_mcast_group(arg)
    elif tag in ("mcast-port", "mcast-ttl", "sync-maxlen", "tun-port"):
        _set_option(cmd, tag)
        high = {"mcast-port": 65535, "mcast-ttl": 255, "sync-maxlen": 65535 - 20 - 8}
        value = string_to_number(arg, 1, high.get(tag, 65535))
        if value == -1:
            what = "tunnel port" if tag == "tun-port" else tag
            raise fail(f"illegal {what} specified")
        if tag == "mcast-port":
            daemon.mcast_port = value
        elif tag == "mcast-ttl":
            daemon.mcast_ttl = value
        elif tag == "sync-maxlen":
            daemon.sync_maxlen = value
        else:
            dest.tun_port = value
    elif tag == "tun-type":
        _set_option(cmd, "tun-type")
        if arg not in TUNNEL_TYPES:
            raise fail("illegal tunnel type specified")
        dest.tun_type = arg
    elif tag in _TUN_FLAG_OF:
        _set_option(cmd, tag)
        dest.tun_flags |= _TUN_FLAG_OF[tag]
    else:
        # a second command, -h or -v after the command
        raise fail(f"invalid option `{ctx.bad_option()}'")
    return sched_flags_arg


def _parse_mcast_group(text: str) -> str:
    if ":" in text:
        group = inet6(text)
        if group is None or not ipaddress.IPv6Address(group).is_multicast:
            raise fail(f"invalid IPv6 mcast-group `{text}'")
        return group
    try:
        group4 = ipaddress.IPv4Address(text)  # inet_pton: a strict dotted quad
    except ValueError:
        group4 = None
    if group4 is None or not group4.is_multicast:
        raise fail(f"invalid IPv4 mcast-group `{text}'")
    return str(group4)


def _parse_sched_flags(scheduler: str, text: str) -> int:
    scheduler = scheduler or DEF_SCHED
    names = [name for name in text.split(",") if name]  # strtok skips empty fields
    if not names:
        raise fail(f"invalid scheduler flag `{text}'")
    bits = 0
    for name in names:
        if name not in SCHED_FLAG_BITS:
            raise fail(f"invalid scheduler flag `{name}'")
        bits |= SCHED_FLAG_BITS[name]
        owner = SCHED_FLAG_OWNER.get(name)
        if owner is not None and owner != scheduler:
            raise fail(f"incompatible scheduler flag `{name}'")
    return bits


def _generic_opt_check(cmd: Command) -> None:
    """The commands_v_options table, walked in column order as ipvsadm does."""
    row = COMMANDS_V_OPTIONS[cmd.kind]
    exclusive: str | None = None
    for name in OPT_NAMES:
        rule = row[name]
        if name not in cmd.options:
            if rule == "+":
                raise fail(f"You need to supply the '{name}' option for the '{cmd.kind}' command")
            continue
        if rule == "x":
            raise fail(f"Illegal '{name}' option with the '{cmd.kind}' command")
        if rule == "1":
            if exclusive is None:
                exclusive = name
                continue
            raise fail(
                f"The option '{name}' conflicts with the '{exclusive}' option "
                f"in the '{cmd.kind}' command"
            )


def _tunnel_opt_check(cmd: Command) -> None:
    tun_type = cmd.dest.tun_type
    row = TUNNEL_TYPES_V_OPTIONS[tun_type]
    exclusive: str | None = None
    for name in TUNNEL_OPTS:
        rule = row[name]
        if name not in cmd.options:
            if rule == "+":
                raise fail(
                    f"You need to supply the '{name}' option for the '{tun_type}' tunnel type"
                )
            continue
        if rule == "x":
            raise fail(f"Illegal '{name}' option with the '{tun_type}' tunnel type")
        if rule == "1":
            if exclusive is None:
                exclusive = name
                continue
            raise fail(
                f"The option '{name}' conflicts with the '{exclusive}' option "
                f"in the '{tun_type}' tunnel type"
            )


_TUNNEL_OPTIONS = {"tun-type", "tun-port", "tun-nocsum", "tun-csum", "tun-remcsum"}


def _check_command(cmd: Command) -> None:
    """process_options' rules between the table check and the kernel call."""
    svc, dest = cmd.service, cmd.dest
    if cmd.kind in ("add-service", "edit-service"):
        if not svc.fwmark and not svc.port and not svc.persistent:
            raise fail("Zero port specified for non-persistent service")
        if svc.ops and not svc.fwmark and svc.protocol != IPPROTO_UDP:
            raise fail("One-Packet Scheduling is only for UDP virtual services")
        if not svc.scheduler:
            svc.scheduler = DEF_SCHED

    if cmd.kind == "start-daemon" and not cmd.daemon.mcast_interface:
        cmd.daemon.mcast_interface = DEF_MCAST_IFN

    if cmd.kind in ("add-server", "edit-server"):
        # Direct routing and tunnelling cannot change the port, so the real
        # port is the virtual one (not for fwmark services).
        if not svc.fwmark and dest.forward in (Forward.TUNNEL, Forward.ROUTE):
            dest.port = svc.port
        if dest.af != svc.af and dest.forward != Forward.TUNNEL:
            raise fail("Different address family is allowed only for tunneling servers")
        if cmd.options & _TUNNEL_OPTIONS and dest.forward != Forward.TUNNEL:
            raise fail("Tunnel options conflict with forward method")
        _tunnel_opt_check(cmd)

    if cmd.kind == "list":
        opts = cmd.options
        if (
            opts & {"connection", "timeout", "daemon"} and opts & {"stats", "rate", "thresholds"}
        ) or (opts & {"timeout", "daemon"} and "persistent-conn" in opts):
            raise fail("options conflicts in the list command")
