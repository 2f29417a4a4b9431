"""UDP virtual services: one socket on the VIP, one connected socket per client flow.

A datagram from a client the engine has not seen (address and port) is
scheduled by the table like a new connection (state UDP, the ``udp``
timeout).  The flow gets its own UDP socket connected to the chosen real
server, so the real server's answers come back on it and are sent to the
client from the VIP socket, with the VIP as their source.  The flow lives
as long as its table entry: traffic either way restarts the entry's timer,
and when it expires the socket is closed.

Limits: at most ``userspace.max_udp_flows`` flows (each is a file
descriptor); datagrams of new clients beyond that are dropped and counted
(``udp_flows_full``), existing flows are never evicted, so a flood of
spoofed sources cannot push real clients out.  A datagram that cannot be
queued (socket buffer full) is dropped, as a router would.  While the
flow's real server is removed (but its entry not yet expired) the client's
datagrams are dropped, as IPVS drops them.  With one-packet scheduling
(``ipvsadm -o``) every datagram is scheduled on its own; flows are then
per client and real server and expire by themselves after the udp timeout.

With ``proxy_protocol`` every datagram towards the real server starts with
a PROXY v2 header (family/transport byte 0x12, UDP over IPv4).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from typing import TYPE_CHECKING

from piranha.table.model import IPPROTO_UDP

from .proxyproto import header_v2

if TYPE_CHECKING:  # pragma: no cover
    from piranha.table.model import Connection

    from .engine import ProxyEngine

_monotonic = time.monotonic
MAX_DATAGRAM = 65535
READ_BATCH = 64  # datagrams read per wakeup before giving others a turn


class UdpEndpoint(asyncio.DatagramProtocol):
    """The socket on the VIP:port of a UDP service (or a port of a fwmark group)."""

    def __init__(self, engine: ProxyEngine, key, address: str, port: int) -> None:
        self.engine = engine
        self.key = key
        self.address = address
        self.port = port
        self.transport: asyncio.DatagramTransport | None = None
        self.flows: dict[object, UdpFlow] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        flow = self.flows.get(addr)
        if flow is None or flow.ops:
            flow = self._new_flow(addr)
            if flow is None:
                return
        elif not flow.entry.dest.available:  # type: ignore[union-attr]
            self.engine.counters.udp_dropped += 1
            return
        flow.send(data)

    def error_received(self, exc: Exception) -> None:
        pass  # ICMP errors about clients are not ours to act on

    def _new_flow(self, addr: tuple[str, int]) -> UdpFlow | None:
        engine = self.engine
        svc = engine.table.services.get(self.key)
        if svc is None:
            return None
        ops = svc.ops
        if not ops and len(engine.flows) >= engine.settings.max_udp_flows:
            engine.counters.udp_flows_full += 1
            engine.warn_flows_full()
            return None
        entry = engine.conns.schedule(
            svc, IPPROTO_UDP, addr[0], addr[1], self.address, self.port, _monotonic()
        )
        if entry is None:
            engine.counters.no_destination += 1
            return None
        if ops:
            # one-packet scheduling: the entry is gone already; reuse a flow to that server
            key = (addr, entry.daddr, entry.dport)
            flow = self.flows.get(key)
            if flow is not None:
                flow.entry = entry
                return flow
            if len(engine.flows) >= engine.settings.max_udp_flows:
                engine.counters.udp_flows_full += 1
                engine.warn_flows_full()
                return None
        else:
            key = addr
            old = self.flows.get(key)
            if old is not None:
                old.close()
        try:
            flow = UdpFlow(self, key, addr, entry, ops, svc.proxy_protocol)
        except OSError as exc:
            engine.counters.connect_failed += 1
            engine.log.debug("UDP flow from %s:%d to %s:%d failed: %s",
                             addr[0], addr[1], entry.daddr, entry.dport, exc)
            if not ops:
                engine.conns.remove(entry)
            return None
        self.flows[key] = flow
        engine.flows[flow] = None
        return flow

    def close(self) -> None:
        for flow in list(self.flows.values()):
            flow.close()
        if self.transport is not None:
            self.transport.close()


class UdpFlow:
    """One client's traffic through one socket connected to its real server."""

    __slots__ = (
        "addr", "closed", "endpoint", "entry", "fd", "header", "ib", "idle_since", "ip",
        "key", "ob", "op", "ops", "sock",
    )

    def __init__(
        self,
        endpoint: UdpEndpoint,
        key: object,
        addr: tuple[str, int],
        entry: Connection,
        ops: bool,
        proxy_protocol: bool,
    ) -> None:
        self.endpoint = endpoint
        self.key = key
        self.addr = addr
        self.entry = entry
        self.ops = ops
        self.closed = False
        self.ib = self.ip = self.ob = self.op = 0
        self.idle_since = _monotonic()
        self.header = (
            header_v2(addr, (endpoint.address, endpoint.port), datagram=True)
            if proxy_protocol
            else b""
        )
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            sock.connect((entry.daddr, entry.dport))
            endpoint.engine.loop.add_reader(sock.fileno(), self._readable)
        except BaseException:
            sock.close()
            raise
        self.sock = sock
        self.fd = sock.fileno()

    def send(self, data: bytes) -> None:
        try:
            self.sock.send(self.header + data if self.header else data)
        except (BlockingIOError, InterruptedError):
            self.endpoint.engine.counters.udp_dropped += 1
            return
        except OSError:
            return  # e.g. ECONNREFUSED left by an ICMP port unreachable: the datagram went
        self.ib += len(data)
        self.ip += 1

    def _readable(self) -> None:
        transport = self.endpoint.transport
        if transport is None or transport.is_closing():
            return
        if transport.get_write_buffer_size() > self.endpoint.engine.settings.high_water:
            # the VIP socket cannot keep up: drop rather than queue without bound
            self.endpoint.engine.counters.udp_dropped += 1
            with contextlib.suppress(OSError):
                self.sock.recv(MAX_DATAGRAM)
            return
        recv = self.sock.recv
        for _ in range(READ_BATCH):
            try:
                data = recv(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue  # an ICMP error from the real server; nothing to forward
            transport.sendto(data, self.addr)
            self.ob += len(data)
            self.op += 1

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        engine = self.endpoint.engine
        engine.loop.remove_reader(self.fd)
        self.sock.close()
        if self.endpoint.flows.get(self.key) is self:
            del self.endpoint.flows[self.key]
        engine.flows.pop(self, None)
        engine.settle(self)
