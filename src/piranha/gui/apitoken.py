"""The JSON API's bearer token: made once by ``piranha gui --new-api-token``, stored hashed.

The token file (0600) holds ``sha256:<hex>`` of the token, never the token:
the command prints the token once for the operator to hand to the API
client (or to Prometheus as its ``credentials_file``).  A new token replaces
the old one.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from .secretfile import write_private

DEFAULT_TOKEN_FILE = "/etc/sysconfig/ha/conf/piranha-api.token"
PREFIX = "pir_"


def token_file(explicit: str | os.PathLike[str] | None = None) -> Path:
    """`explicit`, else $PIRANHA_API_TOKEN_FILE, else /etc/sysconfig/ha/conf/piranha-api.token."""
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("PIRANHA_API_TOKEN_FILE") or DEFAULT_TOKEN_FILE)


def _digest(token: str) -> str:
    return "sha256:" + hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def create_token(path: Path) -> str:
    """Make a new token, store its digest in `path` (replacing any old one) and return it."""
    token = PREFIX + secrets.token_urlsafe(32)
    write_private(path, (_digest(token) + "\n").encode())
    return token


class TokenFile:
    """Checks bearer tokens against the file; rereads it when it changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int, int] | None = None
        self._digests: list[str] = []

    def _load(self) -> list[str]:
        try:
            st = os.stat(self.path)
        except OSError:
            self._stamp, self._digests = None, []
            return []
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        if stamp != self._stamp:
            try:
                lines = self.path.read_text().split()
            except OSError:
                lines = []
            self._digests = [x for x in lines if x.startswith("sha256:")]
            self._stamp = stamp
        return self._digests

    @property
    def configured(self) -> bool:
        return bool(self._load())

    def verify(self, token: str | None) -> bool:
        if not token:
            return False
        candidate = _digest(token)
        return any(hmac.compare_digest(candidate, d) for d in self._load())
