"""Overflow connection (``ip_vs_ovf.c``).

Weight is both priority and cap: among non-overloaded destinations with
weight > 0 and ``activeconns <= weight``, the highest weight wins (ties to
the first in list order); once a destination has more active connections
than its weight, traffic overflows to the next.  Only active connections
count, so the kernel warns it does not suit UDP.  ``Overflow`` keeps a heap
once the service is large (see indexed.py) and chooses exactly as
``OverflowScan``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import StatelessScheduler
from .fo import heaviest_cost
from .indexed import SingleIndexScheduler

if TYPE_CHECKING:  # pragma: no cover
    from ..model import Destination, Service


def ovf_scan(dests: list[Destination]) -> Destination | None:
    best = None
    hw = 0
    for dest in dests:
        w = dest.weight
        if dest.overloaded or dest.activeconns > w or w == 0:
            continue
        if best is None or w > hw:
            best, hw = dest, w
    return best


class Overflow(SingleIndexScheduler):
    name = "ovf"
    cost = staticmethod(heaviest_cost)

    @staticmethod
    def eligible(dest: Destination) -> bool:
        return dest.weight > 0 and not dest.overloaded and dest.activeconns <= dest.weight

    def _scan(self, svc: Service) -> Destination | None:
        return ovf_scan(svc.destinations)


class OverflowScan(StatelessScheduler):
    name = "ovf"

    def schedule(
        self, svc: Service, caddr: int, cport: int, daddr: int, dport: int, now: float
    ) -> Destination | None:
        return ovf_scan(svc.destinations)
