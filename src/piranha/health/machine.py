"""The per-real-server state machine of nanny (piranha-behaviour.md §4.4), without I/O.

Fed check results, operator commands and load readings with the time they
happened; answers with decisions (admit, set a weight, withdraw, measure
the load) that the Monitor carries out.  Rules:

* The first successful check after start admits the server at once.
* One failed check withdraws an admitted server (the original had no retry
  count; neither do we): with ``quiesce`` its weight goes to 0 and
  established connections continue, otherwise it is removed.
* After a failure, the server is re-admitted only by a successful check at
  least ``reentry`` seconds after the last failed one, every check in
  between having passed (the original counted reentry/interval checks,
  which could re-admit up to one interval early).
* Slow start: an admitted server starts at weight/32 (at least 1; 0 stays
  0) and doubles about every 20 seconds until it reaches its weight.
* Then, with load monitoring, the load is measured about every 20 seconds
  and the weight follows the original's formula (piranha.health.load).
* Forced down / forced up (nanny's SIGUSR1/SIGUSR2): removal, or admission
  at the full configured weight; check results are still recorded but not
  acted on until ``resume`` (SIGHUP), after which the next success admits
  at once.
* An action that failed (lvsd unreachable, a refused table command) is
  retried at the next check.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from .load import load_weight

ADJUST_SECONDS = 20  # slow-start / load cadence of the original
UNKNOWN, UP, DOWN = "unknown", "up", "down"
FORCE_MODES = ("down", "up", "resume")


@dataclass(frozen=True)
class Admit:
    """Put the server in service at `weight` (add it, or re-weight a quiesced entry)."""

    weight: int
    forced: bool = False


@dataclass(frozen=True)
class SetWeight:
    weight: int
    reason: str  # "slow start" | "load" | "reconfigure"


@dataclass(frozen=True)
class Withdraw:
    """Take the server out of service: weight 0 (`quiesce`) or removal."""

    quiesce: bool
    forced: bool = False


@dataclass(frozen=True)
class QueryLoad:
    """Measure the server's load and report it with `HealthState.load_measured`."""


Decision = Admit | SetWeight | Withdraw | QueryLoad
Action = Admit | SetWeight | Withdraw


def initial_weight(weight: int) -> int:
    """Slow start's first weight: weight/32, at least 1 (a weight of 0 stays 0)."""
    return min(weight, max(1, weight >> 5))


def checks_per_adjustment(interval: float) -> int:
    """Successful checks between two weight adjustments (the original's 20/interval)."""
    if interval > ADJUST_SECONDS:
        return 1
    return max(1, math.floor(ADJUST_SECONDS / interval))


