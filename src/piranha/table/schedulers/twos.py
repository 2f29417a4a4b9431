"""Power of two choices (``ip_vs_twos.c``), random numbers from ``svc.rng``.

total = sum of the weights of the usable destinations (weight > 0, not
overloaded); two numbers r1, r2 are drawn as ``u32 % (total + 1)`` (the
kernel's ``get_random_u32() % total_weight`` after ``total_weight += 1``,
modulo bias included); walking the usable destinations and subtracting
each weight, the first one where r1 drops to <= 0 is choice 1, likewise r2
for choice 2.  Choice 2 wins only when strictly less loaded by
overhead / weight (``weight2 * overhead1 > weight1 * overhead2``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import StatelessScheduler

if TYPE_CHECKING:  # pragma: no cover
    from ..model import Destination, Service


class PowerOfTwoChoices(StatelessScheduler):
    name = "twos"

    def schedule(
        self, svc: Service, caddr: int, cport: int, daddr: int, dport: int, now: float
    ) -> Destination | None:
        usable = [d for d in svc.destinations if not d.overloaded and d.weight > 0]
        if not usable:
            return None
        total = sum(d.weight for d in usable) + 1
        rweight1 = svc.rng.getrandbits(32) % total
        rweight2 = svc.rng.getrandbits(32) % total
        choice1 = choice2 = None
        for dest in usable:
            rweight1 -= dest.weight
            rweight2 -= dest.weight
            if choice1 is None and rweight1 <= 0:
                choice1 = dest
            if choice2 is None and rweight2 <= 0:
                choice2 = dest
            if choice1 is not None and choice2 is not None:
                break
        # r <= total - 1 = sum of weights, so both are always found
        assert choice1 is not None and choice2 is not None
        overhead1 = (choice1.activeconns << 8) + choice1.inactconns
        overhead2 = (choice2.activeconns << 8) + choice2.inactconns
        if choice2.weight * overhead1 > choice1.weight * overhead2:
            return choice2
        return choice1
