"""One configured real server of one virtual service, as lvsd tracks it.

The health checker reports through three calls (admit, set_weight,
withdraw); an operator can drain the server; a reload can remove it from
lvs.cf.  From these a slot derives the one thing the table needs: whether
the destination should be there and with what weight
(:meth:`ServerSlot.wanted_weight`).  Pure: callers pass ``now``.

* admitted (the check says up): the checker's weight (slow start ramps it
  up to the configured one);
* withdrawn with ``quiesce_server = 1``: weight 0 while the destination is
  still in the table, so established connections keep flowing;
* withdrawn otherwise: not in the table;
* draining (operator) or leaving (removed from lvs.cf by a reload): weight
  0, never (re-)added; once its connections are gone, or at the deadline,
  ``drained`` and out of the table.  The checker keeps checking a drained
  server (so ``health`` stays true), but cannot re-admit it until undrain.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .build import ServerPlan, ServicePlan


@dataclass(eq=False)
class ServerSlot:
    plan: ServerPlan
    admitted: bool = False
    weight: int = 0  # the checker's current weight while admitted
    quiesced: bool = False
    draining: bool = False
    drain_deadline: float = math.inf  # monotonic seconds
    drain_reason: str = ""
    drained: bool = False
    leaving: bool = False  # removed from lvs.cf: drained out, then forgotten
    since: float = 0.0  # epoch seconds of the last up/down change
    # run-time companions (not pure): the piranha.health Monitor and its task
    monitor: Any = field(default=None, repr=False)
    task: Any = field(default=None, repr=False)
    restarts: int = 0

    @property
    def ident(self) -> tuple[str, int]:
        return self.plan.ident

    @property
    def label(self) -> str:
        return self.plan.label

    @property
    def serving(self) -> bool:
        """Up and taking new connections (what the sorry-server logic counts)."""
        return self.admitted and not (self.draining or self.drained or self.leaving)

    def wanted_weight(self, present: bool) -> int | None:
        """The destination's weight the table should have; None = not in the table.

        ``present`` says whether the destination is in the table now (a
        quiesced or draining server is kept at weight 0, never added).
        """
        if self.drained:
            return None
        if self.draining or self.leaving:
            return 0 if present else None
        if self.admitted:
            return self.weight
        if self.quiesced:
            return 0 if present else None
        return None

    # -- the health checker's verdicts ------------------------------------

    def admit(self, weight: int, wall: float) -> None:
        if not self.admitted:
            self.since = wall
        self.admitted = True
        self.quiesced = False
        self.weight = max(0, weight)

    def set_weight(self, weight: int) -> None:
        if self.admitted:
            self.weight = max(0, weight)

    def withdraw(self, quiesce: bool, wall: float) -> None:
        if self.admitted:
            self.since = wall
        self.admitted = False
        self.quiesced = quiesce
        self.weight = 0

    # -- draining ----------------------------------------------------------

    def start_drain(self, now: float, seconds: float | None, reason: str) -> None:
        self.draining = True
        self.drained = False
        self.drain_deadline = math.inf if seconds is None else now + max(0.0, seconds)
        self.drain_reason = reason

    def stop_drain(self) -> None:
        self.draining = False
        self.drained = False
        self.drain_deadline = math.inf
        self.drain_reason = ""

    def drain_done(self, connections: int | None, now: float) -> str | None:
        """Whether a drain has finished: why (for the log), or None while it goes on.

        ``connections`` is the destination's active + inactive connections,
        None when it is not in the table.
        """
        if not (self.draining or self.leaving) or self.drained:
            return None
        if connections is None:
            return "not in the table"
        if connections == 0:
            return "no connections left"
        if now >= self.drain_deadline:
            return f"deadline reached with {connections} connection{'s' * (connections != 1)} left"
        return None


@dataclass(eq=False)
class ServiceState:
    """One active virtual service of lvs.cf and its real servers (file order)."""

    plan: ServicePlan  # replaced when a reload edits the service
    slots: dict[tuple[str, int], ServerSlot] = field(default_factory=dict)
    started: float = 0.0  # monotonic seconds when it was set up
    sorry_active: bool = False
    failure: str | None = None  # why the data plane could not program it, if it could not

    @property
    def name(self) -> str:
        return self.plan.name

    def serving(self) -> int:
        return sum(1 for slot in self.slots.values() if slot.serving)
