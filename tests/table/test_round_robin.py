"""rr and wrr, hand-checked against ip_vs_rr.c / ip_vs_wrr.c."""

from __future__ import annotations

from piranha.table.model import VirtualTable

from .helpers import KEY, addr, build, pick, picks, set_load


def test_rr_cycles_in_list_order_ignoring_weight_magnitude():
    _, svc = build("rr", [5, 1, 3])
    assert picks(svc, 7) == [1, 2, 3, 1, 2, 3, 1]


def test_rr_skips_weight_zero_and_overloaded():
    _table, svc = build("rr", [1, 0, 1, 1])
    set_load(svc, 3, overloaded=True)
    assert picks(svc, 4) == [1, 4, 1, 4]
    set_load(svc, 3, overloaded=False)
    assert picks(svc, 3) == [1, 3, 4]


def test_rr_nothing_usable_returns_none_and_keeps_cursor():
    table, svc = build("rr", [1, 1])
    assert picks(svc, 1) == [1]
    table.edit_dest(KEY, addr(1), 80, weight=0)
    table.edit_dest(KEY, addr(2), 80, weight=0)
    assert pick(svc) is None
    table.edit_dest(KEY, addr(2), 80, weight=1)
    table.edit_dest(KEY, addr(1), 80, weight=1)
    assert picks(svc, 2) == [2, 1]  # the cursor still sat on 1


def test_rr_deleting_the_current_entry_steps_back_to_its_predecessor():
    table, svc = build("rr", [1, 1, 1, 1])
    assert picks(svc, 2) == [1, 2]
    table.delete_dest(KEY, addr(2), 80)  # cursor moves to 1
    assert picks(svc, 3) == [3, 4, 1]
    table.delete_dest(KEY, addr(1), 80)  # first entry: cursor to the head
    assert picks(svc, 2) == [3, 4]


def test_rr_added_destination_comes_up_when_the_walk_wraps():
    table, svc = build("rr", [1, 1, 1])
    assert picks(svc, 2) == [1, 2]
    table.add_dest(KEY, addr(9), 80, weight=1)  # goes to the head of the list
    assert picks(svc, 5) == [3, 9, 1, 2, 3]


def test_wrr_432_list_built_one_by_one_as_ipvsadm_does():
    # A=4, B=3, C=2 in list order.  Adding them one at a time leaves cw at 1
    # (ip_vs_wrr_dest_changed only clamps it), so the first round is the
    # last pass of a cycle; then A A B A B C A B C repeats.
    _, svc = build("wrr", [4, 3, 2])
    cycle = [1, 1, 2, 1, 2, 3, 1, 2, 3]
    assert picks(svc, 3 + 18) == [1, 2, 3, *cycle, *cycle]


def test_wrr_432_from_a_fresh_scheduler():
    from piranha.table.schedulers import create

    _, svc = build("wrr", [4, 3, 2])
    svc.scheduler = create(svc)  # ip_vs_wrr_init_svc with the dests present
    assert picks(svc, 9) == [1, 1, 2, 1, 2, 3, 1, 2, 3]


def test_wrr_gcd_steps_and_mw():
    from piranha.table.schedulers import create

    _, svc = build("wrr", [4, 2])
    svc.scheduler = create(svc)
    sched = svc.scheduler
    assert (sched.di, sched.mw, sched.cw) == (2, 3, 3)  # mw = 4 - (2 - 1)
    assert picks(svc, 6) == [1, 1, 2, 1, 1, 2]


def test_wrr_skips_overloaded_and_fails_when_all_are():
    from piranha.table.schedulers import create

    _, svc = build("wrr", [2, 1])
    svc.scheduler = create(svc)
    set_load(svc, 1, overloaded=True)
    assert picks(svc, 3) == [2, 2, 2]
    set_load(svc, 2, overloaded=True)
    assert pick(svc) is None


def test_wrr_all_weights_zero_means_no_destination():
    _, svc = build("wrr", [0, 0])
    assert svc.scheduler.mw == 0
    assert pick(svc) is None


def test_wrr_edit_restarts_from_the_head_and_clamps_cw():
    table, svc = build("wrr", [4, 3, 2])
    assert picks(svc, 5) == [1, 2, 3, 1, 1]
    table.edit_dest(KEY, addr(1), 80, weight=2)  # di 1, mw 3; cw stays 3
    assert (svc.scheduler.cw, svc.scheduler.cl) == (3, -1)
    assert picks(svc, 6) == [2, 1, 2, 3, 1, 2]


def test_wrr_cw_rounding_when_di_above_one():
    table = VirtualTable()
    _, svc = build("wrr", [9, 3], table=table)
    sched = svc.scheduler
    sched.cw = 5
    table.edit_dest(KEY, addr(2), 80, weight=3)  # di 3, mw 7: cw = (5 // 3) * 3 + 1
    assert (sched.di, sched.mw, sched.cw) == (3, 7, 4)
    sched.cw = 8
    table.edit_dest(KEY, addr(2), 80, weight=3)  # above mw: back to mw
    assert sched.cw == 7
