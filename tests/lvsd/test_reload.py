"""The reload diff: every bug of the original's §3.6 fixed, and diff(a, b) applied to a gives b."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from piranha.lvsd import build
from piranha.lvsd.reload import (
    AddServer,
    AddService,
    EditServer,
    EditService,
    Notice,
    RecheckServer,
    RemoveServer,
    RemoveService,
    SetSysctls,
    SetTimeouts,
    diff,
)
from piranha.table.model import IPPROTO_TCP, IPPROTO_UDP, Forward, MarkMatch, ServiceKey

from .cfg import config, resolve, server, virtual


def plan_of(*virtuals: str, globals_: str = "") -> build.Plan:
    return build.plan(config(*virtuals, globals_=globals_), resolve)


WEB = [server("web1", "10.0.0.2"), server("web2", "10.0.0.3", weight=2)]


def test_same_file_no_operations() -> None:
    a = plan_of(virtual("www", "192.168.0.1", *WEB))
    b = plan_of(virtual("www", "192.168.0.1", *WEB))
    assert diff(a, b) == []


def test_renaming_a_virtual_is_an_edit_not_a_new_service() -> None:
    a = plan_of(virtual("www", "192.168.0.1", *WEB))
    b = plan_of(virtual("shop", "192.168.0.1", *WEB))
    ops = diff(a, b)
    assert [type(op) for op in ops] == [EditService, RecheckServer, RecheckServer]
    assert ops[0].changed == ("name",)
    assert not ops[0].table_edit


def test_reordering_blocks_changes_nothing() -> None:
    v1 = virtual("www", "192.168.0.1", *WEB)
    v2 = virtual("mail", "192.168.0.2", server("mx", "10.0.0.5"), port=25)
    v3 = virtual("dns", "192.168.0.3", server("ns", "10.0.0.6"), port=53, extra="protocol = udp")
    assert diff(plan_of(v1, v2, v3), plan_of(v3, v1, v2)) == []
    reordered_servers = virtual("www", "192.168.0.1", *reversed(WEB))
    assert diff(plan_of(v1), plan_of(reordered_servers)) == []


def test_removing_one_server_removes_only_that_server() -> None:
    a = plan_of(virtual("www", "192.168.0.1", *WEB))
    b = plan_of(virtual("www", "192.168.0.1", WEB[1]))
    ops = diff(a, b)
    assert len(ops) == 1
    assert isinstance(ops[0], RemoveServer)
    assert ops[0].server.ident == ("10.0.0.2", 80)


def test_deactivating_a_server_removes_it_and_reactivating_adds_it() -> None:
    on = plan_of(virtual("www", "192.168.0.1", *WEB))
    off = plan_of(virtual("www", "192.168.0.1", WEB[0], server("web2", "10.0.0.3", active=0)))
    assert [type(op) for op in diff(on, off)] == [RemoveServer]
    (add,) = diff(off, on)
    assert isinstance(add, AddServer) and add.server.name == "web2"


def test_changed_parameters_are_applied_in_place() -> None:
    a = plan_of(virtual("www", "192.168.0.1", *WEB, extra="scheduler = wlc"))
    b = plan_of(
        virtual(
            "www",
            "192.168.0.1",
            server("web1", "10.0.0.2", weight=5),
            server("web2", "10.0.0.3", weight=2, extra="uthreshold = 10"),
            extra="scheduler = rr\npersistent = 30",
        )
    )
    ops = diff(a, b)
    edit = ops[0]
    assert isinstance(edit, EditService)
    assert edit.changed == ("scheduler", "persistent")
    assert edit.table_edit
    weights = [op for op in ops if isinstance(op, EditServer)]
    assert [(op.server.name, op.changed) for op in weights] == [
        ("web1", ("weight",)),
        ("web2", ("u_threshold",)),
    ]
    # the monitor owns the weight (slow start): only web1's check hears of it
    assert [op.server.name for op in ops if isinstance(op, RecheckServer)] == ["web1"]


def test_check_settings_reconfigure_every_monitor_of_the_service() -> None:
    a = plan_of(virtual("www", "192.168.0.1", *WEB, extra='send = "GET /"\nexpect = "HTTP"'))
    b = plan_of(virtual("www", "192.168.0.1", *WEB, extra='send = "HEAD /"\nexpect = "HTTP"'))
    ops = diff(a, b)
    assert [type(op) for op in ops] == [RecheckServer, RecheckServer]
    assert {op.server.name for op in ops} == {"web1", "web2"}


def test_rsh_command_is_a_check_setting() -> None:
    v = virtual("www", "192.168.0.1", *WEB, extra="load_monitor = uptime")
    ops = diff(plan_of(v, globals_="rsh_command = rsh"), plan_of(v, globals_="rsh_command = ssh"))
    assert [type(op) for op in ops] == [RecheckServer, RecheckServer]


def test_a_new_vip_is_a_new_service() -> None:
    a = plan_of(virtual("www", "192.168.0.1", *WEB))
    b = plan_of(virtual("www", "192.168.0.9", *WEB))
    ops = diff(a, b)
    assert [type(op) for op in ops] == [RemoveService, AddService]
    assert ops[0].service.key == ServiceKey.tcp("192.168.0.1", 80)
    assert ops[1].service.key == ServiceKey.tcp("192.168.0.9", 80)


def test_protocol_and_port_are_identity_fwmark_overrides_them() -> None:
    tcp = plan_of(virtual("d", "192.168.0.1", *WEB, port=53))
    udp = plan_of(virtual("d", "192.168.0.1", *WEB, port=53, extra="protocol = udp"))
    assert [type(op) for op in diff(tcp, udp)] == [RemoveService, AddService]
    m1 = plan_of(virtual("d", "192.168.0.1", *WEB, extra="fwmark = 7\nfwmark_ports = 80"))
    m2 = plan_of(
        virtual("d", "192.168.0.2", *WEB, port=443, extra="fwmark = 7\nfwmark_ports = 443")
    )
    ops = diff(m1, m2)
    assert isinstance(ops[0], EditService)
    assert set(ops[0].changed) == {"match", "vip", "vport"}


def test_globals() -> None:
    v = virtual("www", "192.168.0.1", *WEB)
    a = plan_of(v)
    b = plan_of(
        v,
        globals_="tcp_timeout = 60\nexpire_quiescent_template = 1\ndataplane = userspace\n"
        "network = direct",
    )
    ops = diff(a, b)
    assert ops[0] == SetTimeouts(60, 0, 0)
    assert ops[1] == SetSysctls(True, False)
    assert isinstance(ops[2], Notice) and "restart lvsd" in ops[2].message
    assert isinstance(ops[3], EditService) and ops[3].changed == ("forward",)
    assert ops[3].service.forward is Forward.ROUTE


def test_service_becoming_inactive_is_removed_and_back_is_added() -> None:
    on = plan_of(virtual("www", "192.168.0.1", *WEB))
    off = plan_of(virtual("www", "192.168.0.1", *WEB, active=0))
    assert [type(op) for op in diff(on, off)] == [RemoveService]
    assert [type(op) for op in diff(off, on)] == [AddService]


def test_sorry_server_change_is_an_edit() -> None:
    a = plan_of(virtual("www", "192.168.0.1", *WEB))
    b = plan_of(virtual("www", "192.168.0.1", *WEB, extra="sorry_server = 10.0.0.200"))
    (op,) = diff(a, b)
    assert isinstance(op, EditService) and op.changed == ("sorry_server",)


# -- property: applying diff(a, b) to a gives b ------------------------------------------

Shape = dict[str, Any]


def shape(plan: build.Plan) -> Shape:
    """What the running lvsd would hold for ``plan``: table settings, servers, checks."""
    services = {}
    for svc in plan.services:
        fields = {f: getattr(svc, f) for f in _service_fields()}
        servers = {
            srv.ident: (
                {
                    "name": srv.name,
                    "weight": srv.weight,
                    "u": srv.u_threshold,
                    "l": srv.l_threshold,
                },
                (svc.check, svc.name, srv.weight, srv.name),  # what its monitor knows
            )
            for srv in svc.servers
        }
        services[svc.key] = (fields, servers)
    return {
        "timeouts": plan.timeouts,
        "sysctls": (plan.expire_quiescent_template, plan.expire_nodest_conn),
        "services": services,
    }


def _service_fields() -> tuple[str, ...]:
    from piranha.lvsd.reload import SERVICE_FIELDS

    return SERVICE_FIELDS


def apply(ops: list, running: Shape, new: build.Plan) -> Shape:
    services = {k: (dict(f), dict(s)) for k, (f, s) in running["services"].items()}
    out = dict(running, services=services)
    for op in ops:
        if isinstance(op, SetTimeouts):
            out["timeouts"] = (op.tcp, op.tcpfin, op.udp)
        elif isinstance(op, SetSysctls):
            out["sysctls"] = (op.expire_quiescent_template, op.expire_nodest_conn)
        elif isinstance(op, RemoveService):
            del services[op.service.key]
        elif isinstance(op, AddService):
            services[op.service.key] = shape(build.Plan((0, 0, 0), False, False, (op.service,)))[
                "services"
            ][op.service.key]
        elif isinstance(op, EditService):
            fields, _ = services[op.service.key]
            for name in op.changed:
                fields[name] = getattr(op.service, name)
        elif isinstance(op, RemoveServer):
            del services[op.key][1][op.server.ident]
        elif isinstance(op, AddServer):
            svc = new.service(op.key)
            srv = op.server
            services[op.key][1][srv.ident] = (
                {
                    "name": srv.name,
                    "weight": srv.weight,
                    "u": srv.u_threshold,
                    "l": srv.l_threshold,
                },
                (svc.check, svc.name, srv.weight, srv.name),
            )
        elif isinstance(op, EditServer):
            table, monitor = services[op.key][1][op.server.ident]
            srv = op.server
            table = dict(table)
            for name in op.changed:
                table[{"u_threshold": "u", "l_threshold": "l"}.get(name, name)] = getattr(srv, name)
            services[op.key][1][op.server.ident] = (table, monitor)
        elif isinstance(op, RecheckServer):
            svc = new.service(op.key)
            table, _ = services[op.key][1][op.server.ident]
            srv = op.server
            services[op.key][1][op.server.ident] = (
                table,
                (svc.check, svc.name, srv.weight, srv.name),
            )
    return out


ADDRESSES = ["192.168.0.1", "192.168.0.2"]
REAL = ["10.0.0.2", "10.0.0.3", "10.0.0.4"]


@st.composite
def plans(draw: st.DrawFn) -> build.Plan:
    services = []
    keys = set()
    for i in range(draw(st.integers(0, 4))):
        fwmark = draw(st.sampled_from([0, 0, 0, 1, 2]))
        vip = draw(st.sampled_from(ADDRESSES))
        vport = draw(st.sampled_from([80, 443]))
        protocol = draw(st.sampled_from([IPPROTO_TCP, IPPROTO_UDP]))
        key = ServiceKey.mark(fwmark) if fwmark else ServiceKey(protocol, vip, vport)
        if key in keys:
            continue
        keys.add(key)
        servers = []
        idents = set()
        for j in range(draw(st.integers(0, 3))):
            ident = (draw(st.sampled_from(REAL)), draw(st.sampled_from([80, 8080])))
            if ident in idents:
                continue
            idents.add(ident)
            servers.append(
                build.ServerPlan(
                    virtual=f"v{i}",
                    name=draw(st.sampled_from(["a", "b", f"s{j}"])),
                    address=ident[0],
                    port=ident[1],
                    weight=draw(st.integers(0, 3)),
                    u_threshold=draw(st.sampled_from([0, 10])),
                    l_threshold=draw(st.sampled_from([0, 5])),
                )
            )
        services.append(
            build.ServicePlan(
                key=key,
                name=draw(st.sampled_from(["www", "mail", f"v{i}"])),
                vip=vip,
                vport=vport,
                protocol=protocol,
                scheduler=draw(st.sampled_from(["rr", "wlc", "sh"])),
                sched_flags=draw(st.sampled_from([frozenset(), frozenset({"flag-1"})])),
                persistent=draw(st.sampled_from([0, 60])),
                netmask=draw(st.sampled_from(["255.255.255.255", "255.255.255.0"])),
                forward=draw(st.sampled_from(list(Forward)[:3])),
                match=(MarkMatch(protocol, vip, vport, vport),) if fwmark else (),
                proxy_protocol=draw(st.booleans()),
                sorry_server=draw(st.sampled_from([None, "10.0.0.200"])),
                servers=tuple(draw(st.permutations(servers))),
                check=(draw(st.sampled_from([5, 10])),),
            )
        )
    return build.Plan(
        timeouts=draw(st.sampled_from([(0, 0, 0), (60, 0, 0), (0, 30, 30)])),
        expire_quiescent_template=draw(st.booleans()),
        expire_nodest_conn=draw(st.booleans()),
        services=tuple(draw(st.permutations(services))),
    )


@settings(max_examples=200, deadline=None)
@given(plans(), plans())
def test_applying_the_diff_gives_the_new_plan(a: build.Plan, b: build.Plan) -> None:
    ops = diff(a, b)
    assert apply(ops, shape(a), b) == shape(b)
    # nothing is touched twice, and a plan diffed against itself is empty
    assert diff(b, b) == []
    touched = [
        (type(op).__name__, getattr(op, "key", None), getattr(op, "server", None))
        for op in ops
        if isinstance(op, AddServer | RemoveServer | EditServer | RecheckServer)
    ]
    assert len(touched) == len(set(touched))


@settings(max_examples=100, deadline=None)
@given(plans(), plans())
def test_kept_servers_are_never_removed_and_kept_services_never_recreated(
    a: build.Plan, b: build.Plan
) -> None:
    ops = diff(a, b)
    kept = {s.key for s in a.services} & {s.key for s in b.services}
    for op in ops:
        if isinstance(op, RemoveService | AddService):
            assert op.service.key not in kept
        if isinstance(op, RemoveServer):
            assert b.service(op.key).server(op.server.ident) is None
