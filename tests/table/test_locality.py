"""lblc and lblcr: cache hits and misses, lblc's overload rule, set pruning, GC."""

from __future__ import annotations

from piranha.table.schedulers.locality import MAX_SIZE, TAB_MASK, hash_32

from .helpers import KEY, addr, build, pick, set_load

CACHE_A = 0x0A640001  # a destination address the clients ask for (a web cache target)
CACHE_B = 0x0A640002


def test_lblc_miss_uses_wlc_then_the_cache_sticks():
    _, svc = build("lblc", [1, 1])
    set_load(svc, 1, inactive=3)
    assert pick(svc, daddr=CACHE_A) == 2
    set_load(svc, 2, inactive=9)  # 2 now busier, but the cache wins
    assert pick(svc, daddr=CACHE_A, now=1) == 2
    assert pick(svc, daddr=CACHE_B, now=1) == 1  # another address: wlc again
    assert len(svc.scheduler.cache) == 2


def test_lblc_overloaded_means_busier_than_weight_while_a_half_idle_one_exists():
    _, svc = build("lblc", [2, 4])
    set_load(svc, 1, active=1)
    assert pick(svc, daddr=CACHE_A) == 2
    set_load(svc, 2, active=5)  # 5 > 4, and 1 has 1 * 2 < 2? no -> keep
    assert pick(svc, daddr=CACHE_A) == 2
    set_load(svc, 1, active=0)  # 0 * 2 < 2: a half-idle server exists
    assert pick(svc, daddr=CACHE_A) == 1
    assert pick(svc, daddr=CACHE_A) == 1  # the entry was replaced


def test_lblc_ignores_the_threshold_overload_flag_on_a_hit():
    _, svc = build("lblc", [1, 1])
    assert pick(svc, daddr=CACHE_A) == 1
    set_load(svc, 1, overloaded=True)
    assert pick(svc, daddr=CACHE_A) == 1
    assert pick(svc, daddr=CACHE_B) == 2  # but wlc skips it


def test_lblc_quiesced_or_deleted_cache_entry_is_rescheduled():
    table, svc = build("lblc", [1, 1])
    assert pick(svc, daddr=CACHE_A) == 1
    table.edit_dest(KEY, addr(1), 80, weight=0)
    assert pick(svc, daddr=CACHE_A) == 2
    table.edit_dest(KEY, addr(1), 80, weight=1)
    assert pick(svc, daddr=CACHE_A) == 2
    table.delete_dest(KEY, addr(2), 80)
    assert pick(svc, daddr=CACHE_A) == 1


def test_lblc_full_sweep_every_30th_minute_drops_stale_entries():
    _, svc = build("lblc", [1])
    sched = svc.scheduler
    sched.cache.expiration = 100.0
    assert pick(svc, daddr=CACHE_A, now=0.0) == 1  # first timer run at 60
    assert pick(svc, daddr=CACHE_B, now=1500.0) == 1
    sched.expire(svc, 1799.0)  # runs at 60..1740 only count
    assert len(sched.cache) == 2
    sched.expire(svc, 1800.0)  # the 30th run sweeps: A idle since 0, B since 1500
    assert sched.cache.get(CACHE_A) is None and sched.cache.get(CACHE_B) is None
    assert sched.cache.counter == 1


def test_lblc_sweep_keeps_recently_used_entries():
    _, svc = build("lblc", [1])
    sched = svc.scheduler
    sched.cache.expiration = 1000.0
    pick(svc, daddr=CACHE_A, now=0.0)
    pick(svc, daddr=CACHE_B, now=1000.0)
    sched.expire(svc, 1800.0)
    assert sched.cache.get(CACHE_A) is None
    assert sched.cache.get(CACHE_B) is not None
    # a long jump runs later sweeps too (every 30 runs)
    sched.expire(svc, 1800.0 + 30 * 60 * 1000)
    assert len(sched.cache) == 0


def test_lblc_partial_gc_when_over_the_size_limit():
    _, svc = build("lblc", [1])
    sched = svc.scheduler
    cache = sched.cache
    dest = svc.destinations[0]
    sched.expire(svc, 0.0)  # arms the timer: runs at 60, 120, ...
    for a in range(MAX_SIZE + 30):
        cache.insert(a, dest, 0.0)
    sched.expire(svc, 60.0)  # nothing idle for 6 minutes yet: the walk goes round
    assert len(cache) == MAX_SIZE + 30 and cache.rover == 0
    sched.expire(svc, 360.0)  # runs at 120..360; at 360 all are idle 6 minutes
    # goal (30 * 4 / 3 = 40) counted per entry, checked per bucket from rover + 1
    sizes = [0] * (TAB_MASK + 1)
    for a in range(MAX_SIZE + 30):
        sizes[hash_32(a)] += 1
    dropped, bucket = 0, 0
    while dropped < 40:
        bucket += 1
        dropped += sizes[bucket]
    assert len(cache) == MAX_SIZE + 30 - dropped
    assert cache.rover == bucket
    assert cache.counter == 1  # partial runs do not count


def test_lblcr_set_grows_when_the_member_is_overloaded_and_prunes_later():
    _, svc = build("lblcr", [2, 4])
    sched = svc.scheduler
    sched.cache.expiration = 100.0
    set_load(svc, 1, active=1)
    assert pick(svc, daddr=CACHE_A, now=0.0) == 2
    set_load(svc, 2, active=5)
    set_load(svc, 1, active=0)  # 2 is "overloaded": wlc adds 1 to the set
    assert pick(svc, daddr=CACHE_A, now=10.0) == 1
    entry = sched.cache.get(CACHE_A)
    assert [int(d.address[-1]) for d in entry.value.members] == [1, 2]
    assert entry.value.lastmod == 10.0
    set_load(svc, 1, active=3)
    set_load(svc, 2, active=1)
    # least of the set by overhead/weight: 1 = 768/2, 2 = 256/4 -> 2
    assert pick(svc, daddr=CACHE_A, now=50.0) == 2
    # unchanged for more than 100 s: the most loaded member (1) leaves
    assert pick(svc, daddr=CACHE_A, now=110.5) == 2
    assert [int(d.address[-1]) for d in entry.value.members] == [2]
    assert entry.value.lastmod == 110.5


def test_lblcr_pruned_member_may_still_be_returned_once():
    _, svc = build("lblcr", [1, 1])
    sched = svc.scheduler
    sched.cache.expiration = 10.0
    pick(svc, daddr=CACHE_A, now=0.0)  # set {1}
    set_load(svc, 1, active=2)  # 2 > 1 and 2 is idle: add 2
    assert pick(svc, daddr=CACHE_A, now=1.0) == 2  # set {2, 1}
    set_load(svc, 1, active=0)
    set_load(svc, 2, active=1)
    # least is 1 (0 load); 11 s unchanged: the most loaded, 2, is erased; 1 returned
    assert pick(svc, daddr=CACHE_A, now=12.0) == 1
    assert [d.address for d in sched.cache.get(CACHE_A).value.members] == [addr(1)]


def test_lblcr_deleted_member_is_skipped():
    table, svc = build("lblcr", [1, 1])
    assert pick(svc, daddr=CACHE_A) == 1
    table.delete_dest(KEY, addr(1), 80)
    assert pick(svc, daddr=CACHE_A) == 2
    members = svc.scheduler.cache.get(CACHE_A).value.members
    assert [d.address for d in members] == [addr(2), addr(1)]
