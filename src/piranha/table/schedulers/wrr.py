"""Weighted round robin (``ip_vs_wrr.c``), step for step.

State: a cursor ``cl`` (a destination or the list head), the step ``di`` (gcd
of the positive weights, 1 if none), ``mw`` (largest weight minus ``di - 1``,
so the last pass asks for weight >= 1) and the current weight ``cw``.  A
decision walks on from the cursor for the first non-overloaded destination
with weight >= cw; each time the walk passes the list end, ``cw -= di``, and
when it drops to 0 or below it restarts at ``mw``.  Weights A=4, B=3, C=2 in
that list order give A A B A B C A B C.

Any add, delete or edit (``ip_vs_wrr_dest_changed``) puts the cursor back on
the head, recomputes ``di`` and ``mw``, and clamps ``cw``: to ``mw`` when
above it or 0, else (when ``di > 1``) to ``(cw / di) * di + 1``.
"""

from __future__ import annotations

from math import gcd
from typing import TYPE_CHECKING

from .base import BaseScheduler

if TYPE_CHECKING:  # pragma: no cover
    from ..model import Destination, Service

HEAD = -1


def _gcd_weight(dests: list[Destination]) -> int:
    g = 0
    for dest in dests:
        if dest.weight > 0:
            g = gcd(dest.weight, g) if g > 0 else dest.weight
    return g or 1


def _max_weight(dests: list[Destination]) -> int:
    return max((d.weight for d in dests), default=0) if dests else 0


class WeightedRoundRobin(BaseScheduler):
    name = "wrr"

    def __init__(self, svc: Service) -> None:
        # ip_vs_wrr_init_svc
        self.cl = HEAD
        self.di = _gcd_weight(svc.destinations)
        self.mw = max(_max_weight(svc.destinations), 0) - (self.di - 1)
        self.cw = self.mw

    def update(self, svc: Service) -> None:
        # ip_vs_wrr_dest_changed, used for add, delete and edit
        self.cl = HEAD
        self.di = _gcd_weight(svc.destinations)
        self.mw = max(_max_weight(svc.destinations), 0) - (self.di - 1)
        if self.cw > self.mw or not self.cw:
            self.cw = self.mw
        elif self.di > 1:
            self.cw = (self.cw // self.di) * self.di + 1

    def schedule(
        self, svc: Service, caddr: int, cport: int, daddr: int, dport: int, now: float
    ) -> Destination | None:
        dests = svc.destinations
        n = len(dests)
        cur = self.cl
        if self.mw == 0:  # no destination with a positive weight
            return None
        last = cur
        stop: int | None = None
        last_pass = restarted = False
        while True:
            for i in range(cur + 1, n):
                dest = dests[i]
                if not dest.overloaded and dest.weight >= self.cw:
                    self.cl = i
                    return dest
                if i == stop:
                    self.cl = i
                    return None  # all destinations overloaded
            cur = HEAD  # the walk passed the list end
            self.cw -= self.di
            if self.cw <= 0:
                self.cw = self.mw
                # a whole pass for weight >= 1 found nothing
                if last_pass or last == HEAD:
                    self.cl = HEAD
                    return None
                restarted = True
            last_pass = self.cw <= self.di
            if last_pass and restarted and last != HEAD:
                # the first pass for weight >= 1 only covered the entries
                # after `last`; now cover those up to it
                stop = last
