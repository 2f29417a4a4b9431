"""Shortest expected delay (``ip_vs_sed.c``): the smallest (active + 1) / weight.

Inactive connections are ignored.  Same first-candidate and strict ``>``
rules as wlc; ``ShortestExpectedDelay`` answers from a heap once the
service is large (see indexed.py) and chooses exactly as
``ShortestExpectedDelayScan``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import StatelessScheduler
from .indexed import SingleIndexScheduler

if TYPE_CHECKING:  # pragma: no cover
    from ..model import Destination, Service


def sed_cost(dest: Destination) -> tuple[int, int]:
    return dest.activeconns + 1, dest.weight


def sed_scan(dests: list[Destination]) -> Destination | None:
    it = iter(dests)
    for dest in it:
        if not dest.overloaded and dest.weight > 0:
            least, loh, lw = dest, dest.activeconns + 1, dest.weight
            break
    else:
        return None
    for dest in it:
        if dest.overloaded:
            continue
        doh = dest.activeconns + 1
        if loh * dest.weight > doh * lw:
            least, loh, lw = dest, doh, dest.weight
    return least


class ShortestExpectedDelay(SingleIndexScheduler):
    name = "sed"
    cost = staticmethod(sed_cost)

    def _scan(self, svc: Service) -> Destination | None:
        return sed_scan(svc.destinations)


class ShortestExpectedDelayScan(StatelessScheduler):
    name = "sed"

    def schedule(
        self, svc: Service, caddr: int, cport: int, daddr: int, dport: int, now: float
    ) -> Destination | None:
        return sed_scan(svc.destinations)
