"""An indexed replacement for the kernel's O(n) least-load scans.

lc, wlc, sed and nq pick, among destinations with weight > 0 that are not
overloaded, the one with the smallest cost ``num / den`` (lc: overhead / 1,
wlc: overhead / weight, sed: (active + 1) / weight), ties going to the
destination that comes first in list order: the kernel's scans keep the
first candidate and replace it only on a strictly smaller cost.  That is the
minimum of a total preorder (costs compared by cross-multiplication, exact
on Python ints) broken by list position, so a heap keyed on
``(cost, position)`` returns exactly the destination the scan returns.

The heap is lazy: every change of a destination (``changed``) stamps it with
a fresh version and pushes a new entry; entries whose version is no longer
current are dropped when they surface, and the heap is rebuilt once stale
entries outnumber live ones, so a decision costs O(log n) amortised.

Positions: the table inserts new destinations at the list head, so a new
destination gets a position below every other (``add_head``); deletions do
not disturb the relative order of the rest.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from ..model import Destination

Cost = Callable[["Destination"], tuple[int, int]]
Eligible = Callable[["Destination"], bool]


def eligible(dest: Destination) -> bool:
    return dest.weight > 0 and not dest.overloaded


class _Entry:
    __slots__ = ("den", "dest", "num", "pos", "version")

    def __init__(self, num: int, den: int, pos: int, version: int, dest: Destination) -> None:
        self.num = num
        self.den = den
        self.pos = pos
        self.version = version
        self.dest = dest

    def __lt__(self, other: _Entry) -> bool:
        lhs = self.num * other.den
        rhs = other.num * self.den
        if lhs != rhs:
            return lhs < rhs
        return self.pos < other.pos


class LeastLoadIndex:
    """Destinations ordered by (cost, list position), kept current by ``changed``."""

    def __init__(self, cost: Cost, is_eligible: Eligible = eligible) -> None:
        self._cost = cost
        self._eligible = is_eligible
        self._heap: list[_Entry] = []
        self._version: dict[Destination, int] = {}
        self._pos: dict[Destination, int] = {}
        self._clock = 0  # versions are never reused, so stale entries stay stale
        self._head_pos = 0

    def rebuild(self, dests: list[Destination]) -> None:
        self._pos = {dest: i for i, dest in enumerate(dests)}
        self._head_pos = 0
        self._version = {}
        for dest in dests:
            self._clock += 1
            self._version[dest] = self._clock
        self._compact()

    def add_head(self, dest: Destination) -> None:
        self._head_pos -= 1
        self._pos[dest] = self._head_pos
        self.changed(dest, known=False)

    def remove(self, dest: Destination) -> None:
        self._version.pop(dest, None)
        self._pos.pop(dest, None)

    def changed(self, dest: Destination, known: bool = True) -> None:
        if known and dest not in self._version:
            return  # not (or no longer) in this service
        self._clock += 1
        self._version[dest] = self._clock
        if self._eligible(dest):
            num, den = self._cost(dest)
            heapq.heappush(self._heap, _Entry(num, den, self._pos[dest], self._clock, dest))
        if len(self._heap) > 2 * len(self._version) + 64:
            self._compact()

    def best(self) -> Destination | None:
        heap = self._heap
        version = self._version
        while heap:
            top = heap[0]
            if version.get(top.dest) == top.version:
                return top.dest
            heapq.heappop(heap)
        return None

    def _compact(self) -> None:
        cost = self._cost
        is_eligible = self._eligible
        self._heap = [
            _Entry(*cost(dest), self._pos[dest], version, dest)
            for dest, version in self._version.items()
            if is_eligible(dest)
        ]
        heapq.heapify(self._heap)
