"""Weighted least connection (``ip_vs_wlc.c``), ipvsadm's default scheduler.

The smallest overhead / weight, compared as ``loh * dw > doh * lw``; the
first usable destination (weight > 0, not overloaded) is the initial
candidate and ties keep the earlier one.  ``WeightedLeastConnection``
answers from a heap once the service is large (see indexed.py) and chooses
exactly as ``WeightedLeastConnectionScan``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import StatelessScheduler, least_weighted_overhead
from .indexed import SingleIndexScheduler

if TYPE_CHECKING:  # pragma: no cover
    from ..model import Destination, Service


def wlc_cost(dest: Destination) -> tuple[int, int]:
    return (dest.activeconns << 8) + dest.inactconns, dest.weight


class WeightedLeastConnection(SingleIndexScheduler):
    name = "wlc"
    cost = staticmethod(wlc_cost)

    def _scan(self, svc: Service) -> Destination | None:
        return least_weighted_overhead(svc.destinations)


class WeightedLeastConnectionScan(StatelessScheduler):
    name = "wlc"

    def schedule(
        self, svc: Service, caddr: int, cport: int, daddr: int, dport: int, now: float
    ) -> Destination | None:
        return least_weighted_overhead(svc.destinations)
