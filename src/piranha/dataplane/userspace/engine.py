"""The proxy engine: listeners that match the table, open connections, and their upkeep.

The engine runs on whatever event loop it is started in, against a
:class:`~piranha.table.model.VirtualTable` whose connection table it
schedules with.  In lvsd's own process that is lvsd's table; in the worker
process (uvloop) it is the worker's copy (see :mod:`.worker`).

``converge`` opens and closes listening sockets so that they match the
table's services; a service that stays keeps its sockets and its
connections.  A service that leaves loses its sockets at once, while its
established connections are left to the table, as IPVS leaves them: their
destinations are deleted, so the client's side is no longer read (IPVS
drops those packets; TCP holds them in the socket buffers here) and the
connection ends when its entry expires — unless the real server is added
back in time and it resumes, or ``expire_nodest_conn`` is set and the
entry (hence the connection) goes at once.

Housekeeping runs every half second: traffic counters go into the table
(``account``) and restart the entries' timers (``touch``), the table's
timers run (``expire``), connections whose entries are gone are reset,
connects that took too long are given up.  Counters and timers therefore
lag the traffic by at most half a second.

Closed connections leave their entries in the table in their final state
(TIME_WAIT, CLOSE...) until the state's timer runs out, as IPVS does, so
``lvsadm -L -n -c`` and InActConn look the same, and persistence lasts
until the last entry goes.  To bound memory at high connection rates at
most ``userspace.linger_max`` such entries are kept; beyond that the oldest
are dropped early (IPVS has a similar last resort, ``drop_entry``).
"""

from __future__ import annotations

import asyncio
import collections
import functools
import logging
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from piranha.runtime.limits import raise_fd_limit
from piranha.table.model import IPPROTO_TCP, Connection, Service, ServiceKey, VirtualTable

from .endpoints import Endpoint, open_socket, plan
from .settings import ProxySettings
from .tcp import PAUSE_NO_DEST, ClientSide
from .udp import UdpEndpoint

if TYPE_CHECKING:  # pragma: no cover
    from .udp import UdpFlow

TICK = 0.5  # seconds between housekeeping runs
_ASYNCIO_WRITE_LIMITS = (64 * 1024, 16 * 1024)  # what transports start with
_monotonic = time.monotonic


@dataclass(slots=True)
class Counters:
    """What went wrong, for logs and the status page (monotonic counts)."""

    no_destination: int = 0  # connections/flows refused: no real server available
    connect_failed: int = 0  # real server refused, unreachable or too slow to answer
    expired: int = 0  # open connections ended because their table entry went
    gone_before_accept: int = 0  # clients that reset before the proxy could take them
    udp_flows_full: int = 0  # datagrams of new clients dropped: flow limit reached
    udp_dropped: int = 0  # datagrams dropped: buffer full or real server removed

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class Listener:
    """A listening TCP socket of one service.

    ``svc`` is the table's Service for ``key``, looked up again at every
    converge (the table changes only before a converge) so that accepting a
    connection costs no lookup.
    """

    __slots__ = ("address", "engine", "key", "port", "server", "svc")

    def __init__(self, engine: ProxyEngine, key: ServiceKey, address: str, port: int) -> None:
        self.engine = engine
        self.key = key
        self.address = address
        self.port = port
        self.server: asyncio.AbstractServer | None = None
        self.svc: Service | None = engine.table.services.get(key)

    def close(self) -> None:
        if self.server is not None:
            self.server.close()


