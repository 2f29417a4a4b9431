"""Maglev hashing (``ip_vs_mh.c``) with the kernel's default table size 4093.

Every director builds the same table: each destination's permutation comes
from ``hsiphash`` (64-bit variant, see hsiphash.py) of its address + port
under fixed keys, offset = h1 % M and skip = h2 % (M - 1) + 1.  Turns per
round: ``((last_weight / g) >> shift)`` or 1 when that is 0 but the weight
is not, 0 (left out) for a destination whose last non-zero weight is 0,
with g the gcd of the last weights and ``shift = max(0, fls(max/g) - 6)``.
Population goes round the list, each destination claiming ``turns`` slots
per round, each the next free position in its permutation, until all M
slots are taken.  Because ``last_weight`` is used, quiescing a destination
to weight 0 keeps its slots: lookups landing there fail, or with
``mh-fallback`` (flag-1) re-hash with offsets ``(ihash + k) % M`` until an
available destination is found.  Lookup key = h1(client address, plus the
client port under ``mh-port``/flag-2) % M.  More than M destinations: the
kernel refuses to rebuild (-EINVAL) and keeps the old table, so do we.
"""

from __future__ import annotations

from math import gcd
from typing import TYPE_CHECKING

from .base import BaseScheduler, has_flag, usable
from .hsiphash import hsiphash_u32

if TYPE_CHECKING:  # pragma: no cover
    from ..model import Destination, Service

PRIMES = (251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071)
TAB_INDEX = 12  # CONFIG_IP_VS_MH_TAB_INDEX default
TAB_BITS = TAB_INDEX // 2
TAB_SIZE = PRIMES[TAB_INDEX - 8]  # 4093

# generate_hash_secret(): fixed, so two directors agree
HASH1_KEY = (2654435761, 2654435761)
HASH2_KEY = (2654446892, 2654446892)


def mh_hashkey(addr: int, port: int, key: tuple[int, int], offset: int) -> int:
    # v = offset + ntohs(port) + ntohl(addr), an unsigned int
    return hsiphash_u32((offset + port + addr) & 0xFFFFFFFF, key)


def _turns(dests: list[Destination]) -> list[int] | None:
    """Turns per destination, or None when no destination has a last weight."""
    g = 0
    for dest in dests:
        if dest.last_weight > 0:
            g = gcd(dest.last_weight, g) if g > 0 else dest.last_weight
    if g < 1:
        return None
    mw = max(dest.last_weight for dest in dests) // g
    shift = max(mw.bit_length() - TAB_BITS, 0)
    return [((d.last_weight // g) >> shift) or int(d.last_weight != 0) for d in dests]


def populate(dests: list[Destination], size: int = TAB_SIZE) -> list[Destination | None]:
    """``ip_vs_mh_permutate`` + ``ip_vs_mh_populate``."""
    turns = _turns(dests)
    if turns is None:
        return [None] * size
    perm = [mh_hashkey(d.addr_int, d.port, HASH1_KEY, 0) % size for d in dests]
    skip = [mh_hashkey(d.addr_int, d.port, HASH2_KEY, 0) % (size - 1) + 1 for d in dests]
    table: list[Destination | None] = [None] * size
    taken = bytearray(size)
    n = i = dt_count = 0
    ndests = len(dests)
    while True:
        if i == ndests:
            i = 0
        if turns[i] < 1:
            i += 1
            continue
        c = perm[i]
        while taken[c]:
            c += skip[i]
            if c >= size:
                c -= size
        perm[i] = c
        taken[c] = 1
        table[c] = dests[i]
        n += 1
        if n == size:
            return table
        dt_count += 1
        if dt_count >= turns[i]:
            dt_count = 0
            i += 1


class MaglevHashing(BaseScheduler):
    name = "mh"

    def __init__(self, svc: Service) -> None:
        self.table: list[Destination | None] = [None] * TAB_SIZE
        super().__init__(svc)

    def update(self, svc: Service) -> None:
        if len(svc.destinations) > TAB_SIZE:
            return
        self.table = populate(svc.destinations)

    def schedule(
        self, svc: Service, caddr: int, cport: int, daddr: int, dport: int, now: float
    ) -> Destination | None:
        port = cport if has_flag(svc, "mh-port", "flag-2") else 0
        ihash = mh_hashkey(caddr, port, HASH1_KEY, 0) % TAB_SIZE
        dest = self.table[ihash]
        if dest is None:
            return None
        if usable(dest):
            return dest
        if not has_flag(svc, "mh-fallback", "flag-1"):
            return None
        for offset in range(TAB_SIZE):
            roffset = (offset + ihash) % TAB_SIZE
            dest = self.table[mh_hashkey(caddr, port, HASH1_KEY, roffset) % TAB_SIZE]
            if dest is None:
                break
            if usable(dest):
                return dest
        return None
