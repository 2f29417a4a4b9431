"""Round robin (``ip_vs_rr.c``).

A cursor points at the last chosen destination (or at the list head).  The
next decision walks on from the entry after the cursor, wraps once, and
takes the first destination with weight > 0 that is not overloaded; weight
magnitudes play no part.  Adding a destination leaves the cursor alone (new
ones go to the head, so they come up when the walk wraps); deleting the one
under the cursor moves the cursor to the entry before it
(``ip_vs_rr_del_dest``); editing changes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import BaseScheduler

if TYPE_CHECKING:  # pragma: no cover
    from ..model import Destination, Service

HEAD = -1  # the cursor sits on the list head, not on a destination


class RoundRobin(BaseScheduler):
    name = "rr"

    def __init__(self, svc: Service) -> None:
        self.cursor = HEAD
        super().__init__(svc)

    def update(self, svc: Service) -> None:
        if self.cursor >= len(svc.destinations):
            self.cursor = HEAD

    def add_dest(self, svc: Service, dest: Destination) -> None:
        # the cursor keeps pointing at the same entry, whose index moved
        if self.cursor != HEAD and self.cursor >= svc.destinations.index(dest):
            self.cursor += 1

    def del_dest(self, svc: Service, dest: Destination, index: int) -> None:
        if self.cursor >= index:
            self.cursor -= 1  # the deleted entry itself: step back to its predecessor

    def upd_dest(self, svc: Service, dest: Destination) -> None:
        pass

    def schedule(
        self, svc: Service, caddr: int, cport: int, daddr: int, dport: int, now: float
    ) -> Destination | None:
        dests = svc.destinations
        cursor = self.cursor
        # from the entry after the cursor to the end, then (when the cursor is
        # on an entry) from the start up to and including the cursor itself
        for i in range(cursor + 1, len(dests)):
            dest = dests[i]
            if not dest.overloaded and dest.weight > 0:
                self.cursor = i
                return dest
        for i in range(cursor + 1):
            dest = dests[i]
            if not dest.overloaded and dest.weight > 0:
                self.cursor = i
                return dest
        return None