class ProxyEngine:
    def __init__(
        self,
        table: VirtualTable,
        settings: ProxySettings | None = None,
        *,
        log: logging.Logger | None = None,
    ) -> None:
        self.table = table
        assert table.connections is not None
        self.conns = table.connections
        self.settings = settings or ProxySettings()
        self.log = log or logging.getLogger("piranha.dataplane.userspace")
        self.loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]  # set by start()
        self.listeners: dict[Endpoint, Listener | UdpEndpoint] = {}
        self.open: dict[Connection, ClientSide] = {}
        self.flows: dict[UdpFlow, None] = {}
        self.connecting: dict[ClientSide, float] = {}
        self.lingering: collections.deque[Connection] = collections.deque()
        self.counters = Counters()
        limits = (self.settings.high_water, self.settings.low_water)
        self.write_limits = None if limits == _ASYNCIO_WRITE_LIMITS else limits
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False
        self._flows_warned_at = -1e9

    # -- lifecycle ----------------------------------------------------------

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        raise_fd_limit()
        self._timer = self.loop.call_later(TICK, self._tick)

    async def close(self) -> None:
        """Close every socket: listeners, flows, and open connections (with resets)."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for listener in self.listeners.values():
            listener.close()
        self.listeners.clear()
        for client in list(self.open.values()):
            client.abort()
        for flow in list(self.flows):
            flow.close()
        # let the transports report connection_lost so every entry is released
        for _ in range(50):
            if not self.open:
                break
            await asyncio.sleep(0.01)
        for entry in self.lingering:
            if entry not in self.open:
                self.conns.remove(entry)
        self.lingering.clear()

    # -- converge -----------------------------------------------------------

    async def converge(self) -> dict[ServiceKey, str]:
        """Make the listeners match the table; returns {service: reason} for what failed."""
        want = plan(self.table, self.settings.listener_budget())
        failed: dict[ServiceKey, list[str]] = {key: [why] for key, why in want.failed.items()}
        for ep in [ep for ep in self.listeners if ep not in want.wanted]:
            self.listeners.pop(ep).close()
        for ep, key in want.wanted.items():
            current = self.listeners.get(ep)
            if current is not None:
                current.key = key
                current.svc = self.table.services.get(key)
                continue
            try:
                self.listeners[ep] = await self._open(ep, key)
            except OSError as exc:
                failed.setdefault(key, []).append(exc.strerror or str(exc))
        self.recheck()
        return {key: _summarise(reasons) for key, reasons in failed.items()}

    async def _open(self, ep: Endpoint, key: ServiceKey) -> Listener | UdpEndpoint:
        sock = open_socket(ep, freebind=self.settings.freebind)
        try:
            if ep.protocol == IPPROTO_TCP:
                listener = Listener(self, key, ep.address, ep.port)
                listener.server = await self.loop.create_server(
                    functools.partial(ClientSide, listener), sock=sock, backlog=4096
                )
                return listener
            endpoint = UdpEndpoint(self, key, ep.address, ep.port)
            await self.loop.create_datagram_endpoint(lambda: endpoint, sock=sock)
            return endpoint
        except BaseException:
            sock.close()
            raise

    def recheck(self) -> None:
        """After the table changed: connections whose entry went end, removed servers pause."""
        lookup = self.conns.lookup
        for entry, client in list(self.open.items()):
            if lookup(entry.protocol, entry.caddr, entry.cport, entry.vaddr, entry.vport) is not entry:
                self._expire(client)
            elif entry.dest is not None and not entry.dest.available:
                client.pause(PAUSE_NO_DEST)
            elif client.paused & PAUSE_NO_DEST:
                client.unpause(PAUSE_NO_DEST)
        for flow in list(self.flows):
            entry = flow.entry
            if not flow.ops and lookup(entry.protocol, entry.caddr, entry.cport, entry.vaddr, entry.vport) is not entry:
                flow.close()

    # -- what the protocols call ---------------------------------------------

    def release(self, client: ClientSide) -> None:
        """Both sockets of ``client`` are closed: settle its entry."""
        entry = client.entry
        assert entry is not None
        if self.open.get(entry) is client:
            del self.open[entry]
        if client.ib or client.ob:
            self.conns.account(entry, client.ib, client.ip, client.ob, client.op)
        if self.open.get(entry) is not None:
            return  # reused by a newer connection meanwhile
        key = (entry.protocol, entry.caddr, entry.cport, entry.vaddr, entry.vport)
        if self.conns.lookup(*key) is not entry:
            return  # expired or flushed already
        if self._closed or not self.settings.linger_max:
            self.conns.remove(entry)
            return
        self.lingering.append(entry)
        if len(self.lingering) > self.settings.linger_max:
            old = self.lingering.popleft()
            if old not in self.open:
                self.conns.remove(old)

    def settle(self, flow: UdpFlow) -> None:
        """A UDP flow closed: its last traffic into the table."""
        if flow.ib or flow.ob:
            self.conns.account(flow.entry, flow.ib, flow.ip, flow.ob, flow.op)
            flow.ib = flow.ob = 0
        if self._closed and not flow.ops:
            self.conns.remove(flow.entry)

    def warn_flows_full(self) -> None:
        now = _monotonic()
        if now - self._flows_warned_at >= 10:
            self._flows_warned_at = now
            self.log.warning(
                "UDP flow table full (%d flows): datagrams from new clients are dropped; raise "
                "userspace.max_udp_flows or shorten the udp timeout (lvsadm --set)",
                len(self.flows),
            )

    # -- housekeeping -------------------------------------------------------

    def _tick(self) -> None:
        try:
            self.housekeeping()
        except Exception:  # pragma: no cover - a bug; keep the data plane alive
            self.log.exception("userspace data plane housekeeping failed")
        if not self._closed:
            self._timer = self.loop.call_later(TICK, self._tick)

    def housekeeping(self, now: float | None = None) -> None:
        """Traffic into the table, the table's timers, and what they ended."""
        if now is None:
            now = _monotonic()
        conns = self.conns
        account = conns.account
        touch = conns.touch
        for entry, client in list(self.open.items()):
            if client.ib or client.ob:
                account(entry, client.ib, client.ip, client.ob, client.op)
                client.ib = client.ip = client.ob = client.op = 0
                touch(entry, now)
        for flow in list(self.flows):
            if flow.ib or flow.ob:
                account(flow.entry, flow.ib, flow.ip, flow.ob, flow.op)
                flow.ib = flow.ip = flow.ob = flow.op = 0
                flow.idle_since = now
                if not flow.ops:
                    touch(flow.entry, now)
        conns.expire(now)
        lookup = conns.lookup
        for entry, client in list(self.open.items()):
            if entry.expires <= now and lookup(
                entry.protocol, entry.caddr, entry.cport, entry.vaddr, entry.vport
            ) is not entry:
                self._expire(client)
        udp_timeout = self.table.timeouts.udp
        for flow in list(self.flows):
            entry = flow.entry
            if flow.ops:
                if now - flow.idle_since >= udp_timeout:
                    flow.close()
            elif entry.expires <= now and lookup(
                entry.protocol, entry.caddr, entry.cport, entry.vaddr, entry.vport
            ) is not entry:
                flow.close()
        for client, deadline in list(self.connecting.items()):
            if deadline <= now and client.task is not None:
                client.timed_out = True
                client.task.cancel()
        lingering = self.lingering
        while lingering and lingering[0].expires <= now:
            lingering.popleft()

    def _expire(self, client: ClientSide) -> None:
        self.counters.expired += 1
        if self.open.get(client.entry) is client:  # type: ignore[arg-type]
            del self.open[client.entry]  # type: ignore[arg-type]
        client.abort()


def _summarise(reasons: list[str]) -> str:
    if len(reasons) == 1:
        return reasons[0]
    return f"{reasons[0]} (and {len(reasons) - 1} more of its sockets failed)"
