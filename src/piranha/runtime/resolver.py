"""Host and service names for ipvsadm-style output and input.

:class:`SystemResolver` asks the system (resolver library, /etc/hosts,
/etc/services) exactly as ipvsadm does; ``lvsadm`` uses it directly.

lvsd must never block its event loop on DNS (the userspace data plane runs
in that loop), so it uses :class:`CachingResolver`: it answers only from a
cache and records what it could not answer; :meth:`CachingResolver.fill`
then looks the misses up in worker threads, and the caller runs the
command again.  Answers, including "unknown", are kept for ``ttl`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Callable
from typing import Any

from piranha.table.ipvsadm.addresses import PROTOCOL_SERVICE_NAMES, Resolver


class SystemResolver:
    """Names from the system (resolver library, /etc/hosts, /etc/services), as ipvsadm."""

    def host(self, address: str) -> str | None:
        try:
            return socket.gethostbyaddr(address)[0]
        except (OSError, UnicodeError):
            return None

    def service(self, port: int, proto: int) -> str | None:
        name = PROTOCOL_SERVICE_NAMES.get(proto)
        if name is None:
            return None
        try:
            return socket.getservbyport(port, name)
        except (OSError, OverflowError):
            return None

    def address(self, name: str) -> str | None:
        try:
            return socket.gethostbyname(name)
        except (OSError, UnicodeError):
            return None

    def port(self, name: str, proto: int) -> int | None:
        proto_name = PROTOCOL_SERVICE_NAMES.get(proto)
        if proto_name is None:
            return None
        try:
            return socket.getservbyname(name, proto_name)
        except OSError:
            return None


# (method name, arguments) of one lookup
Query = tuple[str, tuple[Any, ...]]


class CachingResolver:
    """A :class:`Resolver` that answers from its cache and never blocks.

    Unknown queries answer None and are remembered in ``misses``; ``await
    fill()`` resolves them through ``inner`` in threads (each bounded by
    ``timeout``; a lookup that takes longer counts as "unknown").
    """

    def __init__(
        self,
        inner: Resolver | None = None,
        *,
        ttl: float = 300.0,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.inner: Resolver = inner or SystemResolver()
        self.ttl = ttl
        self.timeout = timeout
        self.clock = clock
        self._cache: dict[Query, tuple[float, Any]] = {}
        self.misses: set[Query] = set()

    def _answer(self, query: Query) -> Any:
        hit = self._cache.get(query)
        if hit is not None and hit[0] > self.clock():
            return hit[1]
        self.misses.add(query)
        return None

    def host(self, address: str) -> str | None:
        return self._answer(("host", (address,)))

    def service(self, port: int, proto: int) -> str | None:
        return self._answer(("service", (port, proto)))

    def address(self, name: str) -> str | None:
        return self._answer(("address", (name,)))

    def port(self, name: str, proto: int) -> int | None:
        return self._answer(("port", (name, proto)))

    async def fill(self) -> int:
        """Look up every recorded miss (concurrently); returns how many were looked up."""
        queries, self.misses = list(self.misses), set()
        if not queries:
            return 0

        async def one(query: Query) -> None:
            method, args = query
            value = None
            with contextlib.suppress(TimeoutError):
                value = await asyncio.wait_for(
                    asyncio.to_thread(getattr(self.inner, method), *args), self.timeout
                )
            self._cache[query] = (self.clock() + self.ttl, value)

        await asyncio.gather(*(one(q) for q in queries))
        return len(queries)
