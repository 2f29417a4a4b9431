"""The desired kernel state for a virtual server table: nft objects and set elements.

Two tables of our own, nothing else touched:

``table ip piranha`` — NAT (and every service without real servers)::

    nat_pre / nat_out (nat hooks)   meta mark vmap @svc_marks        fwmark services
                                    ip daddr . meta l4proto . th dport vmap @svc_ports
                                    ip daddr . meta l4proto vmap @svc_anyport   (port 0)
    svc_<service>_<hash>            one chain per service, entered for the first
                                    packet of each connection only (nat chains):
        ct timeout set "to_tcp_…"        IPVS-like timeouts for the connection
        ct mark set <client> map @persist_…     persistence template, if any
        ct mark 0 ct mark set numgen|jhash … offset <service base>   a slot number
        jump resolve          (shared: slot number -> real server's mark, @slots)
        ct mark < 0x80000000 reject with icmp type port-unreachable   no server
        update @persist_… { <client> : ct mark }
        ct mark @cnt_conn                                     connection counter
        goto nat_to           (shared: dnat ip to ct mark map @targets | @targets_addr)
    mark_pre / mark_out (mangle)    the fwmark rules from Service.match
    count_fwd / count_in / count_out   ct mark @cnt_in / @cnt_out per packet

The conntrack entry keeps the NAT binding, so established connections
never touch these chains again; its ``ct mark`` names the real server
(see :mod:`.numbering`).

``table netdev piranha`` — direct routing, on the ingress hook of the
interfaces that receive the virtual IPs: the frame is forwarded unchanged
to the real server's MAC (``fwd ip to <real server> device <dev>``).
There is no conntrack before ingress, so each service keeps its own flow
entries in ``@flows_tcp``/``@flows_udp`` (client address and port, VIP
and port → mark), refreshed per packet with IPVS's timeouts: 60 s after
the SYN, ``tcp`` timeout while established, ``tcpfin`` once a FIN or RST
was seen (``@closing``), ``udp`` for UDP.

Chains and dynamic maps are never edited: a name carries a hash of the
content, so a change is a new object, switched in by the element batch
(the fast, atomic part, :mod:`.apply`), and the old one deleted after.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from piranha.dataplane.kernel import nftvalues as v
from piranha.dataplane.kernel.netinfo import Route
from piranha.dataplane.kernel.nfnetlink import Verdict
from piranha.table.model import (
    IPPROTO_TCP,
    IPPROTO_UDP,
    Destination,
    Forward,
    MarkMatch,
    Service,
    ServiceKey,
    Timeouts,
)

from .numbering import MARK_BIT, Numbering, service_slug, service_text
from .slots import FALLBACK_OFFSET, SlotPlan, needs_counts, plan_slots, unsupported_reason

TABLE = "piranha"
NAT = "ip"
DR = "netdev"
HASH_SEED = 0x5049524E  # "PIRN": fixed, so that two directors hash alike
SYN_TIMEOUT = 60  # IPVS's SYN_RECV timeout (tcp_timeouts[] in ip_vs_proto_tcp.c)
DEFAULT_FLOW_TABLE_SIZE = 1 << 21
PERSIST_SIZE = 1 << 20

ObjKey = tuple[str, str, str]  # family, kind, name
SetKey = tuple[str, str]  # family, set name
Value = bytes | Verdict | None


@dataclass(frozen=True, slots=True)
class NftObject:
    family: str
    kind: str  # "table" | "ct timeout" | "set" | "map" | "chain"
    name: str
    decl: str = ""  # what goes inside { } when created
    rules: tuple[str, ...] = ()  # chains only
    base: bool = False  # a base chain (hooked): its rules are rewritten in place

    @property
    def key(self) -> ObjKey:
        return (self.family, self.kind, self.name)


@dataclass
class Context:
    """What the plan needs besides the table."""

    numbering: Numbering
    timeouts: Timeouts
    dr_ingress: list[str] = field(default_factory=list)  # devices receiving DR virtual IPs
    routes: dict[str, Route | None] = field(default_factory=dict)  # real server -> route
    horizons: dict[ServiceKey, int] = field(default_factory=dict)
    departures: dict[ServiceKey, dict[tuple[str, int], float]] = field(default_factory=dict)
    lingering: dict[int, Destination] = field(default_factory=dict)  # removed DR servers with flows
    expire_quiescent_template: bool = False
    flow_table_size: int = DEFAULT_FLOW_TABLE_SIZE
    previous: dict[ServiceKey, ServicePlan] = field(default_factory=dict)  # last good plans
    cache: dict[ServiceKey, tuple[tuple, ServicePlan]] = field(default_factory=dict)


@dataclass
class ServicePlan:
    """One service as programmed: for read-back and for keeping it when a change fails."""

    key: ServiceKey
    family: str
    number: int
    slots: SlotPlan
    marks: dict[int, Destination]  # every real server of the service
    persist_map: str | None
    objects: list[NftObject]
    elements: dict[SetKey, dict[bytes, Value]]
    entry: Value  # what the dispatch map points to


Owned = dict[SetKey, dict[bytes, Value]]


@dataclass
class Desired:
    """Objects, and set elements grouped by owner (a service, or "lingering").

    A service's elements are its plan's own dict: an unchanged service keeps
    the very same object, so the applier skips it without comparing.
    """

    objects: dict[ObjKey, NftObject] = field(default_factory=dict)
    owned: dict[object, Owned] = field(default_factory=dict)
    services: dict[ServiceKey, ServicePlan] = field(default_factory=dict)
    failed: dict[ServiceKey, str] = field(default_factory=dict)
    lingering: dict[int, Destination] = field(default_factory=dict)

    def add(self, obj: NftObject) -> None:
        self.objects[obj.key] = obj

    def put(self, family: str, set_name: str, key: bytes, value: Value = None) -> None:
        self.owned.setdefault("lingering", {}).setdefault((family, set_name), {})[key] = value

    @property
    def elements(self) -> Owned:
        """Every element, merged (for inspection)."""
        merged: Owned = {}
        for owned in self.owned.values():
            for set_key, values in owned.items():
                merged.setdefault(set_key, {}).update(values)
        return merged


def _digest(*parts: str) -> str:
    return hashlib.blake2b("\n".join(parts).encode(), digest_size=4).hexdigest()


def _proto_name(protocol: int) -> str:
    return "udp" if protocol == IPPROTO_UDP else "tcp"


def service_protocols(svc: Service) -> list[int]:
    """The transport protocols a service receives."""
    if not svc.key.is_fwmark:
        return [svc.key.protocol]
    found = sorted({m.protocol for m in svc.match} & {IPPROTO_TCP, IPPROTO_UDP})
    return found or [IPPROTO_TCP, IPPROTO_UDP]


def service_family(svc: Service) -> str:
    """DR if the real servers are routed to directly, else NAT (also for no servers)."""
    methods = {d.forward for d in svc.destinations} - {Forward.LOCAL}
    return DR if methods == {Forward.ROUTE} else NAT


def check_service(svc: Service, ctx: Context) -> str | None:
    """Why this service cannot be programmed by nftables, or None."""
    reason = unsupported_reason(svc)
    if reason:
        return reason
    if svc.ops:
        return "one-packet scheduling (-o) is not offered by the nftables data plane; use dataplane = userspace"
    methods = {d.forward for d in svc.destinations} - {Forward.LOCAL}
    if Forward.TUNNEL in methods:
        return (
            "tunnel forwarding (ipip) needs the ipvs data plane; the nftables data plane "
            "forwards by NAT or direct routing (network = nat or direct)"
        )
    if len(methods) > 1:
        names = ", ".join(sorted(m.value for m in methods))
        return f"its real servers mix forwarding methods ({names}); the nftables data plane needs one per service"
    if methods == {Forward.ROUTE}:
        if svc.key.is_fwmark and not svc.match:
            return (
                "a firewall-mark service with direct routing needs fwmark_ports in lvs.cf: the "
                "marks are set after the ingress hook where direct routing happens"
            )
        for dest in svc.destinations:
            if dest.forward is not Forward.ROUTE:
                continue
            route = ctx.routes.get(dest.address)
            if route is None:
                return f"real server {dest.address} is unreachable from this director (no route)"
            if route.gateway and not route.local:
                return (
                    f"real server {dest.address} is reached through the gateway {route.gateway}; "
                    "direct routing needs every real server on a network segment of the director"
                )
    return None


# -- the fixed part of both tables --------------------------------------------


def nat_base(timeout_names: Iterable[NftObject], marks_rules: list[str]) -> list[NftObject]:
    dispatch = (
        "meta mark vmap @svc_marks",
        "ip daddr . meta l4proto . th dport vmap @svc_ports",
        "ip daddr . meta l4proto vmap @svc_anyport",
    )
    objs = [
        NftObject(NAT, "table", TABLE),
        *timeout_names,
        NftObject(NAT, "map", "slots", "typeof ct mark : ct mark;"),  # slot number -> server
        NftObject(NAT, "map", "targets", "type mark : ipv4_addr . inet_service;"),
        NftObject(NAT, "map", "targets_addr", "type mark : ipv4_addr;"),
        NftObject(NAT, "set", "valid", "typeof ct mark;"),
        NftObject(NAT, "set", "cnt_conn", "typeof ct mark; counter;"),
        NftObject(NAT, "set", "cnt_in", "typeof ct mark; counter;"),
        NftObject(NAT, "set", "cnt_out", "typeof ct mark; counter;"),
        NftObject(NAT, "map", "svc_ports", "typeof ip daddr . meta l4proto . th dport : verdict;"),
        NftObject(NAT, "map", "svc_anyport", "typeof ip daddr . meta l4proto : verdict;"),
        NftObject(NAT, "map", "svc_marks", "typeof meta mark : verdict;"),
        # the only rules bound to @slots and @targets: the kernel checks every new
        # map element against every rule using the map, so a rule per service would
        # make each element cost as many checks as there are services
        NftObject(NAT, "chain", "resolve", "", (f"ct mark < {MARK_BIT:#x} ct mark set ct mark map @slots",)),
        NftObject(
            NAT,
            "chain",
            "nat_to",
            "",
            ("meta l4proto { tcp, udp } dnat ip to ct mark map @targets", "dnat ip to ct mark map @targets_addr"),
        ),
        NftObject(NAT, "chain", "nat_pre", "type nat hook prerouting priority dstnat; policy accept;", dispatch, True),
        NftObject(NAT, "chain", "nat_out", "type nat hook output priority -100; policy accept;", dispatch, True),
        NftObject(NAT, "chain", "mark_pre", "type filter hook prerouting priority mangle; policy accept;", tuple(marks_rules), True),
        NftObject(NAT, "chain", "mark_out", "type route hook output priority mangle; policy accept;", tuple(marks_rules), True),
        NftObject(
            NAT,
            "chain",
            "count_fwd",
            "type filter hook forward priority filter; policy accept;",
            ("ct direction original ct mark @cnt_in", "ct direction reply ct mark @cnt_out"),
            True,
        ),
        NftObject(NAT, "chain", "count_in", "type filter hook input priority filter; policy accept;", ("ct direction reply ct mark @cnt_out",), True),
        NftObject(NAT, "chain", "count_out", "type filter hook output priority filter; policy accept;", ("ct direction original ct mark @cnt_in",), True),
    ]
    return objs


def dr_base(ctx: Context, ingress_rules: list[str], out_devices: Iterable[str]) -> list[NftObject]:
    t = ctx.timeouts
    size = ctx.flow_table_size
    flow_key = "ip saddr . th sport . ip daddr . th dport"
    objs = [
        NftObject(DR, "table", TABLE),
        NftObject(DR, "map", "slots", "typeof meta mark : meta mark;"),  # slot number -> server
        NftObject(DR, "map", "dr_addr", "type mark : ipv4_addr;"),
        NftObject(DR, "map", "dr_fwd", "typeof meta mark : verdict;"),
        NftObject(DR, "set", "valid", "typeof meta mark;"),
        NftObject(DR, "set", "cnt_conn", "typeof meta mark; counter;"),
        NftObject(DR, "set", "cnt_in", "typeof meta mark; counter;"),
        NftObject(DR, "map", "svc_ports", "typeof ip daddr . meta l4proto . th dport : verdict;"),
        NftObject(DR, "map", "svc_anyport", "typeof ip daddr . meta l4proto : verdict;"),
        NftObject(DR, "map", "flows_tcp", f"typeof {flow_key} : meta mark; flags dynamic,timeout; timeout {t.tcp}s; size {size};"),
        NftObject(DR, "map", "flows_udp", f"typeof {flow_key} : meta mark; flags dynamic,timeout; timeout {t.udp}s; size {size};"),
        NftObject(DR, "set", "closing", f"typeof {flow_key}; flags dynamic,timeout; timeout {t.tcpfin}s; size {size};"),
        NftObject(DR, "chain", "dr_local", "", ("meta mark @cnt_in", "accept")),
        NftObject(DR, "chain", "resolve", "", (f"meta mark < {MARK_BIT:#x} meta mark set meta mark map @slots",)),
        NftObject(DR, "chain", "forward", "", ("meta mark vmap @dr_fwd", "drop")),
    ]
    dispatch = (
        *ingress_rules,
        "ip daddr . meta l4proto . th dport vmap @svc_ports",
        "ip daddr . meta l4proto vmap @svc_anyport",
    )
    for dev in ctx.dr_ingress:
        objs.append(
            NftObject(
                DR,
                "chain",
                f"ingress_{_ident(dev)}",
                f'type filter hook ingress device "{dev}" priority filter; policy accept;',
                dispatch,
                True,
            )
        )
    for dev in sorted(set(out_devices)):
        objs.append(
            NftObject(
                DR,
                "chain",
                fwd_chain(dev),
                "",
                ("meta mark @cnt_in", f'fwd ip to meta mark map @dr_addr device "{dev}"'),
            )
        )
    return objs


def _ident(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text)


def fwd_chain(device: str) -> str:
    return f"fwd_{_ident(device)}"


def timeout_objects(t: Timeouts) -> tuple[NftObject, NftObject]:
    tcp = NftObject(
        NAT,
        "ct timeout",
        f"to_tcp_{t.tcp}_{t.tcpfin}",
        "protocol tcp; l3proto ip; policy = { "
        f"syn_sent: {SYN_TIMEOUT}, syn_recv: {SYN_TIMEOUT}, established: {t.tcp}, "
        f"fin_wait: {t.tcpfin}, close_wait: 60, last_ack: 30, time_wait: 120, close: 10 }};",
    )
    udp = NftObject(
        NAT,
        "ct timeout",
        f"to_udp_{t.udp}",
        f"protocol udp; l3proto ip; policy = {{ unreplied: {t.udp}, replied: {t.udp} }};",
    )
    return tcp, udp


def match_rules(svc: Service, action: str) -> list[str]:
    """One rule per (address, protocol) of a fwmark service's Service.match."""
    groups: dict[tuple[str, int], list[MarkMatch]] = {}
    for m in svc.match:
        groups.setdefault((m.address, m.protocol), []).append(m)
    rules = []
    for (address, protocol), matches in sorted(groups.items()):
        ports = ", ".join(
            str(m.port_lo) if m.port_lo == m.port_hi else f"{m.port_lo}-{m.port_hi}"
            for m in sorted(matches, key=lambda m: m.port_lo)
        )
        addr = "" if address == "0.0.0.0" else f"ip daddr {address} "
        rules.append(f"{addr}meta l4proto {_proto_name(protocol)} th dport {{ {ports} }} {action}")
    return rules


