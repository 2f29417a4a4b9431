"""APPLY: make pulse and lvsd reread lvs.cf, and say what each answered.

Through each daemon's control socket (``reload`` -> {ok, errors}); a daemon
without a socket but with a live pid file gets SIGHUP (its log then tells
the outcome).  pulse forwards the reload to the lvsd it runs, so lvsd may
reload twice; a reload that changes nothing does nothing.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass, field
from pathlib import Path

from .daemons import Daemons


@dataclass(frozen=True)
class Outcome:
    daemon: str
    ok: bool | None  # None: not running, nothing to reload
    message: str
    errors: list[str] = field(default_factory=list)


def _live_pid(pidfile: Path, names: tuple[str, ...]) -> int | None:
    """The pid in `pidfile` if that process is alive and is one of ours (not a recycled pid)."""
    try:
        pid = int(pidfile.read_text().strip())
        cmdline = (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except (OSError, ValueError):
        return None
    return pid if any(n in cmdline for n in names) else None


async def reload_daemon(daemons: Daemons, daemon: str, pidfile: Path) -> Outcome:
    reply = await daemons.call(daemon, "reload", timeout=30.0)
    if reply.ok:
        data = reply.data if isinstance(reply.data, dict) else {}
        errors = [str(e) for e in data.get("errors") or []]
        ok = bool(data.get("ok", not errors))
        if ok:
            return Outcome(daemon, True, f"{daemon} reloaded lvs.cf", errors)
        return Outcome(
            daemon,
            False,
            f"{daemon} refused the new lvs.cf and keeps running the previous one",
            errors,
        )
    if reply.running:
        return Outcome(daemon, False, reply.error or f"{daemon} did not answer")
    pid = _live_pid(pidfile, (daemon, "lvsd" if daemon == "lvsd" else "pulse", "lvs"))
    if pid is None:
        return Outcome(daemon, None, f"{daemon} is not running: nothing to reload")
    try:
        os.kill(pid, signal.SIGHUP)
    except OSError as exc:
        return Outcome(daemon, False, f"cannot signal {daemon} (pid {pid}): {exc.strerror or exc}")
    return Outcome(
        daemon,
        True,
        f"{daemon} (pid {pid}) has no control socket; sent SIGHUP — its log shows the result",
    )


async def apply_all(daemons: Daemons, pulse_pidfile: Path, lvsd_pidfile: Path) -> list[Outcome]:
    """Reload pulse first (it plumbs new virtual IPs), then lvsd."""
    return [
        await reload_daemon(daemons, "pulse", pulse_pidfile),
        await reload_daemon(daemons, "lvsd", lvsd_pidfile),
    ]
