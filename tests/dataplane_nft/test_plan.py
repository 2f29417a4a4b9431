"""The desired kernel state: rules, elements, and the services the nftables plane refuses."""

from __future__ import annotations

from piranha.dataplane.kernel import nftvalues as v
from piranha.dataplane.kernel.netinfo import Route
from piranha.dataplane.kernel.nfnetlink import Verdict
from piranha.dataplane.nftables import unsupported_reason
from piranha.dataplane.nftables.numbering import MARK_BIT, Numbering
from piranha.dataplane.nftables.plan import (
    DR,
    NAT,
    Context,
    check_service,
    match_rules,
    plan_service,
    plan_table,
)
from piranha.table.model import (
    IPPROTO_TCP,
    IPPROTO_UDP,
    Forward,
    MarkMatch,
    ServiceKey,
    Timeouts,
    VirtualTable,
)

VIP = "10.0.0.100"
ON_LINK = Route(device="eth1", gateway=None, local=False)


def ctx(**kw) -> Context:
    routes = kw.pop("routes", {f"10.1.0.{i}": ON_LINK for i in range(1, 9)})
    return Context(numbering=kw.pop("numbering", Numbering()), timeouts=Timeouts(), routes=routes, **kw)


def service(scheduler="rr", forward=Forward.MASQ, key=None, dests=3, **opts):
    table = VirtualTable()
    key = key or ServiceKey.tcp(VIP, 80)
    svc = table.add_service(key, scheduler, **opts)
    for i in range(dests, 0, -1):
        table.add_dest(key, f"10.1.0.{i}", 8080, weight=i, forward=forward)
    return table, svc


def test_nat_service_chain_and_its_elements():
    c = ctx()
    _, svc = service("wrr")
    plan = plan_service(svc, c)
    assert plan.family == NAT
    (chain,) = [o for o in plan.objects if o.kind == "chain"]
    base = plan.number << 16
    assert chain.rules == (
        'ct timeout set "to_tcp_900_120"',
        f"ct mark 0 ct mark set numgen inc mod 6 offset {base}",  # a slot number
        "jump resolve",  # shared: the only rule bound to @slots
        "ct mark < 0x80000000 reject with icmp type port-unreachable",
        "ct mark @cnt_conn",
        "goto nat_to",  # shared: the only rules bound to @targets / @targets_addr
    )
    assert chain.name.startswith("svc_tcp_10_0_0_100_80_")
    dispatch = plan.elements[(NAT, "svc_ports")]
    assert dispatch == {v.concat(v.ipv4(VIP), v.l4proto(6), v.port(80)): Verdict("goto", chain.name)}
    mark = c.numbering.mark(svc.key, "10.1.0.3", 8080)
    assert mark & MARK_BIT
    assert plan.elements[(NAT, "targets")][v.u32(mark)] == v.concat(v.ipv4("10.1.0.3"), v.port(8080))
    slots = plan.elements[(NAT, "slots")]
    assert sorted(slots) == sorted(v.u32(base + i) for i in range(6))
    assert list(slots.values()).count(v.u32(mark)) == 3  # weight 3 of 6
    assert set(plan.marks) == {c.numbering.mark(svc.key, f"10.1.0.{i}", 8080) for i in (1, 2, 3)}


def test_persistence_rules_and_template_map():
    _, svc = service("wlc", persistent=300, netmask="255.255.255.0")
    plan = plan_service(svc, ctx())
    (persist,) = [o for o in plan.objects if o.kind == "map"]
    assert "timeout 300s" in persist.decl and persist.name == plan.persist_map
    rules = next(o for o in plan.objects if o.kind == "chain").rules
    assert f"ct mark set ip saddr & 255.255.255.0 map @{persist.name}" in rules
    assert "ct mark != 0 ct mark != @valid ct mark set 0" in rules
    assert f"update @{persist.name} {{ ip saddr & 255.255.255.0 : ct mark }}" in rules
    # lookups before scheduling, the update after it
    assert rules.index(f"update @{persist.name} {{ ip saddr & 255.255.255.0 : ct mark }}") > 2
    assert len(plan.elements[(NAT, "valid")]) == 3


def test_quiesced_server_stays_valid_for_templates_unless_expire_quiescent_template():
    _, svc = service("rr", persistent=60)
    svc.destinations[0].set_weight(0)
    c = ctx()
    assert len(plan_service(svc, c).elements[(NAT, "valid")]) == 3
    c.expire_quiescent_template = True
    assert len(plan_service(svc, c).elements[(NAT, "valid")]) == 2


def test_fwmark_service_marks_its_ports_and_keeps_the_clients_port_when_persistent():
    key = ServiceKey.mark(80)
    _, svc = service("rr", key=key, persistent=60)
    svc.match = (
        MarkMatch(IPPROTO_TCP, VIP, 80, 80),
        MarkMatch(IPPROTO_TCP, VIP, 443, 443),
        MarkMatch(IPPROTO_UDP, VIP, 10000, 20000),
    )
    assert match_rules(svc, "meta mark set 0x50") == [
        f"ip daddr {VIP} meta l4proto tcp th dport {{ 80, 443 }} meta mark set 0x50",
        f"ip daddr {VIP} meta l4proto udp th dport {{ 10000-20000 }} meta mark set 0x50",
    ]
    c = ctx()
    desired = plan_table([svc], c)
    plan = desired.services[key]
    assert plan.elements[(NAT, "svc_marks")] == {v.u32(80): plan.entry}
    assert (NAT, "targets") not in plan.elements  # ip_vs_sched_persist: dport = vport
    assert len(plan.elements[(NAT, "targets_addr")]) == 3
    rules = desired.objects[(NAT, "chain", "mark_pre")].rules
    assert rules[0].endswith("meta mark set 0x50")
    chain = next(o for o in plan.objects if o.kind == "chain")
    assert 'meta l4proto tcp ct timeout set "to_tcp_900_120"' in chain.rules
    assert 'meta l4proto udp ct timeout set "to_udp_300"' in chain.rules


