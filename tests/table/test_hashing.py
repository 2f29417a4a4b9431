"""sh, dh and mh tables and lookups; the kernel's hsiphash test vectors."""

from __future__ import annotations

import pytest

from piranha.table.model import VirtualTable
from piranha.table.schedulers import create
from piranha.table.schedulers.dh import dh_hashkey
from piranha.table.schedulers.hsiphash import hsiphash, hsiphash_u32
from piranha.table.schedulers.mh import TAB_SIZE, _turns, mh_hashkey, populate
from piranha.table.schedulers.sh import deal_by_weight, sh_hashkey

from .helpers import KEY, addr, build, number, pick, set_load

# -- sh -------------------------------------------------------------------


def table_numbers(svc) -> list[int | None]:
    return [number(d) for d in svc.scheduler.table]


def test_sh_deals_buckets_by_weight_in_list_order():
    _, svc = build("sh", [2, 1, 3])
    period = [1, 1, 2, 3, 3, 3]
    assert table_numbers(svc) == (period * 43)[:256]


def test_sh_weight_zero_still_takes_one_bucket():
    _, svc = build("sh", [0, 2])
    assert table_numbers(svc)[:6] == [1, 2, 2, 1, 2, 2]


def test_sh_weights_over_256_starve_the_later_ones():
    _, svc = build("sh", [200, 100, 5])
    nums = table_numbers(svc)
    assert nums.count(1) == 200 and nums.count(2) == 56 and nums.count(3) == 0


def test_sh_empty_service_has_empty_buckets():
    assert deal_by_weight([]) == [None] * 256


def test_sh_bucket_of_a_client_address():
    # 0x0A0A0A0A * 0x9E3779B1: low byte 0x0A * 0xB1 = 1770 -> 1770 & 255 = 234
    assert sh_hashkey(0x0A0A0A0A, 0, 0) == 234
    assert sh_hashkey(0x0A0A0A0A, 1, 0) == (234 + 0xB1) & 255  # sh-port adds the port


def test_sh_lookup_and_failure_without_fallback():
    _, svc = build("sh", [1, 1])  # even buckets -> 1, odd -> 2
    assert pick(svc, caddr=0x0A0A0A0A) == 1  # bucket 234
    set_load(svc, 1, overloaded=True)
    assert pick(svc, caddr=0x0A0A0A0A) is None


def test_sh_fallback_probes_from_twice_the_bucket():
    _, svc = build("sh", [1, 1], sched_flags=frozenset({"sh-fallback"}))
    set_load(svc, 1, overloaded=True)
    # probes hit buckets (k + 2 * 234) & 255 = 212, 213, ...: 213 holds 2
    assert pick(svc, caddr=0x0A0A0A0A) == 2
    set_load(svc, 2, overloaded=True)
    assert pick(svc, caddr=0x0A0A0A0A) is None


def test_sh_flag_aliases_and_port():
    _, svc = build("sh", [1, 1], sched_flags=frozenset({"flag-2"}))
    # with the port: bucket (0x0A0A0A0A + 1) * G & 255 = 234 + 177 = 411 & 255 = 155 -> odd
    assert pick(svc, caddr=0x0A0A0A0A, cport=1) == 2
    assert pick(svc, caddr=0x0A0A0A0A, cport=2) == 1


def test_sh_table_follows_weight_edits():
    table, svc = build("sh", [1, 1])
    table.edit_dest(KEY, addr(1), 80, weight=3)
    assert table_numbers(svc)[:8] == [1, 1, 1, 2, 1, 1, 1, 2]


# -- dh -------------------------------------------------------------------


def test_dh_one_bucket_each_in_turn_keyed_on_destination_address():
    _, svc = build("dh", [5, 1, 1])
    assert table_numbers(svc)[:7] == [1, 2, 3, 1, 2, 3, 1]
    # daddr 10.0.0.1: low byte 1 * 0xB1 = 177 -> bucket 177 -> 177 % 3 = 0 -> 1
    assert dh_hashkey(0x0A000001) == 177
    assert pick(svc, daddr=0x0A000001) == 1
    assert pick(svc, daddr=0x0A000002) == number(svc.scheduler.table[(2 * 177) & 255])


def test_dh_fails_on_quiesced_or_overloaded_bucket():
    table, svc = build("dh", [1, 1, 1])
    table.edit_dest(KEY, addr(1), 80, weight=0)
    assert pick(svc, daddr=0x0A000001) is None
    table.edit_dest(KEY, addr(1), 80, weight=1)
    set_load(svc, 1, overloaded=True)
    assert pick(svc, daddr=0x0A000001) is None


# -- hsiphash ---------------------------------------------------------------

