"""Logged-in sessions: a random id in a signed cookie, the state kept in this process.

Keeping sessions in memory makes logout real (the id is forgotten, a copied
cookie stops working), lets a session remember its CSRF token and pending
messages, and ends every session when the password changes: each session
holds the fingerprint of the password hash it logged in with.  Restarting
the tool logs everyone out, which is fine for an administration tool.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from itsdangerous import BadSignature, Signer

COOKIE = "piranha_session"
LOGIN_COOKIE = "piranha_login"  # carries the login form's CSRF token before there is a session


@dataclass
class Session:
    id: str
    csrf: str
    fingerprint: str
    created: float
    last_seen: float
    # Messages for the next page shown (Post/Redirect/Get): {"kind", "text", "diff", "items"}
    flashes: list[dict[str, Any]] = field(default_factory=list)

    def flash(self, kind: str, text: str, **extra: Any) -> None:
        self.flashes.append({"kind": kind, "text": text, **extra})

    def take_flashes(self) -> list[dict[str, Any]]:
        taken, self.flashes = self.flashes, []
        return taken


class SessionStore:
    IDLE_TIMEOUT = 3600.0
    MAX_AGE = 12 * 3600.0
    MAX_SESSIONS = 1000

    def __init__(self, secret: bytes | None = None, clock: Callable[[], float] = time.time) -> None:
        self._signer = Signer(secret or secrets.token_bytes(32), salt="piranha-session")
        self._login_signer = Signer(self._signer.secret_keys[-1], salt="piranha-login")
        self._sessions: dict[str, Session] = {}
        self.clock = clock

    def create(self, fingerprint: str) -> tuple[Session, str]:
        """A new session and the cookie value that names it."""
        self._expire()
        if len(self._sessions) >= self.MAX_SESSIONS:
            oldest = min(self._sessions.values(), key=lambda s: s.last_seen)
            del self._sessions[oldest.id]
        now = self.clock()
        session = Session(
            secrets.token_urlsafe(32), secrets.token_urlsafe(32), fingerprint, now, now
        )
        self._sessions[session.id] = session
        return session, self._signer.sign(session.id).decode()

    def lookup(self, cookie: str | None, fingerprint: str | None) -> Session | None:
        """The live session named by `cookie`, if it was made with the current password."""
        if not cookie:
            return None
        try:
            sid = self._signer.unsign(cookie).decode()
        except (BadSignature, UnicodeDecodeError):
            return None
        session = self._sessions.get(sid)
        if session is None:
            return None
        now = self.clock()
        if (
            now - session.last_seen > self.IDLE_TIMEOUT
            or now - session.created > self.MAX_AGE
            or fingerprint is None
            or not secrets.compare_digest(session.fingerprint, fingerprint)
        ):
            del self._sessions[sid]
            return None
        session.last_seen = now
        return session

    def destroy(self, session: Session) -> None:
        self._sessions.pop(session.id, None)

    def login_token(self, cookie: str | None = None) -> tuple[str, str]:
        """(token for the login form, cookie value) — the form must send the cookie's token back.

        A valid existing cookie keeps its token, so a second login page (another tab, a
        favicon request bounced to the login page) does not spoil the first one's form.
        """
        token = self._login_token_of(cookie) or secrets.token_urlsafe(24)
        return token, self._login_signer.sign(token).decode()

    def _login_token_of(self, cookie: str | None) -> str | None:
        if not cookie:
            return None
        try:
            return self._login_signer.unsign(cookie).decode()
        except (BadSignature, UnicodeDecodeError):
            return None

    def check_login_token(self, cookie: str | None, token: str | None) -> bool:
        expected = self._login_token_of(cookie)
        if not expected or not token:
            return False
        return secrets.compare_digest(expected, token)

    def _expire(self) -> None:
        now = self.clock()
        for sid in [
            sid
            for sid, s in self._sessions.items()
            if now - s.last_seen > self.IDLE_TIMEOUT or now - s.created > self.MAX_AGE
        ]:
            del self._sessions[sid]
