"""What the running tool knows: its settings and the objects every request shares."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from piranha.config import Environment
from piranha.runtime.paths import run_dir, socket_path

from .allowlist import LOOPBACK, AllowList
from .apitoken import TokenFile, token_file
from .daemons import Daemons
from .passwords import Entry, PasswordFileError, passwd_file, read_entry
from .sessions import SessionStore
from .store import ConfigStore
from .throttle import LoginThrottle


def default_pidfile(name: str) -> Path:
    """Where pulse (``pulse``) and lvsd (``lvs``) write their pid: /var/run as root, else the run dir."""
    return Path("/var/run" if os.geteuid() == 0 else run_dir()) / f"{name}.pid"


@dataclass
class GuiSettings:
    config_path: Path
    passwd_file: Path = field(default_factory=passwd_file)
    token_file: Path = field(default_factory=token_file)
    allow: list[str] = field(default_factory=lambda: list(LOOPBACK))
    tls: bool = False
    environment: Callable[[], Environment] = Environment
    lvsd_socket: Path = field(default_factory=lambda: socket_path("lvsd"))
    pulse_socket: Path = field(default_factory=lambda: socket_path("pulse"))
    lvsd_pidfile: Path = field(default_factory=lambda: default_pidfile("lvs"))
    pulse_pidfile: Path = field(default_factory=lambda: default_pidfile("pulse"))
    daemon_timeout: float = 5.0
    sync_timeout: float = 60.0


class PasswordSource:
    """The current password entry, reread only when the file changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int, int] | None = None
        self._entry: Entry | None = None
        self.error: str | None = None

    def current(self) -> Entry | None:
        try:
            st = os.stat(self.path)
            stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        except OSError:
            stamp = None
        if stamp is None or stamp != self._stamp:
            self._stamp = stamp
            try:
                self._entry, self.error = read_entry(self.path), None
            except PasswordFileError as exc:
                self._entry, self.error = None, str(exc)
        return self._entry

    def forget(self) -> None:
        self._stamp = None


class GuiState:
    def __init__(self, settings: GuiSettings) -> None:
        self.settings = settings
        self.allowlist = AllowList(settings.allow)
        self.store = ConfigStore(settings.config_path, settings.environment)
        self.sessions = SessionStore()
        self.throttle = LoginThrottle()
        self.passwords = PasswordSource(settings.passwd_file)
        self.tokens = TokenFile(settings.token_file)
        self.daemons = Daemons(settings.lvsd_socket, settings.pulse_socket, settings.daemon_timeout)
        # The text the daemons were last told to load (at start, or by APPLY): the pending diff is from here.
        self.applied_text: str = self.store.snapshot().text

    def password_entry(self) -> Entry | None:
        return self.passwords.current()
