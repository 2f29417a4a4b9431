"""Persistence templates, rule by rule (ip_vs_sched_persist, ip_vs_check_template)."""

from __future__ import annotations

from piranha.table.model import IPPROTO_IP, IPPROTO_UDP, ServiceKey, VirtualTable

from .helpers import KEY, VIP, addr, build, connect


def templates(table):
    return [c for c in table.connections.entries() if c.template]


def test_port_service_template_key_and_listing_fields():
    table, svc = build("rr", [1, 1], persistent=300, netmask="255.255.255.0")
    conn = connect(table, svc, 4000, now=10.0, client="192.0.2.77")
    (tpl,) = templates(table)
    assert (tpl.protocol, tpl.caddr, tpl.cport, tpl.vaddr, tpl.vport) == (6, "192.0.2.0", 0, VIP, 80)
    assert (tpl.daddr, tpl.dport, tpl.state) == (conn.daddr, 80, "NONE")
    assert tpl.expires == 310.0 and tpl.timeout == 300
    assert conn.controller is tpl and tpl.n_control == 1
    dest = conn.dest
    assert (dest.activeconns, dest.inactconns, dest.persistconns) == (0, 1, 1)
    assert dest.stats.conns == 1 and svc.stats.conns == 1  # templates are not counted


def test_same_network_sticks_without_asking_the_scheduler():
    table, svc = build("rr", [1, 1, 1], persistent=300, netmask="255.255.255.0")
    first = connect(table, svc, 1, client="192.0.2.10")
    second = connect(table, svc, 2, client="192.0.2.200", now=50.0)
    assert second.dest is first.dest and second.controller is first.controller
    assert first.controller.n_control == 2 and first.controller.expires == 350.0
    assert svc.scheduler.cursor == 0  # rr was asked once
    other = connect(table, svc, 3, client="198.51.100.1")
    assert other.dest is not first.dest


def test_ftp_template_has_virtual_port_zero():
    table = VirtualTable()
    key = ServiceKey.tcp(VIP, 21)
    svc = table.add_service(key, "rr", persistent=60)
    table.add_dest(key, addr(1), 21)
    control = table.connections.schedule(svc, 6, "192.0.2.1", 3000, VIP, 21, 0.0)
    (tpl,) = templates(table)
    assert (tpl.vport, tpl.dport) == (0, 0)
    # a passive data connection reaching the FTP service on another port
    data = table.connections.schedule(svc, 6, "192.0.2.1", 3001, VIP, 40000, 1.0)
    assert data.controller is tpl and data.dest is control.dest and data.dport == 40000


def test_fwmark_template_is_protocol_ip_with_the_mark_as_address():
    table = VirtualTable()
    key = ServiceKey.mark(100)
    svc = table.add_service(key, "rr", persistent=60)
    table.add_dest(key, addr(1), 0)
    table.add_dest(key, addr(2), 0)
    http = table.connections.schedule(svc, 6, "192.0.2.1", 3000, "10.0.0.5", 80, 0.0)
    https = table.connections.schedule(svc, 6, "192.0.2.1", 3001, "10.0.0.5", 443, 0.0)
    dns = table.connections.schedule(svc, IPPROTO_UDP, "192.0.2.1", 53, "10.0.0.6", 53, 0.0)
    (tpl,) = templates(table)
    assert (tpl.protocol, tpl.caddr, tpl.vaddr, tpl.vport, tpl.dport) == (
        IPPROTO_IP, "192.0.2.1", "0.0.0.100", 0, 0)
    assert http.dest is https.dest is dns.dest and tpl.n_control == 3
    assert (http.dport, https.dport, dns.dport) == (80, 443, 53)


def test_port_zero_service_template():
    table = VirtualTable()
    key = ServiceKey.tcp(VIP, 0)
    svc = table.add_service(key, "rr", persistent=60)
    table.add_dest(key, addr(1), 0)
    conn = table.connections.schedule(svc, 6, "192.0.2.1", 3000, VIP, 8080, 0.0)
    (tpl,) = templates(table)
    assert (tpl.protocol, tpl.vaddr, tpl.vport) == (6, VIP, 0)
    assert conn.dport == 8080


