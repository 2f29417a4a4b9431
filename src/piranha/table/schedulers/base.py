"""What every scheduler shares: the hooks the table calls, and the kernel's tests.

The hooks mirror ``struct ip_vs_scheduler``: ``add_dest``/``del_dest``/
``upd_dest`` run after :class:`~piranha.table.model.VirtualTable` changed the
destination list (add at the head, delete at ``index``, edit in place), and
``update`` rebuilds everything from ``svc.destinations``.  Two hooks have no
kernel counterpart because the kernel reads live counters and timers:
``load_changed`` tells an indexed scheduler that a destination's connection
counts or overload flag changed (the connection table calls it), and
``expire`` gives cache schedulers (lblc, lblcr) the time for their garbage
collection.  Destination fields are owned by the table and the connection
table; code that changes them directly must call these hooks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:  # pragma: no cover
    from ..model import Destination, Service


class BaseScheduler:
    """Default hooks: any change rebuilds via ``update``; no load tracking."""

    name: ClassVar[str] = ""

    def __init__(self, svc: Service) -> None:
        self.update(svc)

    def update(self, svc: Service) -> None:
        """Rebuild all state from ``svc.destinations``."""

    def add_dest(self, svc: Service, dest: Destination) -> None:
        self.update(svc)

    def del_dest(self, svc: Service, dest: Destination, index: int) -> None:
        self.update(svc)

    def upd_dest(self, svc: Service, dest: Destination) -> None:
        self.update(svc)

    def load_changed(self, svc: Service, dest: Destination) -> None:
        """A destination's active/inactive counts or overload flag changed."""

    def expire(self, svc: Service, now: float) -> None:
        """Time passed (monotonic seconds); run due housekeeping."""

    def schedule(
        self, svc: Service, caddr: int, cport: int, daddr: int, dport: int, now: float
    ) -> Destination | None:
        raise NotImplementedError


class StatelessScheduler(BaseScheduler):
    """A scheduler that decides from the destination list alone: no hooks."""

    def add_dest(self, svc: Service, dest: Destination) -> None:
        pass

    def del_dest(self, svc: Service, dest: Destination, index: int) -> None:
        pass

    def upd_dest(self, svc: Service, dest: Destination) -> None:
        pass


def usable(dest: Destination) -> bool:
    """The test nearly every scheduler applies: weight > 0 and not overloaded."""
    return dest.weight > 0 and not dest.overloaded


def has_flag(svc: Service, named: str, alias: str) -> bool:
    """A scheduler flag given by name (``sh-port``) or number (``flag-2``)."""
    flags = svc.sched_flags
    return named in flags or alias in flags


def least_weighted_overhead(dests: list[Destination]) -> Destination | None:
    """The kernel's weighted least-connection scan (``ip_vs_wlc_schedule``).

    The first usable destination is the candidate; a later one replaces it
    only when strictly less loaded, compared as ``loh * dw > doh * lw``.
    lblc and lblcr run the same scan over the whole service.
    """
    it = iter(dests)
    for dest in it:
        if not dest.overloaded and dest.weight > 0:
            least = dest
            loh = (dest.activeconns << 8) + dest.inactconns
            lw = dest.weight
            break
    else:
        return None
    for dest in it:
        if dest.overloaded:
            continue
        doh = (dest.activeconns << 8) + dest.inactconns
        if loh * dest.weight > doh * lw:
            least, loh, lw = dest, doh, dest.weight
    return least