# -- one service --------------------------------------------------------------


def _selector(plan: SlotPlan, base: int) -> str:
    if plan.selector == "numgen":
        return f"numgen inc mod {plan.modulus} offset {base}"
    source = {"saddr": "ip saddr", "saddr-sport": "ip saddr . th sport", "daddr": "ip daddr"}[plan.selector]
    return f"jhash {source} mod {plan.modulus} seed {HASH_SEED:#x} offset {base}"


def _client(svc: Service) -> str:
    if svc.netmask == "255.255.255.255":
        return "ip saddr"
    return f"ip saddr & {svc.netmask}"


def _rewrites_port(svc: Service, dest: Destination) -> bool:
    """Whether DNAT sends to the server's port (else the client's destination port is kept).

    As ``ip_vs_schedule``/``ip_vs_sched_persist``: the server's port when it
    has one, except for persistent fwmark and port-zero services, whose
    template keeps the port the client asked for.
    """
    if not dest.port:
        return False
    return not (svc.persistent and (svc.key.is_fwmark or svc.key.port == 0))


def plan_service(svc: Service, ctx: Context) -> ServicePlan:
    key = svc.key
    family = service_family(svc)
    number = ctx.numbering.service(key)
    base = number << 16
    slots = plan_slots(svc, ctx.horizons.get(key, 0), ctx.departures.get(key))
    slug = service_slug(key)
    reg = "ct mark" if family == NAT else "meta mark"
    elements: dict[SetKey, dict[bytes, Value]] = {}

    def put(set_name: str, k: bytes, value: Value = None) -> None:
        elements.setdefault((family, set_name), {})[k] = value

    marks = {ctx.numbering.mark(key, d.address, d.port): d for d in svc.destinations}
    for i, dest in enumerate(slots.slots):
        if dest is not None:
            put("slots", v.u32(base + i), v.u32(ctx.numbering.mark(key, dest.address, dest.port)))
    for i, dest in enumerate(slots.fallback):
        if dest is not None:
            put("slots", v.u32(base + FALLBACK_OFFSET + i), v.u32(ctx.numbering.mark(key, dest.address, dest.port)))
    for mark, dest in marks.items():
        m = v.u32(mark)
        # a persistence template may send a client on to this server (peers.md (c))
        if svc.persistent and (dest.weight > 0 or not ctx.expire_quiescent_template):
            put("valid", m)
        put("cnt_conn", m)
        put("cnt_in", m)
        if family == NAT:
            put("cnt_out", m)
            if _rewrites_port(svc, dest):
                put("targets", m, v.concat(v.ipv4(dest.address), v.port(dest.port)))
            else:
                put("targets_addr", m, v.ipv4(dest.address))
        else:
            route = ctx.routes.get(dest.address)
            if dest.forward is Forward.LOCAL or route is None or route.local:
                put("dr_fwd", m, Verdict("goto", "dr_local"))  # delivered here
            else:
                put("dr_fwd", m, Verdict("goto", fwd_chain(route.device)))
                put("dr_addr", m, v.ipv4(dest.address))

    objects: list[NftObject] = []
    persist_map = None
    client = _client(svc)
    persist_rules_head: list[str] = []
    persist_update: list[str] = []
    if svc.persistent:
        decl = (
            f"typeof ip saddr : {reg}; flags dynamic,timeout; timeout {svc.persistent}s; "
            f"size {PERSIST_SIZE};"
        )
        persist_map = f"persist_{slug}_{_digest(decl)}"
        objects.append(NftObject(family, "map", persist_map, decl))
        persist_rules_head = [
            f"{reg} set {client} map @{persist_map}",
            f"{reg} != 0 {reg} != @valid {reg} set 0",
        ]
        persist_update = [f"update @{persist_map} {{ {client} : {reg} }}"]
    # the scheduler leaves a slot number (below MARK_BIT) in the mark; the shared
    # `resolve` chain turns it into the real server's mark, or leaves it when the
    # slot is empty (no usable server there)
    schedule = [f"{reg} 0 {reg} set {_selector(slots, base)}", "jump resolve"]
    if slots.fallback:
        schedule += [f"{reg} < {MARK_BIT:#x} {reg} set {_selector(slots, base + FALLBACK_OFFSET)}", "jump resolve"]
    reject = "reject with icmp type port-unreachable" if family == NAT else "reject with icmpx type port-unreachable"
    schedule.append(f"{reg} < {MARK_BIT:#x} {reject}")

    protocols = service_protocols(svc)
    if family == NAT:
        to_tcp, to_udp = timeout_objects(ctx.timeouts)
        rules: list[str] = []
        for p in protocols:
            obj = to_tcp if p == IPPROTO_TCP else to_udp
            prefix = f"meta l4proto {_proto_name(p)} " if key.is_fwmark else ""
            rules.append(f'{prefix}ct timeout set "{obj.name}"')
        rules += persist_rules_head + schedule + persist_update
        rules.append("ct mark @cnt_conn")
        rules.append("goto nat_to")
        chain = NftObject(NAT, "chain", f"svc_{slug}_{_digest(*rules)}", "", tuple(rules))
        objects.append(chain)
        entry: Value = Verdict("goto", chain.name)
    else:
        t = ctx.timeouts
        fk = "ip saddr . th sport . ip daddr . th dport"
        entries: dict[int, str] = {}
        for p in protocols:
            pname = _proto_name(p)
            new_rules = [
                *persist_rules_head,
                *schedule,
                *persist_update,
                f"update @flows_{pname} {{ {fk} timeout {SYN_TIMEOUT if p == IPPROTO_TCP else t.udp}s : meta mark }}",
                "meta mark @cnt_conn",
                "goto forward",
            ]
            new_chain = NftObject(DR, "chain", f"new_{slug}_{pname}_{_digest(*new_rules)}", "", tuple(new_rules))
            if p == IPPROTO_TCP:
                rules = [
                    "meta mark set 0",
                    f"meta mark set {fk} map @flows_tcp",
                    # a new SYN on a flow that has closed is a new connection, scheduled
                    # afresh (IPVS's conn_reuse_mode): not sent after a departed server
                    f"meta mark != 0 tcp flags & (syn | ack) == syn {fk} @closing "
                    f"delete @closing {{ {fk} }} delete @flows_tcp {{ {fk} : meta mark }} meta mark set 0",
                    f"meta mark 0 tcp flags & (syn | ack) == syn goto {new_chain.name}",
                    "meta mark 0 accept",
                    f"tcp flags & (fin | rst) != 0 update @closing {{ {fk} timeout {t.tcpfin}s }}",
                    f"{fk} @closing update @flows_tcp {{ {fk} timeout {t.tcpfin}s : meta mark }} goto forward",
                    f"update @flows_tcp {{ {fk} timeout {t.tcp}s : meta mark }}",
                    "goto forward",
                ]
            else:
                rules = [
                    "meta mark set 0",
                    f"meta mark set {fk} map @flows_udp",
                    f"meta mark 0 goto {new_chain.name}",
                    f"update @flows_udp {{ {fk} timeout {t.udp}s : meta mark }}",
                    "goto forward",
                ]
            chain = NftObject(DR, "chain", f"svc_{slug}_{pname}_{_digest(*rules)}", "", tuple(rules))
            objects += [new_chain, chain]
            entries[p] = chain.name
        if len(entries) == 1:
            entry = Verdict("goto", next(iter(entries.values())))
        else:
            rules = [f"meta l4proto {_proto_name(p)} goto {name}" for p, name in sorted(entries.items())]
            rules.append("accept")
            chain = NftObject(DR, "chain", f"svc_{slug}_{_digest(*rules)}", "", tuple(rules))
            objects.append(chain)
            entry = Verdict("goto", chain.name)

    if not key.is_fwmark:
        if key.port:
            put("svc_ports", v.concat(v.ipv4(key.address), v.l4proto(key.protocol), v.port(key.port)), entry)
        else:
            put("svc_anyport", v.concat(v.ipv4(key.address), v.l4proto(key.protocol)), entry)
    elif family == NAT:
        put("svc_marks", v.u32(key.fwmark), entry)
    return ServicePlan(key, family, number, slots, marks, persist_map, objects, elements, entry)


