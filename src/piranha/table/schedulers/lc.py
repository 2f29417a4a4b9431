"""Least connection (``ip_vs_lc.c``): the smallest overhead, weight only as 0 = skip.

overhead = activeconns * 256 + inactconns; ties go to the first destination
in list order (the scan replaces its candidate only on ``doh < loh``).
``LeastConnection`` answers from a heap once the service is large (see
indexed.py) and chooses exactly as ``LeastConnectionScan``, the kernel's
loop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import StatelessScheduler
from .indexed import SingleIndexScheduler

if TYPE_CHECKING:  # pragma: no cover
    from ..model import Destination, Service


def lc_cost(dest: Destination) -> tuple[int, int]:
    return (dest.activeconns << 8) + dest.inactconns, 1


def lc_scan(dests: list[Destination]) -> Destination | None:
    least = None
    loh = 0
    for dest in dests:
        if dest.overloaded or dest.weight == 0:
            continue
        doh = (dest.activeconns << 8) + dest.inactconns
        if least is None or doh < loh:
            least, loh = dest, doh
    return least


class LeastConnection(SingleIndexScheduler):
    name = "lc"
    cost = staticmethod(lc_cost)

    def _scan(self, svc: Service) -> Destination | None:
        return lc_scan(svc.destinations)


class LeastConnectionScan(StatelessScheduler):
    name = "lc"

    def schedule(
        self, svc: Service, caddr: int, cport: int, daddr: int, dport: int, now: float
    ) -> Destination | None:
        return lc_scan(svc.destinations)
