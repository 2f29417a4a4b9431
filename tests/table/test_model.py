"""VirtualTable operations the kernel defines: overload on edit, trash, scheduler hooks."""

from __future__ import annotations

import pytest

from piranha.table.model import DEST_TRASH_PERIOD, ServiceKey, TableError, VirtualTable
from piranha.table.schedulers import FLAGS, NAMES, create

from .helpers import KEY, addr, build, connect, pick


def test_connections_exist_from_the_start():
    assert VirtualTable().connections is not None


def test_every_scheduler_is_registered_and_unknown_names_refused():
    assert set(NAMES) == {
        "rr", "wrr", "lc", "wlc", "sed", "nq", "fo", "ovf", "twos",
        "lblc", "lblcr", "dh", "sh", "mh",
    }
    table = VirtualTable()
    with pytest.raises(TableError, match="Scheduler or persistence engine not found"):
        table.add_service(KEY, "bogus")
    svc = table.add_service(KEY, "rr")
    with pytest.raises(TableError):
        table.edit_service(KEY, "bogus")
    assert svc.scheduler_name == "rr" and svc.scheduler.name == "rr"
    with pytest.raises(KeyError):
        svc.scheduler_name = "bogus"
        create(svc)


def test_scheduler_flags():
    assert FLAGS["sh"] == {"sh-fallback", "sh-port", "flag-1", "flag-2", "flag-3"}
    assert FLAGS["mh"] == {"mh-fallback", "mh-port", "flag-1", "flag-2", "flag-3"}
    assert FLAGS["rr"] == {"flag-1", "flag-2", "flag-3"}


def test_edit_service_keeps_scheduler_state_unless_the_name_changes():
    table, svc = build("rr", [1, 1, 1])
    assert pick(svc) == 1
    table.edit_service(KEY, "rr", sched_flags=frozenset({"flag-3"}))
    assert pick(svc) == 2  # same scheduler: the cursor survived
    table.edit_service(KEY, "wlc")
    assert svc.scheduler.name == "wlc"
    table.edit_service(KEY, "rr")
    assert pick(svc) == 1  # a new rr starts at the head


def overloaded_dest(u: int, lower: int = 0):
    table, svc = build("rr", [1])
    table.edit_dest(KEY, addr(1), 80, u_threshold=u, l_threshold=lower)
    for n in range(u):
        connect(table, svc, n)
    dest = svc.destinations[0]
    assert dest.overloaded
    return table, dest


def test_edit_raising_the_upper_threshold_clears_overload():
    table, dest = overloaded_dest(2)
    table.edit_dest(KEY, addr(1), 80, u_threshold=3)
    assert not dest.overloaded


def test_edit_to_no_upper_threshold_clears_overload():
    table, dest = overloaded_dest(2)
    table.edit_dest(KEY, addr(1), 80, u_threshold=0)
    assert not dest.overloaded


def test_edit_keeping_or_lowering_threshold_keeps_overload():
    table, dest = overloaded_dest(3)
    table.edit_dest(KEY, addr(1), 80, weight=5)  # threshold unchanged
    assert dest.overloaded
    table.edit_dest(KEY, addr(1), 80, u_threshold=2)
    assert dest.overloaded


def test_edit_lowering_the_threshold_below_the_count_does_not_set_overload():
    table, svc = build("rr", [1])
    for n in range(3):
        connect(table, svc, n)
    table.edit_dest(KEY, addr(1), 80, u_threshold=2)
    dest = svc.destinations[0]
    assert not dest.overloaded  # only the next bind sets it
    connect(table, svc, 9)
    assert dest.overloaded


def test_last_weight_follows_non_zero_weights():
    table, svc = build("mh", [3])
    dest = svc.destinations[0]
    table.edit_dest(KEY, addr(1), 80, weight=0)
    assert (dest.weight, dest.last_weight) == (0, 3)
    table.edit_dest(KEY, addr(1), 80, weight=5)
    assert dest.last_weight == 5


def test_deleted_destination_goes_to_the_trash_and_revives_with_its_counters():
    table, svc = build("rr", [1, 1])
    conn = connect(table, svc, 1)
    dest = conn.dest
    conn_count = dest.stats.conns
    table.delete_dest(KEY, dest.address, 80)
    assert not dest.available and (KEY, dest.address, 80) in table.trash
    assert dest.inactconns == 1  # its connection still points at it
    revived = table.add_dest(KEY, dest.address, 80, weight=7, u_threshold=9)
    assert revived is dest and dest.available and dest.weight == 7 and dest.last_weight == 7
    assert dest.inactconns == 1 and dest.stats.conns == conn_count
    assert svc.destinations[0] is dest  # back at the head of the list
    assert not table.trash


def test_revival_with_weight_zero_sets_last_weight_zero():
    table, svc = build("rr", [4, 1])
    dest = svc.destinations[0]
    table.delete_dest(KEY, addr(1), 80)
    table.add_dest(KEY, addr(1), 80, weight=0)
    assert dest.last_weight == 0  # __ip_vs_update_dest(add=1) takes the weight as is


def test_revival_into_a_recreated_service_zeroes_statistics():
    table, svc = build("rr", [1])
    connect(table, svc, 1)
    dest = svc.destinations[0]
    table.delete_service(KEY)
    table.add_service(KEY, "rr")
    revived = table.add_dest(KEY, addr(1), 80)
    assert revived is dest and dest.stats.conns == 0 and dest.inactconns == 1


def test_trash_is_purged_after_an_idle_period():
    table, svc = build("rr", [1, 1])
    conn = connect(table, svc, 1)
    table.delete_dest(KEY, conn.dest.address, 80)
    assert table.purge_trash(0.0) == []  # still referenced
    table.connections.remove(conn)
    assert table.purge_trash(10.0) == []  # idle from now on
    assert table.purge_trash(10.0 + DEST_TRASH_PERIOD - 1) == []
    assert table.purge_trash(10.0 + DEST_TRASH_PERIOD) == [conn.dest]
    fresh = table.add_dest(KEY, conn.dest.address, 80)
    assert fresh is not conn.dest and fresh.stats.conns == 0


def test_fwmark_and_sorting_unchanged():
    table = VirtualTable()
    table.add_service(ServiceKey.mark(5), "rr")
    table.add_service(ServiceKey.tcp("10.0.0.2", 80), "rr")
    assert [str(s.key) for s in table.sorted_services()] == ["TCP 10.0.0.2:80", "FWM 5"]
