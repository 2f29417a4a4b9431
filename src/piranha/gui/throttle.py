"""Slowing down password guessing without ever sleeping in the server.

Each failed login from a client address doubles the time that client must
wait before the next attempt is even looked at (after a few free typos);
failures from all clients together also count, so guessing from many
addresses is slowed too.  An attempt that comes too early is answered at
once with 429 and ``Retry-After`` and its password is not checked.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Client:
    failures: int = 0
    not_before: float = 0.0
    last_failure: float = 0.0


class LoginThrottle:
    FREE_FAILURES = 2  # typos cost nothing
    BASE_DELAY = 1.0
    CLIENT_CAP = 300.0
    FORGET_AFTER = 900.0  # a client quiet this long starts afresh
    GLOBAL_WINDOW = 60.0
    GLOBAL_FREE = 20  # failures per window across all clients before everyone waits
    GLOBAL_CAP = 30.0  # short, so an attacker cannot lock the administrator out for long
    MAX_CLIENTS = 10000

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._clients: dict[str, _Client] = {}
        self._recent: deque[float] = deque()
        self._global_not_before = 0.0

    def retry_after(self, client: str) -> float:
        """Seconds until `client` may try a password again; 0 means now."""
        now = self.clock()
        record = self._record(client, now, create=False)
        wait = max(self._global_not_before - now, 0.0)
        if record is not None:
            wait = max(wait, record.not_before - now)
        return wait

    def failed(self, client: str) -> float:
        """Record a wrong password from `client`; returns the wait now imposed on it."""
        now = self.clock()
        record = self._record(client, now, create=True)
        assert record is not None
        record.failures += 1
        record.last_failure = now
        extra = record.failures - self.FREE_FAILURES
        if extra > 0:
            record.not_before = now + min(self.BASE_DELAY * 2 ** (extra - 1), self.CLIENT_CAP)
        self._recent.append(now)
        while self._recent and self._recent[0] <= now - self.GLOBAL_WINDOW:
            self._recent.popleft()
        over = len(self._recent) - self.GLOBAL_FREE
        if over > 0:
            self._global_not_before = now + min(self.BASE_DELAY * 2 ** (over - 1), self.GLOBAL_CAP)
        return self.retry_after(client)

    def succeeded(self, client: str) -> None:
        self._clients.pop(client, None)

    def failures(self, client: str) -> int:
        record = self._record(client, self.clock(), create=False)
        return 0 if record is None else record.failures

    def _record(self, client: str, now: float, create: bool) -> _Client | None:
        record = self._clients.get(client)
        if record is not None and now - record.last_failure > self.FORGET_AFTER:
            del self._clients[client]
            record = None
        if record is None and create:
            if len(self._clients) >= self.MAX_CLIENTS:
                self._prune(now)
            record = self._clients[client] = _Client()
        return record

    def _prune(self, now: float) -> None:
        for key in [k for k, r in self._clients.items() if r.not_before <= now]:
            del self._clients[key]
        while len(self._clients) >= self.MAX_CLIENTS:  # all still waiting: drop the oldest
            del self._clients[next(iter(self._clients))]