def signature(svc: Service, ctx: Context) -> tuple:
    """Everything a service's plan depends on: equal signatures, equal plans."""
    counts = needs_counts(svc)
    dests = tuple(
        (
            d.address,
            d.port,
            d.weight,
            d.last_weight,
            d.forward,
            d.u_threshold,
            d.l_threshold,
            d.overloaded,
            ctx.routes.get(d.address) if d.forward is Forward.ROUTE else None,
            (d.activeconns, d.inactconns) if counts else None,
        )
        for d in svc.destinations
    )
    t = ctx.timeouts
    return (
        svc.scheduler_name,
        svc.sched_flags,
        svc.persistent,
        svc.netmask,
        svc.ops,
        svc.match,
        dests,
        (t.tcp, t.tcpfin, t.udp),
        ctx.expire_quiescent_template,
        ctx.flow_table_size,
        ctx.horizons.get(svc.key, 0) if counts else None,
        tuple(sorted(ctx.departures.get(svc.key, {}).items())) if counts else None,
    )


# -- the whole table ----------------------------------------------------------


def plan_table(services: Iterable[Service], ctx: Context, only: set[ServiceKey] | None = None) -> Desired:
    """The desired state; with ``only``, other services keep their previous plans."""
    desired = Desired()
    plans: list[tuple[Service, ServicePlan]] = []
    for svc in services:
        if only is not None and svc.key not in only and svc.key in ctx.previous:
            plans.append((svc, ctx.previous[svc.key]))
            continue
        why = check_service(svc, ctx)
        if why is None:
            sig = signature(svc, ctx)
            cached = ctx.cache.get(svc.key)
            if cached is not None and cached[0] == sig:
                plans.append((svc, cached[1]))
                continue
            try:
                plan = plan_service(svc, ctx)
                ctx.cache[svc.key] = (sig, plan)
                plans.append((svc, plan))
                continue
            except (ValueError, OverflowError) as exc:
                why = str(exc)
        desired.failed[svc.key] = why
        previous = ctx.previous.get(svc.key)
        if previous is not None:  # keep the service as it was programmed
            desired.services[svc.key] = previous
    for svc, plan in plans:
        desired.services[svc.key] = plan

    svc_by_key = {svc.key: svc for svc, _ in plans}
    nat_marks: list[str] = []
    dr_ingress_rules: list[str] = []
    fwd_devices: set[str] = set()
    for key, plan in desired.services.items():
        svc = svc_by_key.get(key)
        if svc is not None and key.is_fwmark:
            if plan.family == NAT:
                nat_marks += match_rules(svc, f"meta mark set {key.fwmark:#x}")
            else:
                assert isinstance(plan.entry, Verdict)
                dr_ingress_rules += match_rules(svc, f"goto {plan.entry.chain}")
        if plan.family == DR:
            for dest in plan.marks.values():
                route = ctx.routes.get(dest.address)
                if dest.forward is Forward.ROUTE and route is not None and not route.local:
                    fwd_devices.add(route.device)
    lingering: dict[int, tuple[Destination, Route]] = {}
    live = {m for p in desired.services.values() for m in p.marks}
    for mark, dest in ctx.lingering.items():
        route = ctx.routes.get(dest.address)
        if mark in live:
            continue  # added back: a real server again
        if route is not None and not route.local and route.device:
            lingering[mark] = (dest, route)
            fwd_devices.add(route.device)
    for obj in nat_base(timeout_objects(ctx.timeouts), nat_marks):
        desired.add(obj)
    if any(p.family == DR for p in desired.services.values()) or lingering:
        for obj in dr_base(ctx, dr_ingress_rules, fwd_devices):
            desired.add(obj)
    for key, plan in desired.services.items():
        for obj in plan.objects:
            desired.add(obj)
        desired.owned[key] = plan.elements
    # removed DR servers whose flows are still alive keep being forwarded to
    for mark, (dest, route) in lingering.items():
        m = v.u32(mark)
        desired.put(DR, "dr_fwd", m, Verdict("goto", fwd_chain(route.device)))
        desired.put(DR, "dr_addr", m, v.ipv4(dest.address))
        desired.put(DR, "cnt_in", m)
        desired.lingering[mark] = dest
    return desired


def describe_failure(key: ServiceKey, why: str) -> str:
    return f"virtual service {service_text(key)}: {why}"
