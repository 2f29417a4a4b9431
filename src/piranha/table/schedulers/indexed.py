"""Plumbing shared by the heap-indexed schedulers (lc, wlc, sed, nq, fo, ovf,
and the wlc step of lblc and lblcr).

Below ``SCAN_BELOW`` destinations the kernel's own loop is cheaper in
Python than keeping heaps current, so the scheduler scans and does no
bookkeeping; from that size up it keeps its indexes and answers from them.
Both paths choose the same destination (tests/table/test_properties.py
drives both, across the switch).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from .base import BaseScheduler
from .leastload import Cost, LeastLoadIndex

if TYPE_CHECKING:  # pragma: no cover
    from ..model import Destination, Service


class IndexedScheduler(BaseScheduler):
    """Keeps one or more LeastLoadIndex in step with the table's hooks."""

    # measured with bench/schedulers.py: the heaps win from 10 to 20 destinations
    SCAN_BELOW: ClassVar[int] = 16

    def __init__(self, svc: Service) -> None:
        self.scanning = True
        super().__init__(svc)

    def _indexes(self) -> tuple[LeastLoadIndex, ...]:
        raise NotImplementedError

    def _scan(self, svc: Service) -> Destination | None:
        """The kernel's loop."""
        raise NotImplementedError

    def _best(self) -> Destination | None:
        raise NotImplementedError

    def update(self, svc: Service) -> None:
        self.scanning = len(svc.destinations) < self.SCAN_BELOW
        for index in self._indexes():
            index.rebuild([] if self.scanning else svc.destinations)

    def add_dest(self, svc: Service, dest: Destination) -> None:
        if self.scanning or not svc.destinations or svc.destinations[0] is not dest:
            if not self.scanning or len(svc.destinations) >= self.SCAN_BELOW:
                self.update(svc)  # grown out of scanning, or not a head insertion
            return
        for index in self._indexes():
            index.add_head(dest)

    def del_dest(self, svc: Service, dest: Destination, index: int) -> None:
        if self.scanning:
            return
        if len(svc.destinations) < self.SCAN_BELOW:
            self.update(svc)  # back to scanning: drop the heaps
            return
        for idx in self._indexes():
            idx.remove(dest)

    def upd_dest(self, svc: Service, dest: Destination) -> None:
        if not self.scanning:
            for index in self._indexes():
                index.changed(dest)

    def load_changed(self, svc: Service, dest: Destination) -> None:
        if not self.scanning:
            for index in self._indexes():
                index.changed(dest)

    def least_loaded(self, svc: Service) -> Destination | None:
        return self._scan(svc) if self.scanning else self._best()

    def schedule(
        self, svc: Service, caddr: int, cport: int, daddr: int, dport: int, now: float
    ) -> Destination | None:
        return self.least_loaded(svc)


class SingleIndexScheduler(IndexedScheduler):
    """The least-cost destination of one index is the decision."""

    cost: Cost

    def __init__(self, svc: Service) -> None:
        self.index = LeastLoadIndex(type(self).cost, type(self).eligible)
        super().__init__(svc)

    @staticmethod
    def eligible(dest: Destination) -> bool:
        return dest.weight > 0 and not dest.overloaded

    def _indexes(self) -> tuple[LeastLoadIndex, ...]:
        return (self.index,)

    def _best(self) -> Destination | None:
        return self.index.best()