KUNIT_KEY = (0x0706050403020100, 0x0F0E0D0C0B0A0908)
KUNIT_VECTORS = [  # lib/siphash_kunit.c, test_vectors_hsiphash for BITS_PER_LONG == 64
    0x050FC4DC, 0x7D57CA93, 0x4DC7D44D, 0xE7DDF7FB, 0x88D38328, 0x49533B67,
    0xC59F22A7, 0x9BB11140, 0x8D299A8E, 0x6C063DE4, 0x92FF097F, 0xF94DC352,
    0x57B4D9A2, 0x1229FFA7, 0xC0F95D34, 0x2A519956, 0x7D908B66, 0x63DBD80C,
]


@pytest.mark.parametrize("length", range(len(KUNIT_VECTORS)))
def test_hsiphash_matches_the_kernel_self_test(length):
    assert hsiphash(bytes(range(length)), KUNIT_KEY) == KUNIT_VECTORS[length]


def test_hsiphash_u32_is_the_four_byte_case():
    assert hsiphash_u32(0x03020100, KUNIT_KEY) == KUNIT_VECTORS[4]
    assert hsiphash_u32(0xDEADBEEF, KUNIT_KEY) == hsiphash(bytes.fromhex("efbeadde"), KUNIT_KEY)


# -- mh -------------------------------------------------------------------


def test_mh_table_has_4093_slots_all_filled():
    _, svc = build("mh", [1, 1, 1])
    assert TAB_SIZE == 4093 and len(svc.scheduler.table) == 4093
    assert None not in svc.scheduler.table


def test_mh_two_directors_build_identical_tables():
    _, a = build("mh", [3, 1, 2, 5])
    _, b = build("mh", [3, 1, 2, 5], table=VirtualTable())
    assert table_numbers(a) == table_numbers(b)
    clients = [(0xC0000200 + i, 1000 + i) for i in range(200)]
    assert [pick(a, caddr=c, cport=p) for c, p in clients] == [
        pick(b, caddr=c, cport=p) for c, p in clients
    ]


def test_mh_turns_make_slot_counts_exact():
    # turns 3 and 1: rounds of 3 + 1 slots; 1023 rounds fill 4092, one more for 1
    _, svc = build("mh", [3, 1])
    nums = table_numbers(svc)
    assert (nums.count(1), nums.count(2)) == (3070, 1023)


def test_mh_turns_use_gcd_and_shift():
    class D:  # only last_weight is read
        def __init__(self, w):
            self.last_weight = w

    assert _turns([D(4), D(6)]) == [2, 3]
    # max/g = 100000 has 17 bits: shift 17 - 6 = 11; a small weight keeps 1 turn
    assert _turns([D(1), D(100000)]) == [1, 100000 >> 11]
    assert _turns([D(0), D(5)]) == [0, 1]
    assert _turns([D(0)]) is None


def test_mh_quiesced_destination_keeps_its_slots():
    table, svc = build("mh", [1, 1, 1])
    before = list(svc.scheduler.table)
    table.edit_dest(KEY, addr(2), 80, weight=0)
    assert svc.scheduler.table == before  # last_weight still 1
    client = next(c for c in range(0xC0000200, 0xC0000300) if pick(svc, caddr=c) is None)
    slot = mh_hashkey(client, 0, (2654435761, 2654435761), 0) % TAB_SIZE
    assert number(svc.scheduler.table[slot]) == 2


def test_mh_added_with_weight_zero_gets_no_slot():
    table, svc = build("mh", [1, 1])
    table.add_dest(KEY, addr(9), 80, weight=0)
    assert 9 not in table_numbers(svc)


def test_mh_fallback_finds_another_destination():
    table, svc = build("mh", [1, 1, 1], sched_flags=frozenset({"mh-fallback"}))
    table.edit_dest(KEY, addr(2), 80, weight=0)
    clients = [c for c in range(0xC0000200, 0xC0000300)
               if number(svc.scheduler.table[mh_hashkey(c, 0, (2654435761, 2654435761), 0)
                                             % TAB_SIZE]) == 2]
    assert clients
    assert all(pick(svc, caddr=c) in (1, 3) for c in clients)
    # without the flag those clients fail
    svc.sched_flags = frozenset()
    assert all(pick(svc, caddr=c) is None for c in clients)


def test_mh_port_flag_spreads_one_client_by_port():
    _, svc = build("mh", [1, 1, 1, 1], sched_flags=frozenset({"mh-port"}))
    assert len({pick(svc, caddr=0xC0000201, cport=p) for p in range(1000, 1040)}) > 1
    svc.sched_flags = frozenset()
    assert len({pick(svc, caddr=0xC0000201, cport=p) for p in range(1000, 1040)}) == 1


def test_mh_empty_or_all_zero_weights_has_no_table():
    _, svc = build("mh", [0, 0])
    assert set(svc.scheduler.table) == {None}
    assert pick(svc) is None
    assert populate([]) == [None] * TAB_SIZE


def test_create_fresh_mh_equals_incremental():
    _, svc = build("mh", [2, 7, 1])
    incremental = table_numbers(svc)
    svc.scheduler = create(svc)
    assert table_numbers(svc) == incremental
