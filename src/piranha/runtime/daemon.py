"""Becoming a daemon: double fork, setsid, stdio to /dev/null, a pid file."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def daemonize() -> None:
    """Detach from the terminal the classic way (the original daemons did)."""
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    os.chdir("/")
    _stdio_to_devnull()


def detach(*, fork: bool) -> None:
    """Become a daemon: double fork (``daemonize``), or for ``--nofork`` (systemd, a
    supervisor) only stdio on /dev/null and a session of our own where allowed."""
    if fork:
        daemonize()
        return
    _stdio_to_devnull()
    with contextlib.suppress(OSError):
        os.setsid()


def _stdio_to_devnull() -> None:
    fd = os.open(os.devnull, os.O_RDWR)
    for target in (0, 1, 2):
        os.dup2(fd, target)
    if fd > 2:
        os.close(fd)


def default_pid_file(name: str, directory: Path) -> Path:
    """``/var/run/<name>.pid`` as root (unless PIRANHA_RUN_DIR points elsewhere),
    else ``<directory>/<name>.pid``."""
    if os.geteuid() == 0 and not os.environ.get("PIRANHA_RUN_DIR"):
        return Path(f"/var/run/{name}.pid")
    return directory / f"{name}.pid"


class PidFile:
    """``/var/run/<name>.pid`` while we run; refuses when another live process holds it."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def holder(self) -> int | None:
        try:
            pid = int(self.path.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return pid
        return pid if pid != os.getpid() else None

    def acquire(self) -> None:
        other = self.holder()
        if other is not None:
            raise RuntimeError(f"already running as pid {other} (pid file {self.path})")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(f"{os.getpid()}\n")
        os.replace(tmp, self.path)

    def release(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            if int(self.path.read_text().strip()) == os.getpid():
                self.path.unlink()
