"""Locality-based least connection (``ip_vs_lblc.c``).

The cache maps the packet's destination address to one destination.  A hit
is reused (and its ``lastuse`` refreshed) when that destination is still in
the service (a deleted one stays in the cache, unavailable), has weight > 0
and is not "overloaded" in lblc's own sense: more active connections than
its weight while some destination of the service has ``active * 2 <
weight``.  The upper-threshold OVERLOAD flag is not consulted on a hit.
Otherwise wlc over the whole service picks (from a heap once the service
is large, see indexed.py; ``LocalityLeastConnectionScan`` always scans),
and the entry is replaced.  Garbage collection as in locality.py.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from .base import least_weighted_overhead
from .indexed import SingleIndexScheduler
from .locality import DEFAULT_EXPIRATION, LocalityCache
from .wlc import wlc_cost

if TYPE_CHECKING:  # pragma: no cover
    from ..model import Destination, Service


def is_overloaded(dest: Destination, svc: Service) -> bool:
    """lblc/lblcr: busier than its weight while a half-idle server exists."""
    if dest.activeconns > dest.weight:
        return any(d.activeconns * 2 < d.weight for d in svc.destinations)
    return False


class LocalityLeastConnection(SingleIndexScheduler):
    name = "lblc"
    cost = staticmethod(wlc_cost)

    def __init__(self, svc: Service, expiration: float = DEFAULT_EXPIRATION) -> None:
        self.cache: LocalityCache[Destination] = LocalityCache(expiration)
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
        if entry is not None:
            entry.lastuse = now
            dest = entry.value
            if dest.available and dest.weight > 0 and not is_overloaded(dest, svc):
                return dest
        dest = self.least_loaded(svc)
        if dest is None:
            return None
        # ip_vs_lblc_new: keep an entry already pointing there, else replace it
        if entry is None or entry.value is not dest:
            if entry is not None:
                cache.delete(entry)
            cache.insert(daddr, dest, now)
        return dest


class LocalityLeastConnectionScan(LocalityLeastConnection):
    """lblc with the kernel's wlc loop at any size."""

    SCAN_BELOW = sys.maxsize