class HealthState:
    """One real server's health and what the table should hold for it."""

    def __init__(
        self,
        *,
        weight: int,
        reentry: float,
        quiesce: bool,
        interval: float,
        scale: int = 10,
        load_monitoring: bool = False,
    ) -> None:
        self.configured = weight
        self.reentry = reentry
        self.quiesce = quiesce
        self.interval = interval
        self.scale = scale
        self.load_monitoring = load_monitoring
        self.active = False  # in service with a real weight
        self.weight = 0  # the weight the table holds (0 when out of service)
        self.forced: str | None = None
        self.passing: bool | None = None  # the last check's result
        self.failed_at: float | None = None  # last failure, while re-entry applies
        self.since: float | None = None  # when `state` last changed
        self.last_check: float | None = None
        self.last_error = ""
        self.checks = 0
        self.failures = 0
        self._since_adjust = 0
        self._retry: Action | None = None
        self._state = UNKNOWN

    # --- what the server's state is ------------------------------------------------
    @property
    def state(self) -> str:
        return self._state

    def readmit_at(self) -> float | None:
        """When a passing server will be re-admitted (None: at the next success)."""
        if self.active or self.failed_at is None:
            return None
        return self.failed_at + self.reentry

    def _set_state(self, state: str, now: float) -> None:
        if state != self._state:
            self._state = state
            self.since = now

    # --- inputs -----------------------------------------------------------------------
    def observe(self, ok: bool, now: float, reason: str = "") -> list[Decision]:
        """A check finished at `now`; `reason` says why it failed."""
        self.checks += 1
        self.last_check = now
        self.passing = ok
        if not ok:
            self.failures += 1
            self.last_error = reason
        if self.forced is not None:
            return self._retries([])
        if ok:
            return self._retries(self._success(now))
        return self._retries(self._failure(now))

    def _success(self, now: float) -> list[Decision]:
        if not self.active:
            if self.failed_at is not None and now - self.failed_at < self.reentry:
                return []  # passing, but still inside the re-entry wait
            return [self._admit(now, initial_weight(self.configured), forced=False)]
        self._since_adjust += 1
        if self._since_adjust < checks_per_adjustment(self.interval):
            return []
        self._since_adjust = 0
        if self.weight < self.configured:
            self.weight = min(max(self.weight * 2, 1), self.configured)
            return [SetWeight(self.weight, "slow start")]
        if self.load_monitoring:
            return [QueryLoad()]
        return []

    def _failure(self, now: float) -> list[Decision]:
        self.failed_at = now  # every failure restarts the re-entry wait
        self._set_state(DOWN, now)
        if not self.active:
            return []
        return [self._withdraw(self.quiesce, forced=False)]

    def _admit(self, now: float, weight: int, forced: bool) -> Admit:
        self.active = True
        self.weight = weight
        self.failed_at = None
        self._since_adjust = 0
        self._set_state(UP, now)
        return Admit(weight, forced)

    def _withdraw(self, quiesce: bool, forced: bool) -> Withdraw:
        self.active = False
        self.weight = 0
        return Withdraw(quiesce, forced)

    def load_measured(self, load: float | None) -> list[Decision]:
        """The load reading asked for by QueryLoad (None: it could not be read)."""
        if load is None or not self.active or self.forced is not None:
            return []
        new = load_weight(self.weight, self.configured, load, self.scale)
        if new is None:
            return []
        self.weight = new
        return [SetWeight(new, "load")]

    def force(self, mode: str, now: float) -> list[Decision]:
        """The operator's force down / force up / resume."""
        if mode not in FORCE_MODES:
            raise ValueError(f"force mode must be one of {', '.join(FORCE_MODES)}, not {mode!r}")
        if mode == "resume":
            self.forced = None
            self.failed_at = None  # as the original: the next success admits at once
            return []
        self.forced = mode
        self._retry = None
        if mode == "down":
            self._set_state(DOWN, now)
            return [self._withdraw(False, forced=True)] if self.active else []
        if self.active:
            if self.weight == self.configured:
                return []
            self.weight = self.configured
            return [SetWeight(self.weight, "reconfigure")]
        return [self._admit(now, self.configured, forced=True)]

    def reconfigure(
        self,
        *,
        weight: int,
        reentry: float,
        quiesce: bool,
        interval: float,
        scale: int,
        load_monitoring: bool,
    ) -> list[Decision]:
        """New settings (lvsd reload); the up/down state stays."""
        old = self.configured
        self.configured = weight
        self.reentry = reentry
        self.quiesce = quiesce
        self.interval = interval
        self.scale = scale
        self.load_monitoring = load_monitoring
        if not self.active or weight == old:
            return []
        if self.forced == "up" or self.weight >= old:
            new = weight  # ramp finished (or load-adjusted): the new weight
        else:
            new = min(self.weight, weight)  # still ramping: keep ramping to the new one
        if new == self.weight:
            return []
        self.weight = new
        return [SetWeight(new, "reconfigure")]

    # --- outcomes of actions ------------------------------------------------------------
    def action_failed(self, action: Action) -> None:
        """Carrying out `action` failed: do it again at the next check."""
        self._retry = action

    def _retries(self, decisions: list[Decision]) -> list[Decision]:
        if self._retry is None:
            return decisions
        retry, self._retry = self._retry, None
        if any(not isinstance(d, QueryLoad) for d in decisions):
            return decisions  # superseded by a newer action
        if isinstance(retry, Withdraw):
            again: Action | None = retry if not self.active else None
        elif isinstance(retry, Admit):
            again = replace(retry, weight=self.weight) if self.active else None
        else:
            again = SetWeight(self.weight, retry.reason) if self.active else None
        return ([again] if again is not None else []) + decisions


@dataclass
class FailoverWatch:
    """nanny --fos (§4.6): watch the partner's service; say when to stop watching.

    ``observe`` answers "available" the first time the service answers,
    "lost" when it stops answering after that (the original exited 0), and
    "never" at the second consecutive failure without it ever having
    answered (exit 1: "triggering failover").
    """

    available: bool = False
    failures_in_row: int = 0

    def observe(self, ok: bool) -> str | None:
        if ok:
            self.failures_in_row = 0
            if not self.available:
                self.available = True
                return "available"
            return None
        self.failures_in_row += 1
        if self.available:
            return "lost"
        if self.failures_in_row >= 2:
            return "never"
        return None
