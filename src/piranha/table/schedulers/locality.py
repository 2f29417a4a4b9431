"""The per-service cache of lblc and lblcr, with the kernel's garbage collector.

A hash of 1024 buckets (``hash_32(daddr, 10)``) maps a destination address
to an entry; new entries go to the head of their bucket.  A timer runs
every 60 s (``ip_vs_lblc_check_expire``): every 30th run, counted in
``counter``, sweeps all buckets and drops entries unused for ``expiration``
seconds (sysctl ``lblc_expiration``/``lblcr_expiration``, default 24 h);
otherwise, only when the table holds more than 16 x 1024 entries, it walks
the buckets from after ``rover`` dropping entries unused for 6 minutes, a
bucket at a time, until ``(entries - max) * 4 / 3`` (at most max / 2) are
gone.  The clock is the ``now`` callers pass; the first timer run is 60 s
after the first ``now`` seen (the kernel arms it when the service is
created).
"""

from __future__ import annotations

from typing import Generic, TypeVar

TAB_BITS = 10  # CONFIG_IP_VS_LBLC_TAB_BITS / CONFIG_IP_VS_LBLCR_TAB_BITS
TAB_SIZE = 1 << TAB_BITS
TAB_MASK = TAB_SIZE - 1
MAX_SIZE = TAB_SIZE * 16
CHECK_EXPIRE_INTERVAL = 60.0
ENTRY_TIMEOUT = 6 * 60.0
DEFAULT_EXPIRATION = 24 * 60 * 60.0
COUNT_FOR_FULL_EXPIRATION = 30
GOLDEN_RATIO_32 = 0x61C88647

T = TypeVar("T")


def hash_32(value: int, bits: int = TAB_BITS) -> int:
    """include/linux/hash.h ``hash_32``."""
    return ((value * GOLDEN_RATIO_32) & 0xFFFFFFFF) >> (32 - bits)


class CacheEntry(Generic[T]):
    __slots__ = ("addr", "lastuse", "value")

    def __init__(self, addr: int, value: T, lastuse: float) -> None:
        self.addr = addr
        self.value = value
        self.lastuse = lastuse


class LocalityCache(Generic[T]):
    def __init__(self, expiration: float = DEFAULT_EXPIRATION) -> None:
        self.expiration = expiration
        self.buckets: list[list[CacheEntry[T]]] = [[] for _ in range(TAB_SIZE)]
        self.index: dict[int, CacheEntry[T]] = {}
        self.rover = 0
        self.counter = 1
        self.next_check: float | None = None

    def __len__(self) -> int:
        return len(self.index)

    def get(self, addr: int) -> CacheEntry[T] | None:
        return self.index.get(addr)

    def insert(self, addr: int, value: T, now: float) -> CacheEntry[T]:
        entry = CacheEntry(addr, value, now)
        self.buckets[hash_32(addr)].insert(0, entry)  # hlist_add_head_rcu
        self.index[addr] = entry
        return entry

    def delete(self, entry: CacheEntry[T]) -> None:
        self.buckets[hash_32(entry.addr)].remove(entry)
        del self.index[entry.addr]

    # -- garbage collection ----------------------------------------------

    def run_timers(self, now: float) -> None:
        """Run every periodic check due at or before ``now``, each at its own time."""
        if self.next_check is None:
            self.next_check = now + CHECK_EXPIRE_INTERVAL
            return
        while self.next_check <= now:
            pending = int((now - self.next_check) // CHECK_EXPIRE_INTERVAL) + 1
            if len(self.index) <= MAX_SIZE and self.counter % COUNT_FOR_FULL_EXPIRATION:
                # runs that only count: skip them in one step
                skip = min(pending, COUNT_FOR_FULL_EXPIRATION - self.counter % COUNT_FOR_FULL_EXPIRATION)
                self.counter += skip
                self.next_check += skip * CHECK_EXPIRE_INTERVAL
                continue
            if self.counter % COUNT_FOR_FULL_EXPIRATION == 0 and len(self.index) <= MAX_SIZE:
                # A full sweep now, then counting runs, a full sweep every 30th
                # run.  With nothing scheduled in between, a later sweep drops a
                # superset of what an earlier one drops and none moves rover:
                # only the last sweep due needs to run.
                last = (pending - 1) - (pending - 1) % COUNT_FOR_FULL_EXPIRATION
                if last:
                    self.next_check += last * CHECK_EXPIRE_INTERVAL
                    continue
            self._check(self.next_check)
            self.next_check += CHECK_EXPIRE_INTERVAL

    def _check(self, t: float) -> None:
        """One run of ``ip_vs_lblc_check_expire`` at time ``t``."""
        if self.counter % COUNT_FOR_FULL_EXPIRATION == 0:
            self._full_check(t)
            self.counter = 1
            return
        if len(self.index) <= MAX_SIZE:
            self.counter += 1
            return
        goal = (len(self.index) - MAX_SIZE) * 4 // 3
        goal = min(goal, MAX_SIZE // 2)
        j = self.rover
        for _ in range(TAB_SIZE):
            j = (j + 1) & TAB_MASK
            for entry in list(self.buckets[j]):
                if t < entry.lastuse + ENTRY_TIMEOUT:
                    continue
                self.delete(entry)
                goal -= 1
            if goal <= 0:
                break
        self.rover = j

    def _full_check(self, t: float) -> None:
        # all buckets once, starting after rover: rover ends where it began
        for bucket in self.buckets:
            for entry in list(bucket):
                if t < entry.lastuse + self.expiration:
                    continue
                self.delete(entry)
