"""Destination hashing (``ip_vs_dh.c``): a 256-bucket table keyed on the
packet's destination address (for cache clusters, with ``cache_bypass``).

Buckets are dealt one per destination in list order, round and round;
weights do not shape the table.  It is rebuilt when a destination is added
or deleted (the kernel has no edit hook: the table does not depend on
weight).  Bucket = ``(daddr * 2654435761) & 255``; a destination with weight
<= 0, overloaded or deleted fails the decision (no fallback).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import BaseScheduler, usable

if TYPE_CHECKING:  # pragma: no cover
    from ..model import Destination, Service

TAB_BITS = 8  # CONFIG_IP_VS_DH_TAB_BITS
TAB_SIZE = 1 << TAB_BITS
TAB_MASK = TAB_SIZE - 1
GOLDEN = 2654435761


def dh_hashkey(addr: int) -> int:
    return (addr * GOLDEN) & TAB_MASK


class DestinationHashing(BaseScheduler):
    name = "dh"

    def __init__(self, svc: Service) -> None:
        self.table: list[Destination | None] = [None] * TAB_SIZE
        super().__init__(svc)

    def update(self, svc: Service) -> None:
        dests = svc.destinations
        if not dests:
            self.table = [None] * TAB_SIZE
        else:
            self.table = [dests[i % len(dests)] for i in range(TAB_SIZE)]

    def upd_dest(self, svc: Service, dest: Destination) -> None:
        pass

    def schedule(
        self, svc: Service, caddr: int, cport: int, daddr: int, dport: int, now: float
    ) -> Destination | None:
        dest = self.table[dh_hashkey(daddr)]
        if dest is None or not dest.available or not usable(dest):
            return None
        return dest
