"""Where piranha keeps its configuration and run-time files.

Defaults follow DESIGN.md: configuration ``/etc/sysconfig/ha/lvs.cf``
(``PIRANHA_CONFIG`` overrides), control sockets under ``/run/piranha/`` for
root and ``$XDG_RUNTIME_DIR/piranha/`` otherwise (``PIRANHA_RUN_DIR``
overrides).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

DEFAULT_CONFIG = "/etc/sysconfig/ha/lvs.cf"


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("PIRANHA_CONFIG") or DEFAULT_CONFIG)


def run_dir() -> Path:
    override = os.environ.get("PIRANHA_RUN_DIR")
    if override:
        return Path(override)
    if os.geteuid() == 0:
        return Path("/run/piranha")
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg:
        return Path(xdg) / "piranha"
    return Path(tempfile.gettempdir()) / f"piranha-{os.getuid()}"


def socket_path(daemon: str) -> Path:
    """Control socket of a daemon: ``lvsd`` or ``pulse``."""
    return run_dir() / f"{daemon}.sock"


def ensure_run_dir() -> Path:
    """Create the run directory owner-only (0700) and return it."""
    path = run_dir()
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_uid == os.geteuid():
        path.chmod(0o700)
    return path
