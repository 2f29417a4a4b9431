"""Never queue (``ip_vs_nq.c``).

Walking the list, the first usable destination with no active connection is
taken at once; when every usable one is busy, the choice is sed's (smallest
(active + 1) / weight, ties to the first).  ``NeverQueue`` keeps two heaps
once the service is large (idle destinations by list position, all by sed
cost; see indexed.py) and chooses exactly as ``NeverQueueScan``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import StatelessScheduler
from .indexed import IndexedScheduler
from .leastload import LeastLoadIndex, eligible
from .sed import sed_cost

if TYPE_CHECKING:  # pragma: no cover
    from ..model import Destination, Service


def _no_cost(dest: Destination) -> tuple[int, int]:
    return 0, 1  # every idle destination costs the same: list position decides


def _idle(dest: Destination) -> bool:
    return eligible(dest) and dest.activeconns == 0


def nq_scan(dests: list[Destination]) -> Destination | None:
    least = None
    loh = lw = 0
    for dest in dests:
        if dest.overloaded or not dest.weight:
            continue
        doh = dest.activeconns + 1
        if dest.activeconns == 0:
            return dest  # an idle server, straight away
        if least is None or loh * dest.weight > doh * lw:
            least, loh, lw = dest, doh, dest.weight
    return least


class NeverQueue(IndexedScheduler):
    name = "nq"

    def __init__(self, svc: Service) -> None:
        self.idle = LeastLoadIndex(_no_cost, _idle)
        self.busy = LeastLoadIndex(sed_cost)
        super().__init__(svc)

    def _indexes(self) -> tuple[LeastLoadIndex, ...]:
        return (self.idle, self.busy)

    def _scan(self, svc: Service) -> Destination | None:
        return nq_scan(svc.destinations)

    def _best(self) -> Destination | None:
        return self.idle.best() or self.busy.best()


class NeverQueueScan(StatelessScheduler):
    name = "nq"

    def schedule(
        self, svc: Service, caddr: int, cport: int, daddr: int, dport: int, now: float
    ) -> Destination | None:
        return nq_scan(svc.destinations)
