"""The connection table: ActiveConn/InActConn, overload, timers, expiry, ops."""

from __future__ import annotations

import pytest

from piranha.table.connections import TCP_STATE_TIMEOUTS
from piranha.table.model import IPPROTO_UDP, ServiceKey, VirtualTable

from .helpers import KEY, VIP, addr, build, connect


def counts(dest):
    return dest.activeconns, dest.inactconns, dest.persistconns


def test_new_tcp_connection_is_inactive_syn_recv_and_counted():
    table, svc = build("rr", [1])
    conn = connect(table, svc, 1000, now=5.0)
    dest = svc.destinations[0]
    assert conn.state == "SYN_RECV" and conn.inactive and conn.expires == 65.0
    assert (conn.daddr, conn.dport, conn.caddr, conn.cport) == (addr(1), 80, "192.0.2.1", 1000)
    assert counts(dest) == (0, 1, 0)
    assert dest.stats.conns == 1 and svc.stats.conns == 1
    assert table.connections.lookup(6, "192.0.2.1", 1000, VIP, 80) is conn


def test_established_is_active_and_leaving_it_is_inactive_again():
    table, svc = build("rr", [1])
    ct = table.connections
    conn = connect(table, svc, 1)
    dest = svc.destinations[0]
    ct.set_state(conn, "ESTABLISHED", 1.0)
    assert counts(dest) == (1, 0, 0) and conn.expires == 1.0 + 900
    ct.set_state(conn, "ESTABLISHED", 2.0)  # same state: counts unchanged
    assert counts(dest) == (1, 0, 0)
    ct.set_state(conn, "FIN_WAIT", 3.0)
    assert counts(dest) == (0, 1, 0) and conn.expires == 3.0 + 120
    ct.set_state(conn, "TIME_WAIT", 4.0)
    assert counts(dest) == (0, 1, 0) and conn.expires == 4.0 + 120


@pytest.mark.parametrize(("state", "timeout"), sorted(TCP_STATE_TIMEOUTS.items()))
def test_tcp_state_timeouts(state, timeout):
    table, svc = build("rr", [1])
    table.set_timeouts(1000, 50, 0)
    conn = connect(table, svc, 1)
    table.connections.set_state(conn, state, 10.0)
    expected = {"ESTABLISHED": 1000, "FIN_WAIT": 50}.get(state, timeout)
    assert conn.timeout == expected and conn.expires == 10.0 + expected


def test_kernel_default_timeouts():
    assert (TCP_STATE_TIMEOUTS["NONE"], TCP_STATE_TIMEOUTS["SYN_SENT"],
            TCP_STATE_TIMEOUTS["SYN_RECV"], TCP_STATE_TIMEOUTS["TIME_WAIT"],
            TCP_STATE_TIMEOUTS["CLOSE"], TCP_STATE_TIMEOUTS["CLOSE_WAIT"],
            TCP_STATE_TIMEOUTS["LAST_ACK"], TCP_STATE_TIMEOUTS["LISTEN"],
            TCP_STATE_TIMEOUTS["SYNACK"]) == (2, 120, 60, 120, 10, 60, 30, 120, 120)


def test_udp_connections_are_always_inactive():
    table = VirtualTable()
    key = ServiceKey.udp(VIP, 53)
    svc = table.add_service(key, "rr")
    table.add_dest(key, addr(1), 53)
    conn = table.connections.schedule(svc, IPPROTO_UDP, "192.0.2.1", 5000, VIP, 53, 0.0)
    assert conn.state == "UDP" and conn.expires == 300
    table.connections.set_state(conn, "UDP", 10.0)
    assert counts(svc.destinations[0]) == (0, 1, 0) and conn.expires == 310
    with pytest.raises(ValueError, match="expected one of UDP"):
        table.connections.set_state(conn, "ESTABLISHED", 10.0)


def test_unknown_state_is_refused_with_the_valid_ones():
    table, svc = build("rr", [1])
    conn = connect(table, svc, 1)
    with pytest.raises(ValueError, match=r"unknown state 'OPEN'.*ESTABLISHED"):
        table.connections.set_state(conn, "OPEN", 0.0)


