"""Source hashing (``ip_vs_sh.c``): a 256-bucket table keyed on the client.

The table is dealt out walking the destination list, each destination
taking ``weight`` consecutive buckets (a weight-0 one still takes one)
before the next, wrapping round the list until all 256 are dealt; when the
weights add up to more than 256 the later destinations get none.  It is
rebuilt on every add, delete and edit.

Bucket = ``(offset + (cport + caddr) * 2654435761) & 255`` with the client
port only under ``sh-port`` (flag-2; the caller passes port 0 for protocols
without ports).  A bucket whose destination has weight <= 0 or is
overloaded fails the decision, unless ``sh-fallback`` (flag-1) is set: then
the kernel probes with offsets ``(ihash + k) % 256`` for k = 0..255 (note
that the offset is added to the already scaled key, so the probe sequence
starts at ``2 * ihash``) and takes the first available destination.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import BaseScheduler, has_flag, usable

if TYPE_CHECKING:  # pragma: no cover
    from ..model import Destination, Service

TAB_BITS = 8  # CONFIG_IP_VS_SH_TAB_BITS
TAB_SIZE = 1 << TAB_BITS
TAB_MASK = TAB_SIZE - 1
GOLDEN = 2654435761


def sh_hashkey(addr: int, port: int, offset: int) -> int:
    # ntohs(port) + ntohl(addr) wraps at 32 bits; only the low 8 bits survive
    return (offset + ((port + addr) & 0xFFFFFFFF) * GOLDEN) & TAB_MASK


def deal_by_weight(dests: list[Destination]) -> list[Destination | None]:
    """``ip_vs_sh_reassign``: buckets dealt in list order, ``weight`` each."""
    if not dests:
        return [None] * TAB_SIZE
    table: list[Destination | None] = []
    p = count = 0
    for _ in range(TAB_SIZE):
        dest = dests[p]
        table.append(dest)
        count += 1
        if count >= dest.weight:
            p = (p + 1) % len(dests)
            count = 0
    return table


class SourceHashing(BaseScheduler):
    name = "sh"

    def __init__(self, svc: Service) -> None:
        self.table: list[Destination | None] = [None] * TAB_SIZE
        super().__init__(svc)

    def update(self, svc: Service) -> None:
        self.table = deal_by_weight(svc.destinations)

    def schedule(
        self, svc: Service, caddr: int, cport: int, daddr: int, dport: int, now: float
    ) -> Destination | None:
        port = cport if has_flag(svc, "sh-port", "flag-2") else 0
        ihash = sh_hashkey(caddr, port, 0)
        dest = self.table[ihash]
        if dest is None:
            return None
        if usable(dest):
            return dest
        if not has_flag(svc, "sh-fallback", "flag-1"):
            return None
        for offset in range(TAB_SIZE):
            dest = self.table[sh_hashkey(caddr, port, (offset + ihash) % TAB_SIZE)]
            if dest is None:
                break
            if usable(dest):
                return dest
        return None
