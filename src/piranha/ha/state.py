"""pulse's decisions as a pure object: events in, actions out.

Nothing here touches a socket, a clock or a process.  The daemon feeds
events (a heartbeat from the partner, a timer, lvsd exiting, a link going
down, a signal) with the current monotonic time, and carries out the
actions it gets back in order.  Every transition of the original's state
table (piranha-behaviour.md §2.3) is therefore a unit test, and so are the
changes we made on purpose:

* **Sub-second timing**: ``keepalive`` and ``deadtime`` are floats.
* **Fail-back** (lvs only; the RHEL guide's behaviour, which pulse 0.8.6 did
  not have): an inactive primary that has heard the backup serving, with
  no link or lvsd failure of its own, for ``failback_delay`` seconds in a
  row takes the service back.  It activates first and announces "running"
  only when lvsd has programmed the table; the backup then yields (make
  before break).  A primary that keeps restarting never completes the
  hold-down, so it cannot bounce the service.
* **"running" means ready** (make before break): a router says "running"
  only once lvsd has reported the table programmed; while activating it
  still says "stopped", so a partner that serves keeps serving until then
  (fail-back), and a partner that is stopping (SIGTERM) hands over only
  to a router that can take the traffic.
* **No start-up bounce**: an inactive backup takes over on "stopped" only
  when the primary has just stepped down (it said "running" before) or has
  kept saying "stopped" longer than an activation may take (``deadtime`` +
  10 s: it cannot activate).  The original activated the backup on the
  first "stopped", so two routers started together both went active.
* **Immediate notices**: every change of what we announce is sent at once,
  not at the next keepalive; a clean stop says "stopped" before tearing
  down, so the partner takes over within one round trip.
* **Standalone** (``backup_active = 0``): the primary activates at once
  instead of after ``deadtime``; if its lvsd fails there is nobody to take
  over, so pulse exits non-zero for the service manager to restart it.

Split brain after a partition heals resolves the original's way, within
one heartbeat: the active backup yields to an active primary ("primary
wins", deterministic).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .wire import Magic, state_magics

PRIMARY, BACKUP = "primary", "backup"
INACTIVE, ACTIVATING, ACTIVE, STOPPING = "inactive", "activating", "active", "stopping"

# Partner states as the status op reports them
P_RUNNING, P_STOPPED, P_DEAD, P_UNKNOWN = "running", "stopped", "dead", "unknown"


# --- actions -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Log:
    message: str
    level: str = "info"


@dataclass(frozen=True, slots=True)
class Send:
    """Send a heartbeat now, saying ``magic`` (None: :meth:`PulseState.heartbeat_magic`
    at the time it is sent)."""

    magic: int | None = None


@dataclass(frozen=True, slots=True)
class HandOver:
    """Clean stop: keep serving until the partner says "running" (or ``timeout``)."""

    timeout: float


@dataclass(frozen=True, slots=True)
class Activate:
    """Bring the service up; report back with ``activation_finished(generation, ...)``."""

    generation: int


@dataclass(frozen=True, slots=True)
class Deactivate:
    """Take the service down (lvs: inactive_cmd, lvsd, addresses; fos: stop the services).

    Also sent when stopping an inactive router: the original ran inactive_cmd
    then too, and a standby lvsd or the fos monitors must stop.
    """

    was_active: bool = True


@dataclass(frozen=True, slots=True)
class Reassert:
    """Active primary hears an active partner: run active_cmd again and resend the ARPs."""


@dataclass(frozen=True, slots=True)
class StartMonitors:
    """fos: watch the partner's services."""


@dataclass(frozen=True, slots=True)
class CheckConnectivity:
    """fos: can we reach our default gateway?  Answer with ``connectivity(ok)``."""


@dataclass(frozen=True, slots=True)
class Exit:
    code: int


Action = (
    Log
    | Send
    | HandOver
    | Activate
    | Deactivate
    | Reassert
    | StartMonitors
    | CheckConnectivity
    | Exit
)

ACTIVATION_BOUND = 10.0  # lvsd must report ready within this (the RHEL pulse's semaphore wait)
HANDOVER_TIMEOUT = ACTIVATION_BOUND  # a cold lvsd start on the partner may take this long


