"""Announcing taken-over addresses: a gratuitous ARP at once, then repeated.

The original forked ``send_arp`` five times one second apart per address
(replies only) and logged ``gratuitous lvs arps finished`` at the end.  Here
the first announcement (an ARP request and an ARP reply) goes out the
moment the router is ready, then ``garp_count - 1`` more ``garp_interval``
apart, and the same line is logged when the burst completes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from . import arp
from .addresses import FloatingAddress

Sender = Callable[[str, str], None]  # (interface, address)


class Announcer:
    def __init__(
        self, log: logging.Logger, *, kind: str = "lvs", sender: Sender | None = None
    ) -> None:
        self.log = log
        self.kind = kind
        self._sockets = arp.PacketSockets()
        self.sender = sender or self._sockets.announce
        self._task: asyncio.Task[None] | None = None
        self.sent = 0

    def start(self, addresses: list[FloatingAddress], count: int, interval: float) -> None:
        """Announce ``addresses`` now, then repeat in the background (replacing any burst
        still running).  The first announcement is sent before this returns, so the
        router's "running" heartbeat never overtakes it."""
        self.cancel()
        if addresses:
            self.announce_now(addresses)
            self._task = asyncio.create_task(
                self._repeat(list(addresses), count - 1, interval), name="garp"
            )

    def announce_now(self, addresses: list[FloatingAddress]) -> None:
        for fa in addresses:
            try:
                self.sender(fa.device, fa.address)
                self.sent += 1
            except OSError as exc:
                self.log.warning(
                    "cannot send a gratuitous ARP for %s on %s: %s",
                    fa.address,
                    fa.device,
                    exc.strerror or exc,
                )

    async def _repeat(self, addresses: list[FloatingAddress], more: int, interval: float) -> None:
        for _ in range(more):
            await asyncio.sleep(interval)
            self.announce_now(addresses)
        self.log.info("gratuitous %s arps finished", self.kind)

    def cancel(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = None

    def close(self) -> None:
        self.cancel()
        self._sockets.close()

    async def wait(self) -> None:
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
