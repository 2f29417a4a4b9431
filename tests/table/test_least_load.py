"""lc, wlc, sed, nq hand-checked; each test runs the heap, the kernel scan and
the default (which scans below 16 destinations)."""

from __future__ import annotations

import pytest

from piranha.table.schedulers import create

from .helpers import KEY, addr, build, pick, set_load

VARIANTS = ["heap", "scan", "default"]


def make(name: str, weights: list[int], variant: str):
    table, svc = build(name, weights)
    if variant == "scan":
        svc.scheduler = create(svc, scan=True)
    elif variant == "heap":
        force_heap(svc)
    return table, svc


def force_heap(svc) -> None:
    svc.scheduler.SCAN_BELOW = 0
    svc.scheduler.update(svc)
    assert not svc.scheduler.scanning


@pytest.mark.parametrize("variant", VARIANTS)
def test_lc_least_overhead_active_weighs_256(variant):
    _, svc = make("lc", [1, 1, 1], variant)
    set_load(svc, 1, active=1, inactive=0)  # 256
    set_load(svc, 2, active=0, inactive=255)  # 255
    set_load(svc, 3, active=0, inactive=256)  # 256
    assert pick(svc) == 2
    set_load(svc, 2, active=0, inactive=257)
    assert pick(svc) == 1  # tie 256 / 256: the first in list order


@pytest.mark.parametrize("variant", VARIANTS)
def test_lc_ignores_weight_magnitude_but_skips_zero_and_overloaded(variant):
    table, svc = make("lc", [1, 100, 5], variant)
    set_load(svc, 1, inactive=3)
    set_load(svc, 2, inactive=3)
    set_load(svc, 3, inactive=3)
    assert pick(svc) == 1
    table.edit_dest(KEY, addr(1), 80, weight=0)
    assert pick(svc) == 2
    set_load(svc, 2, inactive=3, overloaded=True)
    assert pick(svc) == 3
    set_load(svc, 3, inactive=3, overloaded=True)
    assert pick(svc) is None


@pytest.mark.parametrize("variant", VARIANTS)
def test_wlc_overhead_per_weight_by_cross_multiplication(variant):
    _, svc = make("wlc", [1, 3, 2], variant)
    set_load(svc, 1, active=1)  # 256 / 1
    set_load(svc, 2, active=2)  # 512 / 3 = 170.67
    set_load(svc, 3, active=1, inactive=80)  # 336 / 2 = 168
    assert pick(svc) == 3
    set_load(svc, 3, active=1, inactive=86)  # 342 / 2 = 171 > 170.67
    assert pick(svc) == 2
    set_load(svc, 2, active=2, inactive=1)  # 513 / 3 = 171: tie with 3, 2 is first
    assert pick(svc) == 2


@pytest.mark.parametrize("variant", VARIANTS)
def test_wlc_first_candidate_is_first_usable(variant):
    _table, svc = make("wlc", [0, 1, 1], variant)
    set_load(svc, 2, inactive=5)
    set_load(svc, 3, inactive=5)
    assert pick(svc) == 2  # 1 has weight 0 and no load, but is quiesced
    set_load(svc, 2, inactive=5, overloaded=True)
    assert pick(svc) == 3


@pytest.mark.parametrize("variant", VARIANTS)
def test_wlc_destinations_added_and_removed_mid_stream(variant):
    table, svc = make("wlc", [1, 1], variant)
    set_load(svc, 1, inactive=2)
    set_load(svc, 2, inactive=1)
    assert pick(svc) == 2
    table.add_dest(KEY, addr(7), 80, weight=1)  # head of the list, idle
    assert pick(svc) == 7
    table.delete_dest(KEY, addr(7), 80)
    assert pick(svc) == 2
    table.add_dest(KEY, addr(7), 80, weight=1)  # revived from the trash, still idle
    assert pick(svc) == 7
    table.edit_dest(KEY, addr(7), 80, weight=0)
    assert pick(svc) == 2
    table.delete_dest(KEY, addr(2), 80)
    assert pick(svc) == 1


@pytest.mark.parametrize("variant", VARIANTS)
def test_sed_counts_active_plus_one_and_ignores_inactive(variant):
    _, svc = make("sed", [1, 2], variant)
    set_load(svc, 1, active=0, inactive=50)  # (0+1)/1 = 1
    set_load(svc, 2, active=1, inactive=0)  # (1+1)/2 = 1: tie, first wins
    assert pick(svc) == 1
    set_load(svc, 1, active=1)  # 2/1
    assert pick(svc) == 2
    set_load(svc, 2, active=3)  # 4/2 = 2: tie again
    assert pick(svc) == 1


@pytest.mark.parametrize("variant", VARIANTS)
def test_sed_with_weight_zero_and_nothing_left(variant):
    table, svc = make("sed", [0, 0], variant)
    assert pick(svc) is None
    table.edit_dest(KEY, addr(2), 80, weight=4)
    assert pick(svc) == 2


@pytest.mark.parametrize("variant", VARIANTS)
def test_nq_first_idle_in_list_order_beats_heavier_weights(variant):
    _, svc = make("nq", [1, 10, 1], variant)
    set_load(svc, 1, active=1)
    set_load(svc, 2, active=1)
    set_load(svc, 3, active=0, inactive=99)
    assert pick(svc) == 3  # idle (inactive ignored), although 2 has (1+1)/10
    set_load(svc, 3, active=1)
    assert pick(svc) == 2  # no idle one: sed
    set_load(svc, 1, active=0)
    assert pick(svc) == 1


@pytest.mark.parametrize("variant", VARIANTS)
def test_nq_idle_but_overloaded_or_quiesced_is_skipped(variant):
    table, svc = make("nq", [1, 1, 1], variant)
    set_load(svc, 1, active=0, overloaded=True)
    table.edit_dest(KEY, addr(2), 80, weight=0)
    set_load(svc, 3, active=4)
    assert pick(svc) == 3


@pytest.mark.parametrize("name", ["lc", "wlc", "sed", "nq", "fo", "ovf", "lblc", "lblcr"])
def test_switches_to_heaps_at_scan_below_and_back(name):
    table, svc = build(name, [1] * 3)
    sched = svc.scheduler
    sched.SCAN_BELOW = 5
    sched.update(svc)
    assert sched.scanning
    table.add_dest(KEY, addr(4), 80)
    assert sched.scanning
    table.add_dest(KEY, addr(5), 80)
    assert not sched.scanning and sched._indexes()[0].best() is not None
    table.delete_dest(KEY, addr(5), 80)
    assert sched.scanning


def test_default_threshold_is_sixteen():
    _, svc = build("wlc", [1] * 15)
    assert svc.scheduler.scanning
    _, svc = build("wlc", [1] * 16)
    assert not svc.scheduler.scanning
