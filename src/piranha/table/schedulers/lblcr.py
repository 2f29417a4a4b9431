"""Locality-based least connection with replication (``ip_vs_lblcr.c``).

Each destination address maps to a *set* of destinations (newest first).
On a hit: refresh ``lastuse``; take the set's wlc-least-loaded member among
those with weight > 0, available and not overloaded; then, if the set has
more than one member and has not changed for ``expiration`` seconds,
remove its most loaded member (highest overhead / weight among weight > 0)
-- possibly the one just taken, which is still returned.  If no member
qualified or the one taken is "overloaded" (lblc's rule), wlc over the
whole service picks and joins the set.  A miss creates the entry with the
wlc choice.  The wlc step answers from a heap once the service is large
(see indexed.py; ``LocalityLeastConnectionReplicatedScan`` always scans).
Garbage collection as in locality.py.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from .base import least_weighted_overhead
from .indexed import SingleIndexScheduler
from .lblc import is_overloaded
from .locality import DEFAULT_EXPIRATION, LocalityCache
from .wlc import wlc_cost

if TYPE_CHECKING:  # pragma: no cover
    from ..model import Destination, Service


class DestSet:
    """``struct ip_vs_dest_set``: members newest first, and when it last changed."""

    __slots__ = ("lastmod", "members")

    def __init__(self, dest: Destination, now: float) -> None:
        self.members: list[Destination] = [dest]
        self.lastmod = now

    def insert(self, dest: Destination, now: float) -> None:
        if any(member is dest for member in self.members):
            return
        self.members.insert(0, dest)
        self.lastmod = now

    def erase(self, dest: Destination, now: float) -> None:
        for i, member in enumerate(self.members):
            if member is dest:
                del self.members[i]
                self.lastmod = now
                return

    def least(self) -> Destination | None:
        """``ip_vs_dest_set_min``."""
        it = iter(self.members)
        for dest in it:
            if dest.overloaded:
                continue
            if dest.weight > 0 and dest.available:
                least, loh = dest, (dest.activeconns << 8) + dest.inactconns
                break
        else:
            return None
        for dest in it:
            if dest.overloaded:
                continue
            doh = (dest.activeconns << 8) + dest.inactconns
            if loh * dest.weight > doh * least.weight and dest.available:
                least, loh = dest, doh
        return least

    def most(self) -> Destination | None:
        """``ip_vs_dest_set_max``."""
        it = iter(self.members)
        for dest in it:
            if dest.weight > 0:
                most, moh = dest, (dest.activeconns << 8) + dest.inactconns
                break
        else:
            return None
        for dest in it:
            doh = (dest.activeconns << 8) + dest.inactconns
            if moh * dest.weight < doh * most.weight and dest.weight > 0:
                most, moh = dest, doh
        return most


class LocalityLeastConnectionReplicated(SingleIndexScheduler):
    name = "lblcr"
    cost = staticmethod(wlc_cost)

    def __init__(self, svc: Service, expiration: float = DEFAULT_EXPIRATION) -> None:
        self.cache: LocalityCache[DestSet] = LocalityCache(expiration)
        super().__init__(svc)

    def _scan(self, svc: Service) -> Destination | None:
        return least_weighted_overhead(svc.destinations)

    def expire(self, svc: Service, now: float) -> None:
        self.cache.run_timers(now)

    def schedule(
        self, svc: Service, caddr: int, cport: int, daddr: int, dport: int, now: float
    ) -> Destination | None:
        cache = self.cache
        cache.run_timers(now)
        entry = cache.get(daddr)
        if entry is None:
            dest = self.least_loaded(svc)
            if dest is not None:
                cache.insert(daddr, DestSet(dest, now), now)
            return dest
        entry.lastuse = now
        dest_set = entry.value
        dest = dest_set.least()
        if len(dest_set.members) > 1 and now > dest_set.lastmod + cache.expiration:
            most = dest_set.most()
            if most is not None:
                dest_set.erase(most, now)
        if dest is not None and not is_overloaded(dest, svc):
            return dest
        dest = self.least_loaded(svc)
        if dest is None:
            return None
        dest_set.insert(dest, now)
        return dest


class LocalityLeastConnectionReplicatedScan(LocalityLeastConnectionReplicated):
    """lblcr with the kernel's wlc loop at any size."""

    SCAN_BELOW = sys.maxsize
