"""ipvsadm's output, byte for byte: ``-L`` in all its forms and ``-S``.

Layouts are ipvsadm 1.31's ``print_title``, ``print_service_entry``,
``print_largenum``, ``print_conn``, ``list_timeout`` and ``list_daemon``,
including the trailing blanks of destination lines and the different
column widths of the ``-c --persistent-conn`` header and rows.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from ..model import (
    IPPROTO_IP,
    IPPROTO_TCP,
    IPPROTO_UDP,
    IPVS_VERSION,
    NO_SERVICE,
    Connection,
    Destination,
    Forward,
    Service,
    ServiceKey,
    TableError,
    VirtualTable,
)
from .addresses import IPPROTO_SCTP, NUMERIC, Resolver, addrport
from .tables import (
    SCHED_FLAG_1,
    SCHED_FLAG_2,
    SCHED_FLAG_3,
    sched_flag_names,
    sched_flags_from_names,
)

DEFAULT_MASK = "255.255.255.255"
_SCHED_BITS = SCHED_FLAG_1 | SCHED_FLAG_2 | SCHED_FLAG_3


@dataclass(frozen=True, slots=True)
class ListOptions:
    """What ``ipvsadm -L`` was asked to show (the listing options of a command line)."""

    numeric: bool = False  # -n
    connections: bool = False  # -c
    service: ServiceKey | None = None  # -L -t VIP:port: only that service
    timeout: bool = False  # --timeout
    daemon: bool = False  # --daemon
    stats: bool = False  # --stats
    rate: bool = False  # --rate
    thresholds: bool = False  # --thresholds
    persistent_conn: bool = False  # --persistent-conn
    exact: bool = False  # --exact / -X
    nosort: bool = False  # --nosort
    tun_info: bool = False  # --tun-info


def render_list(
    table: VirtualTable,
    options: ListOptions | None = None,
    now: float = 0.0,
    resolver: Resolver | None = None,
) -> str:
    """What ``ipvsadm -L`` prints for ``options``.

    ``now`` is the clock of the connections' ``expires`` (for ``-c``).
    Listing one service that does not exist raises TableError("No such
    service").
    """
    options = options or ListOptions()
    resolver = resolver or NUMERIC
    if options.connections:
        return "".join(_list_conn(table, options, now, resolver))
    if options.service is not None:
        svc = table.services.get(options.service)
        if svc is None:
            raise TableError(NO_SERVICE)
        return _title(options) + "".join(_service_entry(svc, options, resolver))
    if options.timeout:
        t = table.timeouts
        return f"Timeout (tcp tcpfin udp): {t.tcp} {t.tcpfin} {t.udp}\n"
    if options.daemon:
        return "".join(_list_daemon(table))
    out = [
        f"IP Virtual Server version {IPVS_VERSION} (size={table.conn_tab_size})\n",
        _title(options),
    ]
    for svc in _services(table, options.nosort):
        out.extend(_service_entry(svc, options, resolver))
    return "".join(out)


def render_save(table: VirtualTable, numeric: bool = True, resolver: Resolver | None = None) -> str:
    """What ``ipvsadm -S [-n]`` prints: the rules that ``-R`` reads back."""
    resolver = resolver or NUMERIC
    out: list[str] = []
    for svc in _services(table, nosort=False):
        out.extend(_rule_entry(svc, numeric, resolver))
    return "".join(out)


# -- services -----------------------------------------------------------------


def _services(table: VirtualTable, nosort: bool) -> list[Service]:
    if nosort:
        return list(table.services.values())
    return table.sorted_services()


def _dests(svc: Service, nosort: bool) -> Iterable[Destination]:
    if nosort:
        return list(svc.destinations)
    return sorted(svc.destinations, key=Destination.sort_key)


def _title(options: ListOptions) -> str:
    if options.stats:
        names = ("Conns", "InPkts", "OutPkts", "InBytes", "OutBytes")
    elif options.rate:
        names = ("CPS", "InPPS", "OutPPS", "InBPS", "OutBPS")
    else:
        names = ()
    if names:
        cols = "".join(f" {n:>8}" for n in names)
        return f"{'Prot LocalAddress:Port':<33}{cols}\n  -> RemoteAddress:Port\n"
    if options.thresholds:
        return (
            f"{'Prot LocalAddress:Port':<33} {'Uthreshold':<10} {'Lthreshold':<10} "
            f"{'ActiveConn':<10} {'InActConn':<10}\n  -> RemoteAddress:Port\n"
        )
    if options.persistent_conn:
        return (
            f"{'Prot LocalAddress:Port':<33} {'Weight':<9} {'PersistConn':<11} "
            f"{'ActiveConn':<10} {'InActConn':<10}\n  -> RemoteAddress:Port\n"
        )
    if options.tun_info:
        return (
            "Prot LocalAddress:Port Scheduler Flags\n"
            "  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn\n"
        )
    return (
        "Prot LocalAddress:Port Scheduler Flags\n"
        "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
    )


_PROTOCOL_NAMES = {IPPROTO_TCP: "TCP", IPPROTO_UDP: "UDP", IPPROTO_SCTP: "SCTP"}
_PROTOCOL_OPTIONS = {IPPROTO_TCP: "-t", IPPROTO_UDP: "-u", IPPROTO_SCTP: "--sctp-service"}


def _service_name(svc: Service, numeric: bool, resolver: Resolver, rule: bool) -> str:
    key = svc.key
    if key.fwmark:
        return f"-f {key.fwmark}" if rule else f"FWM  {key.fwmark}"
    vname = addrport(key.address, key.port, key.protocol, numeric, resolver)
    if rule:
        return f"{_PROTOCOL_OPTIONS.get(key.protocol, '--xxx-service')} {vname}"
    return f"{_PROTOCOL_NAMES.get(key.protocol, '?'):<4} {vname}"[:33]


def _flag_text(svc: Service) -> tuple[int, str]:
    bits = sched_flags_from_names(svc.sched_flags) & _SCHED_BITS
    return bits, ",".join(sched_flag_names(svc.scheduler_name, bits))


def largenum(value: int, exact: bool) -> str:
    """print_largenum: 9 columns, abbreviated with K/M/G/T unless exact."""
    if exact:
        digits = len(str(value))
        return f"{value:>{9 if digits <= 8 else digits + 1}}"
    if value < 100_000_000:
        return f"{value:>9}"
    if value < 1_000_000_000:
        return f"{value // 1000:>8}K"
    if value < 100_000_000_000:
        return f"{value // 1_000_000:>8}M"
    if value < 100_000_000_000_000:
        return f"{value // 1_000_000_000:>8}G"
    return f"{value // 1_000_000_000_000:>8}T"


def _service_entry(svc: Service, options: ListOptions, resolver: Resolver) -> Iterable[str]:
    name = _service_name(svc, options.numeric, resolver, rule=False)
    exact = options.exact
    if options.stats:
        s = svc.stats
        nums = (s.conns, s.inpkts, s.outpkts, s.inbytes, s.outbytes)
        yield f"{name:<33}" + "".join(largenum(n, exact) for n in nums) + "\n"
    elif options.rate:
        r = svc.rates
        nums = (r.cps, r.inpps, r.outpps, r.inbps, r.outbps)
        yield f"{name:<33}" + "".join(largenum(n, exact) for n in nums) + "\n"
    else:
        line = f"{name} {svc.scheduler_name}"
        bits, flags = _flag_text(svc)
        if bits:
            line += f" ({flags})"
        if svc.persistent:
            line += f" persistent {svc.persistent}"
            if svc.netmask != DEFAULT_MASK:
                line += f" mask {svc.netmask}"
            if svc.pe_name:
                line += f" pe {svc.pe_name}"
        if svc.ops:
            line += " ops"
        yield line + "\n"

    for dest in _dests(svc, options.nosort):
        dname = addrport(dest.address, dest.port, svc.key.protocol, options.numeric, resolver)[:28]
        if options.stats:
            s = dest.stats
            nums = (s.conns, s.inpkts, s.outpkts, s.inbytes, s.outbytes)
            yield f"  -> {dname:<28}" + "".join(largenum(n, exact) for n in nums) + "\n"
        elif options.rate:
            r = dest.rates
            yield (
                f"  -> {dname:<28} {r.cps:>8} {r.inpps:>8} {r.outpps:>8}"
                f"{largenum(r.inbps, exact)}{largenum(r.outbps, exact)}\n"
            )
        elif options.thresholds:
            yield (
                f"  -> {dname:<28} {dest.u_threshold:<10} {dest.l_threshold:<10} "
                f"{dest.activeconns:<10} {dest.inactconns:<10}\n"
            )
        elif options.persistent_conn:
            yield (
                f"  -> {dname:<28} {dest.weight:<9} {dest.persistconns:<11} "
                f"{dest.activeconns:<10} {dest.inactconns:<10}\n"
            )
        elif options.tun_info:
            info = "ipip" if dest.forward is Forward.TUNNEL else "n/a"
            yield (
                f"  -> {dname:<28} {dest.forward.value:<7} {info:<13} {dest.weight:<6} "
                f"{dest.activeconns:<10} {dest.inactconns:<10}\n"
            )
        else:
            yield (
                f"  -> {dname:<28} {dest.forward.value:<7} {dest.weight:<6} "
                f"{dest.activeconns:<10} {dest.inactconns:<10}\n"
            )


def _rule_entry(svc: Service, numeric: bool, resolver: Resolver) -> Iterable[str]:
    name = _service_name(svc, numeric, resolver, rule=True)
    line = f"-A {name} -s {svc.scheduler_name}"
    if svc.persistent:
        line += f" -p {svc.persistent}"
        if svc.netmask != DEFAULT_MASK:
            line += f" -M {svc.netmask}"
    if svc.pe_name:
        line += f" --pe {svc.pe_name}"
    if svc.ops:
        line += " -o"
    bits, flags = _flag_text(svc)
    if bits:
        line += f" -b {flags}"
    yield line + "\n"
    for dest in _dests(svc, nosort=False):
        dname = addrport(dest.address, dest.port, svc.key.protocol, numeric, resolver)
        line = f"-a {name} -r {dname} {dest.forward.flag} -w {dest.weight}"
        if dest.forward is Forward.TUNNEL:
            line += " --tun-type ipip"  # piranha's tunnels are all ipip
        yield line + "\n"


# -- connections, timeouts, daemons -------------------------------------------

_CONN_PROTOCOL_NAMES = {
    IPPROTO_IP: "IP",
    IPPROTO_TCP: "TCP",
    IPPROTO_UDP: "UDP",
    IPPROTO_SCTP: "SCTP",
    1: "ICMP",
    58: "ICMPv6",
}


def conn_protocol_name(proto: int) -> str:
    """ip_vs_proto_name: how /proc/net/ip_vs_conn names a protocol."""
    return _CONN_PROTOCOL_NAMES.get(proto, f"IP_{proto}")


def expire_text(expires: float, now: float) -> str:
    seconds = max(0, math.floor(expires - now))
    return f"{seconds // 60:02d}:{seconds % 60:02d}"


def _list_conn(
    table: VirtualTable, options: ListOptions, now: float, resolver: Resolver
) -> Iterable[str]:
    yield "IPVS connection entries\n"
    if options.persistent_conn:
        yield (
            f"pro expire {'state':<11} {'source':<18} {'virtual':<18} {'destination':<18} "
            f"{'pe name':<16} pe_data\n"
        )
    else:
        yield f"pro expire {'state':<11} {'source':<18} {'virtual':<18} destination\n"
    entries: Iterable[Connection] = ()
    if table.connections is not None:
        entries = table.connections.entries()
    for conn in entries:
        yield _conn_line(conn, options, now, resolver)


def _conn_line(conn: Connection, options: ListOptions, now: float, resolver: Resolver) -> str:
    proto = conn.protocol
    numeric = options.numeric
    cname = addrport(conn.caddr, conn.cport, proto, numeric, resolver)
    vname = addrport(conn.vaddr, conn.vport, proto, numeric, resolver)
    dname = addrport(conn.daddr, conn.dport, proto, numeric, resolver)
    head = f"{conn_protocol_name(proto):<3} {expire_text(conn.expires, now):<6} {conn.state:<11} "
    if options.persistent_conn and conn.pe_data:
        # (sic) the rows give "destination" 16 columns and "pe name" 18, the header the reverse
        return f"{head}{cname:<18} {vname:<18} {dname:<16} {conn.pe_name:<18} {conn.pe_data}\n"
    return f"{head}{cname:<18} {vname:<18} {dname}\n"


def _list_daemon(table: VirtualTable) -> Iterable[str]:
    for state in ("master", "backup"):
        daemon = table.daemons.get(state)
        if daemon is None:
            continue
        line = f"{state} sync daemon (mcast={daemon.mcast_interface}, syncid={daemon.syncid}"
        # fields a newer model may carry (1.31 prints them only when set)
        maxlen = getattr(daemon, "sync_maxlen", 0)
        group = getattr(daemon, "mcast_group", "")
        port = getattr(daemon, "mcast_port", 0)
        ttl = getattr(daemon, "mcast_ttl", 0)
        if maxlen:
            line += f", maxlen={maxlen}"
        if group:
            line += f", group={group}"
        if port:
            line += f", port={port}"
        if ttl:
            line += f", ttl={ttl}"
        yield line + ")\n"
