"""Weighted fail over (``ip_vs_fo.c``).

Everything goes to the non-overloaded destination with the highest weight
(> 0); among equal weights the first in list order wins.  ``FailOver``
keeps a heap on (-weight, list position) once the service is large (see
indexed.py) and chooses exactly as ``FailOverScan``, the kernel's loop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import StatelessScheduler
from .indexed import SingleIndexScheduler

if TYPE_CHECKING:  # pragma: no cover
    from ..model import Destination, Service


def heaviest_cost(dest: Destination) -> tuple[int, int]:
    return -dest.weight, 1


def fo_scan(dests: list[Destination]) -> Destination | None:
    best = None
    hw = 0
    for dest in dests:
        if not dest.overloaded and dest.weight > hw:
            best, hw = dest, dest.weight
    return best


class FailOver(SingleIndexScheduler):
    name = "fo"
    cost = staticmethod(heaviest_cost)

    def _scan(self, svc: Service) -> Destination | None:
        return fo_scan(svc.destinations)


class FailOverScan(StatelessScheduler):
    name = "fo"

    def schedule(
        self, svc: Service, caddr: int, cport: int, daddr: int, dport: int, now: float
    ) -> Destination | None:
        return fo_scan(svc.destinations)