@dataclass(frozen=True, slots=True)
class Timing:
    keepalive: float = 2.0
    deadtime: float = 5.0
    failback: bool = True  # lvs: the primary takes the service back when it returns
    failback_delay: float = 30.0  # ... after hearing the backup serve this long


@dataclass
class PulseState:
    role: str  # PRIMARY | BACKUP
    service: str = "lvs"  # "lvs" | "fos"
    backup_active: bool = True
    timing: Timing = field(default_factory=Timing)
    force_active: bool = False

    phase: str = INACTIVE
    child_failed: bool = False  # lvsd died or did not start: no activation until the partner runs
    link_failed: bool = False
    fail_partner: bool = False  # fos: we took over because the partner's service vanished
    network_fault: bool = False  # fos: our own gateway is unreachable
    partner: str = P_UNKNOWN
    last_heard: float | None = None
    since: float = 0.0  # when `phase` last changed
    generation: int = 0
    handed_over: bool = False  # stopping: the partner said "running" since
    _takeover_notice: bool = False  # fos: "Notifying partner WE are taking control!" logged
    _dead_at: float = 0.0
    _send_at: float = 0.0
    _stopped_since: float | None = None  # partner saying "stopped" continuously since
    _failback_since: float | None = None
    _started: bool = False

    # --- what we announce --------------------------------------------------
    @property
    def active(self) -> bool:
        """Active or on the way there (holds, or is taking, the addresses)."""
        return self.phase in (ACTIVATING, ACTIVE)

    @property
    def is_primary(self) -> bool:
        return self.role == PRIMARY

    def heartbeat_magic(self) -> int:
        running, stopped = state_magics(self.service)
        if self.service == "fos" and self.fail_partner and self.phase != STOPPING:
            return Magic.FOS_STOPME
        return running if self.phase == ACTIVE else stopped

    @property
    def stuck_after(self) -> float:
        """How long a primary may say "stopped" before the backup concludes it cannot activate."""
        return self.timing.deadtime + ACTIVATION_BOUND

    def sends_heartbeats(self) -> bool:
        return self.backup_active

    def next_deadline(self) -> float:
        """The monotonic time at which :meth:`poll` has something to do."""
        times = [self._dead_at]
        if self.backup_active:
            times.append(self._send_at)
        if self._failback_due() is not None:
            times.append(self._failback_due())  # type: ignore[arg-type]
        return min(times)

    # --- events ----------------------------------------------------------------
    def start(self, now: float) -> list[Action]:
        self._started = True
        self.since = now
        self._dead_at = now + self.timing.deadtime
        self._send_at = now  # first heartbeat at once (the original waited a keepalive)
        out: list[Action] = []
        if self.service == "fos":
            if self.is_primary and not self.backup_active and not self.force_active:
                out.append(Log("Warning: FOS backup node not defined -- skipping checks"))
                out += self._activate(now, None)
            elif self.force_active:
                out += self._activate(now, "Forced active on startup: activating fos")
            else:
                out.append(Log("Starting Failover Service Monitors"))
                out.append(StartMonitors())
            return out
        if self.force_active:
            out += self._activate(now, "Forced active on startup: activating lvs")
        elif not self.backup_active:
            out += self._activate(now, "no backup router (backup_active = 0): activating lvs")
        return out

    def poll(self, now: float) -> list[Action]:
        """Timers: send a heartbeat, declare the partner dead, complete a fail-back."""
        out: list[Action] = []
        if self.backup_active and now >= self._send_at:
            out.append(Send())
            self._send_at = now + self.timing.keepalive
        due = self._failback_due()
        if due is not None and now >= due:
            self._failback_since = None
            out += self._activate(
                now,
                f"primary back for {self.timing.failback_delay:g} s (fail-back hold-down): activating lvs",
            )
        if now >= self._dead_at:
            out += self._partner_dead(now)
            self._dead_at = now + self.timing.deadtime
        return out

    def _partner_dead(self, now: float) -> list[Action]:
        if self.backup_active and self.partner != P_DEAD:
            self.partner = P_DEAD
        self._failback_since = None
        self._stopped_since = None
        if not self.active and not self.link_failed and not self.child_failed:
            if self.service == "fos":
                out = self._activate(now, "partner dead: activating failover services")
                self.fail_partner = False
                self._takeover_notice = False
                return out
            if self.backup_active:
                return self._activate(now, "partner dead: activating lvs")
            return []
        if self.active:
            self.fail_partner = False
            self._takeover_notice = False
        return []

    def heartbeat(self, magic: int, now: float, *, public: bool = True) -> list[Action]:
        """A heartbeat accepted from the partner (source and format already checked)."""
        running, stopped = state_magics(self.service)
        if self.phase == STOPPING:
            self.last_heard = now
            if magic == running or magic == Magic.FOS_STOPME:
                self.handed_over = True
            return []
        out: list[Action] = []
        announced = self.heartbeat_magic()
        self.last_heard = now
        self._dead_at = now + self.timing.deadtime
        if self.network_fault and public:
            out.append(Log("Network fault seems to be fixed"))
            self.network_fault = False
            out.append(StartMonitors())
        if magic == Magic.FOS_STOPME:
            if self.active and self.is_primary:
                out.append(Log("PARTNER HAS TOLD US TO GO INACTIVE!"))
                out += self._deactivate(now)
            magic = running
        if magic == running:
            self.partner = P_RUNNING
            self._stopped_since = None
            self.child_failed = False
            if self.active and not self.is_primary:
                # one more heartbeat saying what we were, so that the primary re-ARPs (original)
                out.append(Send(announced))
                out += self._shutdown(now, "partner active")
            elif self.phase == ACTIVE and self.is_primary:
                if self.service == "lvs":
                    out.append(Log("partner active: resending arps"))
                    out.append(Reassert())
                else:
                    out.append(Log("partner active"))
            elif not self.active and self.is_primary:
                out += self._consider_failback(now)
        elif magic == stopped:
            self.fail_partner = False
            self._takeover_notice = False
            self._failback_since = None
            stepped_down = self.partner == P_RUNNING
            if self._stopped_since is None or stepped_down:
                self._stopped_since = now
            self.partner = P_STOPPED
            if not self.active and not self.link_failed and not self.child_failed:
                if self.is_primary:
                    out += self._activate(now, self._startup_message("backup inactive"))
                elif stepped_down or now - self._stopped_since >= self.stuck_after:
                    out += self._activate(now, self._startup_message("primary inactive"))
        # HOLD / HELD: accepted, no action (the original disabled their handling)
        return out

    def activation_finished(
        self, generation: int, ok: bool, now: float, why: str = ""
    ) -> list[Action]:
        """The daemon finished an Activate (lvsd READY, addresses up) or failed to."""
        if generation != self.generation or self.phase != ACTIVATING:
            return []  # superseded by a later decision
        if ok:
            self._set_phase(ACTIVE, now)
            return [Send()]
        out: list[Action] = [Log(f"activation failed: {why}" if why else "activation failed")]
        out += self._give_up(now)
        return out

    def child_failed_event(self, now: float) -> list[Action]:
        """lvsd (lvs mode) exited while we were active: give the role away."""
        if not self.active:
            return []
        return self._give_up(now)

    def _give_up(self, now: float) -> list[Action]:
        out: list[Action] = [Deactivate()]
        self._set_phase(INACTIVE, now)
        self.child_failed = True
        self._failback_since = None
        if not self.backup_active:
            out.append(
                Log(
                    "no backup router can take over (backup_active = 0): exiting so that the "
                    "service manager can restart pulse",
                    "error",
                )
            )
            out.append(Exit(1))
            return out
        out.append(Send())  # "stopped" now: the partner takes over without waiting
        return out

    def links(self, down: list[str], now: float) -> list[Action]:
        """Link state of the heartbeat NICs: names of those down ("Primary NIC", "Private NIC")."""
        out: list[Action] = []
        if down and not self.link_failed:
            out += [Log(f"{name}: link down") for name in down]
            out.append(Log("Local NIC link failure: Pulse disabled"))
            self.link_failed = True
            self._failback_since = None
            if self.active:
                out += self._shutdown(now, "local link failure")
                out.append(Send())
        elif not down and self.link_failed:
            out.append(Log("Local NIC link(s) restored: Pulse enabled"))
            self.link_failed = False
        return out

    def stop(self, signum: int, now: float) -> list[Action]:
        """SIGTERM/SIGINT: say "stopped" at once, then tear down and exit."""
        out: list[Action] = [Log(f"Terminating due to signal {signum}")]
        was_active = self.active
        partner_alive = self.partner in (P_RUNNING, P_STOPPED)
        self._set_phase(STOPPING, now)
        self.handed_over = False
        if self.backup_active:
            out.append(Send())
            if was_active and partner_alive:
                out.append(HandOver(HANDOVER_TIMEOUT))
        out.append(Deactivate(was_active))
        out.append(Exit(0))
        return out

    # fos: the partner's services -----------------------------------------------
    def monitors_failed(self, now: float) -> list[Action]:
        """fos: a monitor lost the partner's service (or never saw it)."""
        if self.service != "fos" or self.active:
            return []
        return [Log("fos process exited -- checking network connectivity"), CheckConnectivity()]

    def connectivity(self, ok: bool, now: float) -> list[Action]:
        if self.service != "fos" or self.active:
            return []
        if not ok:
            self.network_fault = True
            return [
                Log("remote service unavailable; gateway unavailable"),
                Log("I SEEM TO HAVE A NETWORK FAULT!"),
            ]
        out: list[Action] = [
            Log("remote service unavailable but we can see the gateway"),
            Log("seems like a remote network fault; performing service failover"),
        ]
        self.fail_partner = True  # in a tie the primary wins, but this time we must
        out += self._activate(now, None)
        return out

    def reconfigure(self, timing: Timing, backup_active: bool, now: float) -> None:
        self.timing = timing
        self.backup_active = backup_active
        self._dead_at = min(self._dead_at, now + timing.deadtime)
        self._send_at = min(self._send_at, now + timing.keepalive)

    # --- helpers ------------------------------------------------------------------
    def _startup_message(self, why: str) -> str:
        return f"{why}: activating {'fos' if self.service == 'fos' else 'lvs'}"

    def _activate(self, now: float, message: str | None) -> list[Action]:
        if self.active or self.phase == STOPPING:
            return []
        self.generation += 1
        self._failback_since = None
        self._set_phase(ACTIVATING, now)
        out: list[Action] = [Log(message)] if message else []
        out.append(Activate(self.generation))
        if self.fail_partner:
            out += self._takeover_log()
            out.append(Send())
        return out

    def _takeover_log(self) -> list[Action]:
        if self._takeover_notice:
            return []
        self._takeover_notice = True
        return [Log("Notifying partner WE are taking control!")]

    def _shutdown(self, now: float, why: str) -> list[Action]:
        """The original's shutdown_services(): step down, or (fos) insist."""
        if self.service == "fos":
            if self.fail_partner:
                return [Log(f"{why}: we want control!")]
            return [Log(f"{why}: deactivating FOS"), *self._deactivate(now)]
        return [Log(f"{why}: deactivating LVS"), *self._deactivate(now)]

    def _deactivate(self, now: float) -> list[Action]:
        if not self.active:
            return []
        self._set_phase(INACTIVE, now)
        out: list[Action] = [Deactivate()]
        if self.service == "fos":
            out.append(StartMonitors())
        return out

    def _set_phase(self, phase: str, now: float) -> None:
        if phase != self.phase:
            self.phase = phase
            self.since = now

    def _failback_eligible(self) -> bool:
        return (
            self.service == "lvs"
            and self.is_primary
            and self.timing.failback
            and self.backup_active
            and self.phase == INACTIVE
            and not self.link_failed
            and not self.child_failed
            and self.partner == P_RUNNING
        )

    def _consider_failback(self, now: float) -> list[Action]:
        if not self._failback_eligible():
            self._failback_since = None
            return []
        if self.timing.failback_delay <= 0:
            return self._activate(now, "primary back (no fail-back hold-down): activating lvs")
        if self._failback_since is None:
            self._failback_since = now
            return [
                Log(
                    f"partner active: taking the service back in {self.timing.failback_delay:g} s "
                    "unless something fails meanwhile (fail-back hold-down)"
                )
            ]
        return []

    def _failback_due(self) -> float | None:
        if self._failback_since is None or not self._failback_eligible():
            return None
        return self._failback_since + self.timing.failback_delay

    # --- status ---------------------------------------------------------------------
    def heartbeat_age(self, now: float) -> float | None:
        return None if self.last_heard is None else round(now - self.last_heard, 3)
