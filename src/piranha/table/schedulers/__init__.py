"""The IPVS schedulers, one module per algorithm, looked up by name.

Each makes exactly the kernel's choice (net/netfilter/ipvs/ip_vs_<name>.c):
destinations are walked in ``svc.destinations`` order, the kernel's list
order; randomness comes only from ``svc.rng``; time only from the ``now``
callers pass.  ``create(svc)`` gives the scheduler for ``svc.scheduler_name``;
lc, wlc, sed, nq, fo, ovf (and the wlc step of lblc and lblcr) answer from
heaps once a service has 16 or more destinations (indexed.py), and
``create(svc, scan=True)`` gives the kernel's O(n) loops only (the tests
prove both choose the same).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from .base import BaseScheduler
from .dh import DestinationHashing
from .fo import FailOver, FailOverScan
from .lblc import LocalityLeastConnection, LocalityLeastConnectionScan
from .lblcr import (
    LocalityLeastConnectionReplicated,
    LocalityLeastConnectionReplicatedScan,
)
from .lc import LeastConnection, LeastConnectionScan
from .mh import MaglevHashing
from .nq import NeverQueue, NeverQueueScan
from .ovf import Overflow, OverflowScan
from .rr import RoundRobin
from .sed import ShortestExpectedDelay, ShortestExpectedDelayScan
from .sh import SourceHashing
from .twos import PowerOfTwoChoices
from .wlc import WeightedLeastConnection, WeightedLeastConnectionScan
from .wrr import WeightedRoundRobin

if TYPE_CHECKING:  # pragma: no cover
    from ..model import Destination, Service


class Scheduler(Protocol):
    """What the table calls; see base.py for when each hook runs."""

    name: str

    def update(self, svc: Service) -> None: ...
    def add_dest(self, svc: Service, dest: Destination) -> None: ...
    def del_dest(self, svc: Service, dest: Destination, index: int) -> None: ...
    def upd_dest(self, svc: Service, dest: Destination) -> None: ...
    def load_changed(self, svc: Service, dest: Destination) -> None: ...
    def expire(self, svc: Service, now: float) -> None: ...
    def schedule(
        self, svc: Service, caddr: int, cport: int, daddr: int, dport: int, now: float
    ) -> Destination | None: ...


REGISTRY: dict[str, type[BaseScheduler]] = {
    cls.name: cls
    for cls in (
        RoundRobin,
        WeightedRoundRobin,
        LeastConnection,
        WeightedLeastConnection,
        ShortestExpectedDelay,
        NeverQueue,
        FailOver,
        Overflow,
        PowerOfTwoChoices,
        LocalityLeastConnection,
        LocalityLeastConnectionReplicated,
        DestinationHashing,
        SourceHashing,
        MaglevHashing,
    )
}

# The kernel's O(n) loops for the schedulers REGISTRY answers from a heap.
SCAN_VARIANTS: dict[str, type[BaseScheduler]] = {
    cls.name: cls
    for cls in (
        LeastConnectionScan,
        WeightedLeastConnectionScan,
        ShortestExpectedDelayScan,
        NeverQueueScan,
        FailOverScan,
        OverflowScan,
        LocalityLeastConnectionScan,
        LocalityLeastConnectionReplicatedScan,
    )
}

NAMES: tuple[str, ...] = tuple(REGISTRY)

# ipvsadm -b: flag-1..3 are accepted with any scheduler; sh and mh name theirs
# (sh-fallback = flag-1, sh-port = flag-2; the same for mh).
_NUMBERED = frozenset({"flag-1", "flag-2", "flag-3"})
FLAGS: dict[str, frozenset[str]] = {
    name: _NUMBERED
    | (frozenset({f"{name}-fallback", f"{name}-port"}) if name in ("sh", "mh") else frozenset())
    for name in NAMES
}


def create(svc: Service, *, scan: bool = False) -> BaseScheduler:
    """The scheduler for ``svc.scheduler_name``; KeyError for an unknown name."""
    name = svc.scheduler_name
    cls = SCAN_VARIANTS.get(name) if scan else None
    return (cls or REGISTRY[name])(svc)


__all__ = [
    "FLAGS",
    "NAMES",
    "REGISTRY",
    "SCAN_VARIANTS",
    "BaseScheduler",
    "Scheduler",
    "create",
]