def test_touch_restarts_the_timer_with_the_current_table_timeout():
    table, svc = build("rr", [1])
    ct = table.connections
    conn = connect(table, svc, 1)
    ct.set_state(conn, "ESTABLISHED", 0.0)
    table.set_timeouts(60, 0, 0)
    ct.touch(conn, 100.0)
    assert conn.expires == 160.0
    assert ct.expire(159.0) == [] and ct.expire(160.0) == [conn]
    assert counts(svc.destinations[0]) == (0, 0, 0)
    assert ct.lookup(6, "192.0.2.1", 1, VIP, 80) is None


def test_expire_honours_touches_after_arming_and_shortened_timers():
    table, svc = build("rr", [1])
    ct = table.connections
    a = connect(table, svc, 1)  # SYN_RECV, expires 60
    b = connect(table, svc, 2)
    ct.touch(a, 50.0)  # now 110
    ct.set_state(b, "ESTABLISHED", 1.0)  # 901
    ct.set_state(b, "CLOSE", 2.0)  # shortened to 12
    assert ct.expire(60.0) == [b]
    assert ct.expire(109.0) == []
    assert ct.expire(110.0) == [a]
    assert len(ct) == 0


def test_upper_threshold_sets_overload_on_bind_and_three_quarters_clears_it():
    table, svc = build("rr", [1, 1])
    table.edit_dest(KEY, addr(1), 80, u_threshold=4)
    ct = table.connections
    conns = [connect(table, svc, n) for n in range(8)]
    dest = svc.destinations[0]
    assert dest.overloaded and dest.inactconns == 4  # rr moved on to 2 after that
    assert [c.daddr for c in conns] == [addr(1), addr(2)] * 4
    mine = [c for c in conns if c.dest is dest]
    ct.remove(mine[0])  # 3 * 4 < 4 * 3? no
    assert dest.overloaded
    ct.remove(mine[1])  # 2 * 4 < 12
    assert not dest.overloaded


def test_lower_threshold_clears_overload():
    table, svc = build("rr", [1])
    table.edit_dest(KEY, addr(1), 80, u_threshold=4, l_threshold=2)
    ct = table.connections
    conns = [connect(table, svc, n) for n in range(4)]
    dest = svc.destinations[0]
    assert dest.overloaded and connect(table, svc, 99) is None
    ct.remove(conns[0])
    ct.remove(conns[1])  # total 2, not < 2
    assert dest.overloaded
    ct.remove(conns[2])
    assert not dest.overloaded


def test_unbind_without_thresholds_always_clears_overload():
    table, svc = build("rr", [1])
    conn = connect(table, svc, 1)
    dest = svc.destinations[0]
    dest.overloaded = True  # e.g. left from before the threshold was removed
    table.connections.remove(conn)
    assert not dest.overloaded


def test_active_and_inactive_count_towards_thresholds_templates_do_not():
    table, svc = build("rr", [1], persistent=300)
    table.edit_dest(KEY, addr(1), 80, u_threshold=2)
    ct = table.connections
    first = connect(table, svc, 1)
    ct.set_state(first, "ESTABLISHED", 0.0)
    dest = svc.destinations[0]
    assert counts(dest) == (1, 0, 1) and not dest.overloaded
    connect(table, svc, 2)
    assert counts(dest) == (1, 1, 1) and dest.overloaded


def test_account_counts_on_destination_and_service_unless_deleted():
    table, svc = build("rr", [1, 1])
    ct = table.connections
    conn = connect(table, svc, 1)
    ct.account(conn, in_bytes=100, in_pkts=2, out_bytes=1000, out_pkts=3)
    for stats in (conn.dest.stats, svc.stats):
        assert (stats.inbytes, stats.inpkts, stats.outbytes, stats.outpkts) == (100, 2, 1000, 3)
    table.delete_dest(KEY, conn.dest.address, 80)
    ct.account(conn, in_bytes=100, in_pkts=1)
    assert svc.stats.inbytes == 100


def test_same_five_tuple_returns_the_live_entry():
    table, svc = build("rr", [1, 1])
    a = connect(table, svc, 7)
    assert connect(table, svc, 7) is a
    assert svc.stats.conns == 1


def test_time_wait_entry_is_replaced_by_a_new_connection():
    table, svc = build("rr", [1, 1])
    ct = table.connections
    a = connect(table, svc, 7)
    ct.set_state(a, "TIME_WAIT", 1.0)
    b = connect(table, svc, 7, now=2.0)
    assert b is not a and b.daddr == addr(2)
    assert ct.entries() == [b] and a.dest.inactconns == 0