def test_udp_template_state():
    table = VirtualTable()
    key = ServiceKey.udp(VIP, 53)
    svc = table.add_service(key, "rr", persistent=60)
    table.add_dest(key, addr(1), 53)
    table.connections.schedule(svc, IPPROTO_UDP, "192.0.2.1", 3000, VIP, 53, 0.0)
    (tpl,) = templates(table)
    assert tpl.state == "UDP" and tpl.protocol == IPPROTO_UDP


def test_template_cannot_expire_while_it_controls_a_connection():
    table, svc = build("rr", [1], persistent=30)
    ct = table.connections
    conn = connect(table, svc, 1)
    ct.set_state(conn, "ESTABLISHED", 0.0)  # conn until 900
    tpl = conn.controller
    assert ct.expire(30.0) == []
    assert tpl.timeout == 60 and tpl.expires == 90.0  # re-armed, 60 s at a time
    assert ct.expire(869.0) == [] and tpl.expires == 870.0
    # the connection goes at 900; the template at its next try, 930
    assert ct.expire(900.0) == [conn]
    assert ct.expire(929.0) == []
    assert ct.expire(930.0) == [tpl]
    assert svc.destinations[0].persistconns == 0


def test_template_timer_restarts_on_use_with_its_current_timeout():
    table, svc = build("rr", [1], persistent=300)
    ct = table.connections
    a = connect(table, svc, 1)
    tpl = a.controller
    ct.remove(a)
    b = connect(table, svc, 2, now=200.0)
    assert b.controller is tpl and tpl.expires == 500.0
    assert ct.expire(499.0) == [b]  # b was still in SYN_RECV: gone at 260
    assert ct.expire(500.0) == [tpl]


def test_a_retried_template_keeps_the_60_second_timeout():
    table, svc = build("rr", [1], persistent=300)
    ct = table.connections
    a = connect(table, svc, 1)
    ct.set_state(a, "ESTABLISHED", 0.0)
    ct.expire(300.0)
    tpl = a.controller
    assert tpl.timeout == 60
    connect(table, svc, 2, now=310.0)
    assert tpl.expires == 370.0


def test_quiesced_destination_still_gets_returning_clients_by_default():
    table, svc = build("rr", [1, 1], persistent=300)
    first = connect(table, svc, 1)
    table.edit_dest(KEY, first.dest.address, 80, weight=0)
    again = connect(table, svc, 2, now=10.0)
    assert again.dest is first.dest


def test_expire_quiescent_template_reschedules_and_invalidates_the_template():
    table, svc = build("rr", [1, 1], persistent=300)
    table.expire_quiescent_template = True
    first = connect(table, svc, 1)
    old = first.controller
    table.edit_dest(KEY, first.dest.address, 80, weight=0)
    again = connect(table, svc, 2, now=10.0)
    assert again.dest is not first.dest and again.controller is not old
    assert (old.vport, old.dport, old.cport) == (0xFFFF, 0xFFFF, 0)
    assert old in table.connections.entries()  # listed until it expires
    assert old.expires == 300.0  # its timer was not restarted


def test_deleted_destination_invalidates_the_template():
    table, svc = build("rr", [1, 1], persistent=300)
    first = connect(table, svc, 1)
    table.delete_dest(KEY, first.dest.address, 80)
    again = connect(table, svc, 2, now=10.0)
    assert again.dest is not first.dest and again.dest.available
    assert first.controller.vport == 0xFFFF


def test_no_destination_means_no_template():
    table, svc = build("rr", [0], persistent=300)
    assert connect(table, svc, 1) is None
    assert table.connections.entries() == []


def test_template_hit_ignores_overload_and_weight():
    table, svc = build("wlc", [1, 1], persistent=300)
    table.edit_dest(KEY, addr(1), 80, u_threshold=1)
    first = connect(table, svc, 1)
    assert first.dest.overloaded
    assert connect(table, svc, 2).dest is first.dest


def test_controlling_template_cannot_be_removed():
    table, svc = build("rr", [1], persistent=300)
    ct = table.connections
    conn = connect(table, svc, 1)
    assert not ct.remove(conn.controller)
    assert ct.remove(conn) and ct.remove(conn.controller)
    assert svc.destinations[0].persistconns == 0
