"""fo, ovf and twos hand-checked against ip_vs_fo.c, ip_vs_ovf.c, ip_vs_twos.c."""

from __future__ import annotations

import random

import pytest

from .helpers import KEY, addr, build, pick, set_load
from .test_least_load import VARIANTS, make


@pytest.mark.parametrize("variant", VARIANTS)
def test_fo_highest_weight_ties_to_first(variant):
    table, svc = make("fo", [2, 5, 5, 1], variant)
    assert pick(svc) == 2
    set_load(svc, 2, active=1000)  # load is irrelevant
    assert pick(svc) == 2
    set_load(svc, 2, overloaded=True)
    assert pick(svc) == 3
    table.edit_dest(KEY, addr(3), 80, weight=0)
    assert pick(svc) == 1
    table.edit_dest(KEY, addr(1), 80, weight=0)
    table.edit_dest(KEY, addr(4), 80, weight=0)
    assert pick(svc) is None


def test_ovf_overflows_once_active_exceeds_weight():
    _table, svc = build("ovf", [2, 3, 3])
    assert pick(svc) == 2  # highest weight, first of the tie
    set_load(svc, 2, active=3)  # active == weight: still taken
    assert pick(svc) == 2
    set_load(svc, 2, active=4)
    assert pick(svc) == 3
    set_load(svc, 3, active=4)
    assert pick(svc) == 1
    set_load(svc, 1, active=3)
    assert pick(svc) is None
    set_load(svc, 3, active=1, overloaded=True)
    assert pick(svc) is None


def test_twos_draws_from_svc_rng_exactly_as_the_kernel():
    _, svc = build("twos", [1, 2, 3])
    svc.rng = random.Random(7)
    replay = random.Random(7)
    set_load(svc, 1, inactive=10)
    set_load(svc, 2, inactive=1)
    set_load(svc, 3, inactive=1)
    for _ in range(30):
        r1 = replay.getrandbits(32) % 7
        r2 = replay.getrandbits(32) % 7
        # cumulative weights 1, 3, 6: the first destination where r - sum <= 0
        c1 = 1 if r1 <= 1 else 2 if r1 <= 3 else 3
        c2 = 1 if r2 <= 1 else 2 if r2 <= 3 else 3
        oh = {1: 10, 2: 1, 3: 1}
        w = {1: 1, 2: 2, 3: 3}
        expect = c2 if w[c2] * oh[c1] > w[c1] * oh[c2] else c1
        assert pick(svc) == expect


def test_twos_only_usable_destinations_take_part():
    _table, svc = build("twos", [5, 0, 5])
    svc.rng = random.Random(1)
    set_load(svc, 3, overloaded=True)
    assert {pick(svc) for _ in range(20)} == {1}
    set_load(svc, 1, overloaded=True)
    assert pick(svc) is None


def test_twos_equal_load_keeps_choice_one_and_range_is_inclusive():
    # weights 1, 1: r in 0..2 (total + 1), so r = 0 and r = 1 both land on
    # the first destination; with equal loads choice 1 always stands.
    _, svc = build("twos", [1, 1])
    svc.rng = random.Random(3)
    replay = random.Random(3)
    for _ in range(50):
        r1 = replay.getrandbits(32) % 3
        replay.getrandbits(32)
        assert pick(svc) == (1 if r1 <= 1 else 2)