def test_non_persistent_port_mismatch_and_port_zero_are_refused():
    table, svc = build("rr", [1])
    assert connect(table, svc, 1, vport=81) is None
    zero = ServiceKey.tcp("10.0.0.9", 0)
    svc0 = table.add_service(zero, "rr")
    table.add_dest(zero, addr(1), 0)
    assert table.connections.schedule(svc0, 6, "192.0.2.1", 1, "10.0.0.9", 443, 0.0) is None


def test_destination_port_zero_keeps_the_virtual_port():
    table = VirtualTable()
    key = ServiceKey.mark(3)
    svc = table.add_service(key, "rr")
    table.add_dest(key, addr(1), 0)
    conn = table.connections.schedule(svc, 6, "192.0.2.1", 1, "10.0.0.7", 8443, 0.0)
    assert (conn.vaddr, conn.vport, conn.dport) == ("10.0.0.7", 8443, 8443)


def test_one_packet_scheduling_counts_but_keeps_no_entry():
    table = VirtualTable()
    key = ServiceKey.udp(VIP, 53)
    svc = table.add_service(key, "rr", ops=True)
    table.add_dest(key, addr(1), 53, u_threshold=1)
    conn = table.connections.schedule(svc, IPPROTO_UDP, "192.0.2.1", 5000, VIP, 53, 0.0)
    dest = svc.destinations[0]
    assert conn.dest is dest and dest.stats.conns == 1
    assert counts(dest) == (0, 0, 0) and not dest.overloaded
    assert table.connections.entries() == []


def test_expire_nodest_conn_flushes_a_deleted_destination():
    table, svc = build("rr", [1, 1], persistent=60)
    table.expire_nodest_conn = True
    ct = table.connections
    a = connect(table, svc, 1, client="192.0.2.1")
    other = connect(table, svc, 2, client="192.0.2.2")
    dest = a.dest
    table.delete_dest(KEY, dest.address, 80)
    gone = ct.flush_dest(dest, 1.0)
    assert a in gone and a.controller in gone and len(gone) == 2
    assert counts(dest) == (0, 0, 0) and ct.entries() == [other.controller, other]


def test_without_expire_nodest_conn_entries_stay_and_resume_on_revival():
    table, svc = build("rr", [1, 1])
    ct = table.connections
    a = connect(table, svc, 1)
    table.delete_dest(KEY, a.dest.address, 80)
    assert ct.flush_dest(a.dest, 1.0) == []
    assert ct.lookup(6, "192.0.2.1", 1, VIP, 80) is a
    table.add_dest(KEY, a.dest.address, 80)
    assert a.dest.available and a.dest.inactconns == 1


def test_deleted_destination_entry_is_rescheduled_with_expire_nodest_conn():
    table, svc = build("rr", [1, 1])
    a = connect(table, svc, 1)
    table.delete_dest(KEY, a.dest.address, 80)
    assert connect(table, svc, 1) is a  # sysctl off: the entry stands (packets dropped)
    table.expire_nodest_conn = True
    b = connect(table, svc, 1)
    assert b is not a and b.dest.available


def test_only_tcp_and_udp_are_scheduled():
    table, svc = build("rr", [1])
    with pytest.raises(ValueError, match="only TCP"):
        connect(table, svc, 1, protocol=132)


def test_removed_entry_ignores_further_events():
    table, svc = build("rr", [1])
    ct = table.connections
    conn = connect(table, svc, 1)
    assert ct.remove(conn) and not ct.remove(conn)
    ct.set_state(conn, "ESTABLISHED", 1.0)
    ct.touch(conn, 1.0)
    assert counts(svc.destinations[0]) == (0, 0, 0)


def test_timer_heap_stays_proportional_to_live_entries():
    """Closed connections must not pile up as dead timers until their old deadlines."""
    from piranha.table.connections import COMPACT_SLACK
    from piranha.table.model import IPPROTO_TCP, ServiceKey, VirtualTable

    table = VirtualTable()
    key = ServiceKey.tcp("10.0.0.1", 80)
    svc = table.add_service(key, "rr")
    table.add_dest(key, "10.0.1.1", 80)
    conns = table.connections
    for i in range(20_000):
        conn = conns.schedule(svc, IPPROTO_TCP, f"10.9.{i // 250}.{i % 250}", 1000 + i, "10.0.0.1", 80, 0.0)
        conns.set_state(conn, "ESTABLISHED", 0.0)
        conns.remove(conn)
    assert len(conns) == 0
    assert len(conns._timers) <= COMPACT_SLACK + 2