def test_direct_routing_service_chains_and_forwarding():
    c = ctx(dr_ingress=["eth0"])
    _, svc = service("rr", forward=Forward.ROUTE)
    desired = plan_table([svc], c)
    plan = desired.services[svc.key]
    assert plan.family == DR
    names = {o.name for o in plan.objects}
    assert any(n.startswith("svc_tcp_10_0_0_100_80_tcp_") for n in names)
    assert any(n.startswith("new_tcp_10_0_0_100_80_tcp_") for n in names)
    ingress = desired.objects[(DR, "chain", "ingress_eth0")]
    assert 'device "eth0"' in ingress.decl and ingress.base
    fwd = desired.objects[(DR, "chain", "fwd_eth1")]
    assert fwd.rules[-1] == 'fwd ip to meta mark map @dr_addr device "eth1"'
    assert desired.objects[(DR, "chain", "forward")].rules == ("meta mark vmap @dr_fwd", "drop")
    for mark in plan.marks:
        assert desired.elements[(DR, "dr_fwd")][v.u32(mark)] == Verdict("goto", "fwd_eth1")
    main = next(o for o in plan.objects if o.name.startswith("svc_"))
    assert "meta mark 0 accept" in main.rules  # mid-stream packet without a flow: local stack
    assert main.rules[-1] == "goto forward"


def test_local_real_server_is_delivered_here():
    c = ctx(routes={"10.1.0.1": Route("lo", None, True), "10.1.0.2": ON_LINK})
    _, svc = service("rr", forward=Forward.ROUTE, dests=2)
    desired = plan_table([svc], c)
    marks = desired.services[svc.key].marks
    local = next(m for m, d in marks.items() if d.address == "10.1.0.1")
    assert desired.elements[(DR, "dr_fwd")][v.u32(local)] == Verdict("goto", "dr_local")


def test_refusals_say_why_and_what_to_do():
    _, svc = service("rr", forward=Forward.TUNNEL)
    assert "ipvs data plane" in check_service(svc, ctx())
    table, svc = service("rr", forward=Forward.MASQ, dests=1)
    table.add_dest(svc.key, "10.1.0.5", 80, forward=Forward.ROUTE)
    assert "mix forwarding methods (Masq, Route)" in check_service(svc, ctx())
    _, svc = service("rr", forward=Forward.ROUTE, key=ServiceKey.mark(7))
    assert "fwmark_ports" in check_service(svc, ctx())
    _, svc = service("rr", forward=Forward.ROUTE, dests=1)
    assert "gateway 10.9.9.9" in check_service(svc, ctx(routes={"10.1.0.1": Route("eth0", "10.9.9.9", False)}))
    assert "unreachable" in check_service(svc, ctx(routes={}))
    _, svc = service("lblcr")
    assert "dataplane = userspace" in check_service(svc, ctx())
    assert unsupported_reason(svc) == check_service(svc, ctx())
    _, svc = service("rr", key=ServiceKey.udp(VIP, 53), ops=True)
    assert "one-packet" in check_service(svc, ctx())


def test_a_failing_change_keeps_the_service_as_it_was():
    c = ctx()
    _, svc = service("rr")
    good = plan_table([svc], c)
    svc.scheduler_name = "lblc"
    c.previous = dict(good.services)
    again = plan_table([svc], c)
    assert svc.key in again.failed
    assert again.services[svc.key] is good.services[svc.key]


def test_changed_rules_get_a_new_chain_name_unchanged_maps_keep_theirs():
    c = ctx()
    table, svc = service("wrr", persistent=60)
    first = plan_service(svc, c)
    table.edit_dest(svc.key, "10.1.0.1", 8080, weight=5)  # cycle length 6 -> 10
    second = plan_service(svc, c)
    chain = lambda p: next(o.name for o in p.objects if o.kind == "chain")  # noqa: E731
    assert chain(first) != chain(second)
    assert first.persist_map == second.persist_map


def test_port_zero_service_dispatches_on_address_and_protocol():
    _, svc = service("rr", key=ServiceKey.tcp(VIP, 0), persistent=60)
    plan = plan_service(svc, ctx())
    assert plan.elements[(NAT, "svc_anyport")] == {v.concat(v.ipv4(VIP), v.l4proto(6)): plan.entry}
    assert (NAT, "targets") not in plan.elements


def test_numbering_is_stable_and_collision_free():
    a, b = Numbering(), Numbering()
    key = ServiceKey.tcp(VIP, 80)
    assert a.mark(key, "10.1.0.1", 80) == b.mark(key, "10.1.0.1", 80)
    assert a.service(key) == b.service(key)
    marks = {a.mark(key, f"10.{i >> 8}.{i & 255}.1", 80) for i in range(5000)}
    assert len(marks) == 5000 and all(m & MARK_BIT for m in marks)
    assert a.owner(a.mark(key, "10.1.0.1", 80)) == (key, "10.1.0.1", 80)
    # a service's slot numbers never look like a mark (the rules tell them apart by MARK_BIT)
    numbers = {a.service(ServiceKey.tcp(f"10.{i >> 8}.{i & 255}.9", 80)) for i in range(3000)}
    assert len(numbers) == 3000 and all(n > 0 and (n << 16) + 0xFFFF < MARK_BIT for n in numbers)
