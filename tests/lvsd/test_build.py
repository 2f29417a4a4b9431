"""lvs.cf -> Plan: which services, which servers, which table settings."""

from __future__ import annotations

from piranha.lvsd import build
from piranha.table.model import (
    IPPROTO_TCP,
    IPPROTO_UDP,
    Forward,
    MarkMatch,
    ServiceKey,
    VirtualTable,
)

from .cfg import config, resolve, server, virtual


def test_active_services_in_file_order_with_active_servers_only() -> None:
    cfg = config(
        virtual("b", "192.168.0.2", server("s1", "10.0.0.2"), server("off", "10.0.0.9", active=0)),
        virtual("idle", "192.168.0.3", server("s1", "10.0.0.2"), active=0),
        virtual("a", "192.168.0.1", server("s1", "web2.example", port=8080, weight=3)),
    )
    plan = build.plan(cfg, resolve)
    assert [s.name for s in plan.services] == ["b", "a"]
    b, a = plan.services
    assert b.key == ServiceKey(IPPROTO_TCP, "192.168.0.2", 80)
    assert [s.name for s in b.servers] == ["s1"]
    assert a.servers[0].ident == ("10.0.0.3", 8080)
    assert a.servers[0].weight == 3
    assert a.servers[0].label == "a/s1"
    assert plan.problems == ()


def test_table_settings() -> None:
    cfg = config(
        virtual(
            "dns",
            "192.168.0.5",
            server("ns1", "10.0.0.2"),
            port=53,
            extra="protocol = udp\nscheduler = sh\nsched_flags = flag-1,sh-port\n"
            "persistent = 60\npmask = 255.255.255.0\nsorry_server = 10.0.0.200",
        ),
        globals_="network = direct",
    )
    (svc,) = build.plan(cfg, resolve).services
    assert svc.key == ServiceKey(IPPROTO_UDP, "192.168.0.5", 53)
    assert svc.scheduler == "sh"
    assert svc.sched_flags == frozenset({"sh-fallback", "sh-port"})  # flag-1 is sh-fallback
    assert (svc.persistent, svc.netmask) == (60, "255.255.255.0")
    assert svc.forward is Forward.ROUTE
    assert svc.sorry_server == "10.0.0.200"
    assert build.add_service_argv(svc) == [
        "-A", "-u", "192.168.0.5:53", "-s", "sh", "-p", "60", "-M", "255.255.255.0",
        "-b", "sh-fallback,sh-port",
    ]  # fmt: skip


def test_pmask_without_persistence_is_not_used() -> None:
    cfg = config(virtual("w", "192.168.0.1", server("s", "10.0.0.2"), extra="pmask = 255.255.0.0"))
    (svc,) = build.plan(cfg, resolve).services
    assert svc.netmask == build.DEFAULT_NETMASK
    assert build.add_service_argv(svc) == ["-A", "-t", "192.168.0.1:80", "-s", "wlc"]


def test_fwmark_service_groups_its_ports() -> None:
    cfg = config(
        virtual(
            "shop",
            "192.168.0.1",
            server("s", "10.0.0.2", port=80),
            extra="fwmark = 80\nfwmark_ports = 80,443,10000-10010\npersistent = 300",
        )
    )
    (svc,) = build.plan(cfg, resolve).services
    assert svc.key == ServiceKey.mark(80)
    assert svc.match == (
        MarkMatch(IPPROTO_TCP, "192.168.0.1", 80, 80),
        MarkMatch(IPPROTO_TCP, "192.168.0.1", 443, 443),
        MarkMatch(IPPROTO_TCP, "192.168.0.1", 10000, 10010),
    )
    assert build.add_service_argv(svc)[:3] == ["-A", "-f", "80"]
    # destinations keep the client's port (IP:0), the server's port is only checked
    assert [(s.address, s.port) for s in svc.servers] == [("10.0.0.2", 0)]
    table = VirtualTable()
    build.install_service(table, svc)
    service = table.get(svc.key)
    assert (service.name, service.match, service.persistent) == ("shop", svc.match, 300)


def test_unresolvable_names_are_problems_not_crashes() -> None:
    cfg = config(
        virtual("w", "192.168.0.1", server("s", "web1.example"), server("t", "web2.example"))
    )
    plan = build.plan(cfg, lambda name: "10.0.0.2" if name == "web1.example" else None)
    (svc,) = plan.services
    assert [s.address for s in svc.servers] == ["10.0.0.2"]
    assert plan.problems == (
        "virtual w: real server t: address `web2.example` does not resolve; it is not used",
    )


def test_install_then_update_keeps_a_scheduler_that_stays() -> None:
    cfg = config(virtual("w", "192.168.0.1", server("s", "10.0.0.2"), extra="scheduler = rr"))
    (svc,) = build.plan(cfg, resolve).services
    table = VirtualTable()
    build.install_service(table, svc)
    before = table.get(svc.key).scheduler
    build.update_service(table, svc)
    assert table.get(svc.key).scheduler is before


def test_server_argv_carries_thresholds() -> None:
    cfg = config(
        virtual(
            "w", "192.168.0.1", server("s", "10.0.0.2", extra="uthreshold = 100\nlthreshold = 50")
        )
    )
    (svc,) = build.plan(cfg, resolve).services
    assert build.add_server_argv(svc, svc.servers[0], 1) == [
        "-a", "-t", "192.168.0.1:80", "-r", "10.0.0.2:80", "-m", "-w", "1", "-x", "100", "-y", "50",
    ]  # fmt: skip


def test_check_settings_change_with_check_keys_only() -> None:
    a = config(virtual("w", "192.168.0.1", server("s", "10.0.0.2"), extra="timeout = 5"))
    b = config(virtual("w", "192.168.0.1", server("s", "10.0.0.2"), extra="timeout = 6"))
    c = config(
        virtual("w", "192.168.0.1", server("s", "10.0.0.2"), extra="timeout = 5\nscheduler = rr")
    )
    (pa,), (pb,), (pc,) = (build.plan(x, resolve).services for x in (a, b, c))
    assert pa.check != pb.check
    assert pa.check == pc.check
