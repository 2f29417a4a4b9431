"""Schedulers as slot tables: the kernel's choices, laid out for nft lookups."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from piranha.dataplane.nftables.slots import (
    DYNAMIC_SLOTS,
    MAX_CYCLE,
    interleave,
    needs_counts,
    plan_slots,
    simulate,
    unsupported_reason,
)
from piranha.table.model import Destination, ServiceKey
from piranha.table.schedulers.mh import TAB_SIZE as MH_SIZE
from piranha.table.schedulers.mh import populate
from piranha.table.schedulers.sh import deal_by_weight
from tests.table.helpers import build, number


def numbers(slots):
    return [number(d) for d in slots]


def test_wrr_slots_are_one_kernel_cycle_in_its_order():
    _, svc = build("wrr", [4, 3, 2])
    plan = plan_slots(svc)
    assert plan.selector == "numgen" and plan.modulus == 9
    # ip_vs_wrr.c: A=4, B=3, C=2 -> A A B A B C A B C
    assert numbers(plan.slots) == [1, 1, 2, 1, 2, 3, 1, 2, 3]
    # and it is the cycle the table's own scheduler runs; that one starts where
    # adding the servers one by one left its current weight (ip_vs_wrr_dest_changed
    # clamps it only when above the maximum), so compare as a rotation
    kernel = [number(svc.scheduler.schedule(svc, 0, 0, 0, 80, 0.0)) for _ in range(18)]
    doubled = numbers(plan.slots) * 2
    assert any(doubled[i : i + 9] == kernel[:9] for i in range(9))
    assert kernel[9:] == kernel[:9]


def test_wrr_cycle_uses_the_gcd_and_skips_quiesced_and_overloaded():
    _, svc = build("wrr", [40, 20, 0, 60])
    assert numbers(plan_slots(svc).slots) == [4, 1, 4, 1, 2, 4]
    svc.destinations[0].overloaded = True
    assert 1 not in numbers(plan_slots(svc).slots)


def test_wrr_cycle_too_long_is_scaled_but_keeps_every_server():
    _, svc = build("wrr", [65535, 1, 30000])
    plan = plan_slots(svc)
    assert plan.modulus <= MAX_CYCLE + 3
    shares = Counter(numbers(plan.slots))
    assert set(shares) == {1, 2, 3}
    assert abs(shares[1] / shares[3] - 65535 / 30000) < 0.01


def test_rr_is_list_order_of_usable_servers():
    _, svc = build("rr", [5, 0, 1, 1])
    assert numbers(plan_slots(svc).slots) == [1, 3, 4]


def test_no_usable_server_leaves_an_empty_slot():
    _, svc = build("rr", [0, 0])
    plan = plan_slots(svc)
    assert plan.modulus == 1 and plan.slots == (None,)


def test_sh_buckets_are_dealt_by_weight():
    _, svc = build("sh", [3, 1, 2])
    plan = plan_slots(svc)
    assert plan.selector == "saddr" and plan.modulus == 256
    assert numbers(plan.slots) == numbers(deal_by_weight(svc.destinations))
    shares = Counter(numbers(plan.slots))
    assert shares[1] > shares[3] > shares[2]


def test_sh_quiesced_bucket_fails_without_fallback_and_probes_with_it():
    _, svc = build("sh", [1, 0, 1])
    table = deal_by_weight(svc.destinations)
    dead = [b for b, d in enumerate(table) if number(d) == 2]
    plan = plan_slots(svc)
    assert all(plan.slots[b] is None for b in dead)
    svc.sched_flags = frozenset({"sh-fallback"})
    plan = plan_slots(svc)
    for b in dead:
        # the kernel's probe order: buckets 2*b, 2*b+1, ...
        expected = next(d for k in range(256) if (d := table[(2 * b + k) % 256]).weight > 0)
        assert plan.slots[b] is expected
    svc.sched_flags = frozenset({"sh-port"})
    assert plan_slots(svc).selector == "saddr-sport"


def test_dh_one_bucket_per_server_in_turn():
    _, svc = build("dh", [1, 5, 1])
    plan = plan_slots(svc)
    assert plan.selector == "daddr"
    assert numbers(plan.slots[:6]) == [1, 2, 3, 1, 2, 3]


def test_mh_is_the_kernels_maglev_table_and_quiescing_keeps_it():
    _, svc = build("mh", [1, 2, 1])
    plan = plan_slots(svc)
    assert plan.modulus == MH_SIZE == 4093 and plan.selector == "saddr"
    assert numbers(plan.slots) == numbers(populate(svc.destinations))
    svc.destinations[1].set_weight(0)  # last_weight stays: same table, its slots fail
    quiesced = plan_slots(svc)
    for before, after in zip(plan.slots, quiesced.slots, strict=True):
        assert after is (None if number(before) == 2 else before)
    assert quiesced.fallback == ()
    svc.sched_flags = frozenset({"mh-fallback", "mh-port"})
    fallback = plan_slots(svc)
    assert fallback.selector == "saddr-sport"
    assert set(numbers(fallback.fallback)) == {1, 3}


def test_mh_two_directors_build_the_same_table():
    _, one = build("mh", [1, 1, 1, 2])
    _, two = build("mh", [1, 1, 1, 2])
    assert numbers(plan_slots(one).slots) == numbers(plan_slots(two).slots)


def test_least_connection_sends_the_next_arrivals_to_the_least_loaded():
    _, svc = build("lc", [1, 1, 1])
    svc.destinations[0].activeconns = 10
    svc.destinations[1].activeconns = 4
    plan = plan_slots(svc, horizon=10)
    assert plan.dynamic and plan.modulus == DYNAMIC_SLOTS
    shares = Counter(numbers(plan.slots))
    # exact lc over the next 10: server 3 catches up to 4, then 2 and 3 alternate
    exact = Counter(number(d) for d in simulate(svc, 10))
    assert 1 not in shares and exact == Counter({3: 7, 2: 3})
    assert abs(shares[3] / DYNAMIC_SLOTS - 0.7) < 1 / DYNAMIC_SLOTS


def test_wlc_follows_weights_when_loads_are_equal():
    _, svc = build("wlc", [3, 1])
    shares = Counter(numbers(plan_slots(svc, horizon=400).slots))
    assert abs(shares[1] / shares[2] - 3) < 0.1


def test_fo_and_ovf():
    _, svc = build("fo", [1, 5, 3])
    assert set(numbers(plan_slots(svc, horizon=20).slots)) == {2}
    _, svc = build("ovf", [2, 1])
    svc.destinations[0].activeconns = 2
    # a server takes connections while activeconns <= weight: 1 takes one more
    # (2 -> 3), then 2 takes two (0 -> 2), then nothing is left
    assert Counter(number(d) for d in simulate(svc, 5)) == Counter({1: 1, 2: 2})


def test_thresholds_make_any_scheduler_count_driven():
    _, svc = build("rr", [1, 1])
    assert not needs_counts(svc)
    svc.destinations[0].u_threshold = 10
    assert needs_counts(svc) and plan_slots(svc).dynamic


def test_lblc_and_lblcr_are_refused_with_the_way_out():
    for name in ("lblc", "lblcr"):
        _, svc = build(name, [1, 1])
        why = unsupported_reason(svc)
        assert why and "dataplane = userspace" in why and name in why
    _, svc = build("wlc", [1])
    assert unsupported_reason(svc) is None


def _dests(n: int) -> list[Destination]:
    return [Destination(f"10.2.0.{i}", 80) for i in range(1, n + 1)]


@given(st.lists(st.integers(min_value=1, max_value=500), min_size=1, max_size=12), st.sampled_from([16, 256]))
def test_interleave_gives_every_prefix_its_share(shares, size):
    dests = _dests(len(shares))
    slots = interleave(list(zip(dests, shares, strict=True)), size)
    assert len(slots) == size
    totals = Counter(id(d) for d in slots)
    quotas = {id(d): totals[id(d)] for d in dests}
    # the quotas are the largest-remainder split of `size`
    total = sum(shares)
    for d, share in zip(dests, shares, strict=True):
        assert abs(quotas[id(d)] - share * size / total) < 1
    # and every prefix holds each server within two slots of its quota's pace
    # (smooth weighted round robin; a clustered layout would be off by its run lengths)
    seen: Counter = Counter()
    for n, d in enumerate(slots, 1):
        seen[id(d)] += 1
        for dest in dests:
            assert abs(seen[id(dest)] - n * quotas[id(dest)] / size) < 2


def test_fwmark_key_is_fine_for_every_scheduler():
    for name in ("rr", "wrr", "lc", "wlc", "sed", "nq", "fo", "ovf", "twos", "sh", "dh", "mh"):
        _, svc = build(name, [2, 1], key=ServiceKey.mark(80))
        plan = plan_slots(svc, horizon=8)
        assert any(plan.slots), name
