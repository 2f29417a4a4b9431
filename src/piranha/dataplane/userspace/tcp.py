"""One proxied TCP connection: the client's side, the real server's side, and the table entry.

A connection accepted on a virtual service's port is scheduled at once by
the table (``ConnectionTable.schedule``: persistence, scheduler, weights,
thresholds).  No destination: the client gets a reset (SO_LINGER 0) at
once.  Otherwise we connect to the chosen real server; whatever the client
sends meanwhile is held (bounded: reading pauses above the high-water
mark; under uvloop data can arrive even after ``pause_reading`` in
``connection_made``, which is why it is held rather than refused).

Relaying is two ``asyncio.Protocol`` objects writing into each other's
transport.  Backpressure: when one transport's write buffer passes the
high-water mark (``pause_writing``) the other side stops reading, and
resumes below the low-water mark, so no buffer grows without bound.
End of file one way is passed on with ``write_eof`` while the other way
stays open (half-close); a reset from either side becomes a reset on the
other (SO_LINGER 0 then ``abort``).

Table bookkeeping follows IPVS (see :mod:`.tcpstates`): SYN_RECV while the
real server is being reached (InActConn), ESTABLISHED once it accepted
(ActiveConn), then CLOSE_WAIT / FIN_WAIT / TIME_WAIT / CLOSE as ends of
file and resets arrive.  Byte and "packet" counters (a packet here is one
read: the kernel's segments are invisible to a proxy) are kept on the
connection and handed to the table by the engine's housekeeping, not per
read, to keep the hot path to a write and two additions.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time
from typing import TYPE_CHECKING

from piranha.table.model import IPPROTO_TCP

from . import tcpstates
from .proxyproto import header_v2

if TYPE_CHECKING:  # pragma: no cover
    from piranha.table.model import Connection

    from .engine import Listener, ProxyEngine

_LINGER_RESET = struct.pack("ii", 1, 0)
_monotonic = time.monotonic

# Why the client side is not being read (a bit each; reading resumes when none is left).
PAUSE_BACKPRESSURE = 1  # the real server's write buffer is full
PAUSE_HELD = 2  # too much held while the real server is being reached
PAUSE_NO_DEST = 4  # the real server was removed: IPVS drops the client's packets


def reset(transport: asyncio.BaseTransport) -> None:
    """Close with a TCP reset rather than a FIN."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
    transport.abort()  # type: ignore[attr-defined]


class ClientSide(asyncio.Protocol):
    """The accepted connection; owns the table entry and the connection's state."""

    __slots__ = (
        "client_closing",
        "client_eof",
        "client_open",
        "engine",
        "entry",
        "held",
        "held_size",
        "ib",
        "ip",
        "listener",
        "ob",
        "op",
        "paused",
        "server",
        "server_closing",
        "server_eof",
        "server_transport",
        "task",
        "timed_out",
        "transport",
    )

    def __init__(self, listener: Listener) -> None:
        self.listener = listener
        self.engine: ProxyEngine = listener.engine
        self.transport: asyncio.Transport | None = None
        self.server: ServerSide | None = None
        self.server_transport: asyncio.Transport | None = None
        self.entry: Connection | None = None
        self.held: list[bytes] | None = None
        self.held_size = 0
        self.task: asyncio.Task[None] | None = None
        self.paused = 0
        self.client_open = True
        self.client_closing = False
        self.client_eof = False
        self.server_closing = False
        self.server_eof = False
        self.timed_out = False
        # traffic not yet handed to the table: in = from the client, out = to it
        self.ib = self.ip = self.ob = self.op = 0

    # -- client transport events -------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        engine = self.engine
        listener = self.listener
        peer = transport.get_extra_info("peername")
        if peer is None:
            # reset before we got to it (uvloop asks getpeername() only now)
            engine.counters.gone_before_accept += 1
            self.client_closing = True
            transport.abort()  # type: ignore[attr-defined]
            return
        svc = listener.svc
        now = _monotonic()
        entry = None
        if svc is not None:
            entry = engine.conns.schedule(
                svc, IPPROTO_TCP, peer[0], peer[1], listener.address, listener.port, now
            )
        # An entry bound to a removed real server (a lingering one reused, or a
        # service deleted before converge ran): IPVS would drop the SYN.
        if entry is None or not entry.dest.available:  # type: ignore[union-attr]
            engine.counters.no_destination += 1
            self.client_closing = True
            reset(transport)
            return
        self.entry = entry
        if entry.state != tcpstates.sSR:
            # a new connection on the 5-tuple of a closed one that still lingers
            # (its template kept it): the kernel reuses the entry the same way
            engine.conns.set_state(entry, tcpstates.INPUT["syn"][entry.state], now)
        engine.open[entry] = self
        if engine.write_limits is not None:
            transport.set_write_buffer_limits(*engine.write_limits)  # type: ignore[attr-defined]
        engine.connecting[self] = now + engine.settings.connect_timeout
        loop = engine.loop
        self.task = loop.create_task(open_upstream(self, loop, entry.daddr, entry.dport))

    def data_received(self, data: bytes) -> None:
        st = self.server_transport
        if st is None:
            self._hold(data)
            return
        st.write(data)
        self.ib += len(data)
        self.ip += 1

    def eof_received(self) -> bool:
        if self.client_eof:
            return True  # a transport resumed after EOF reports it again
        self.client_eof = True
        st = self.server_transport
        if st is not None and not self.server_closing:
            # (before the real server answered, the FIN waits for it, state included)
            self._set_state(tcpstates.CLIENT_FIN)
            if self.server_eof:
                self._finish()  # both ways done: close() sends the FIN, no shutdown() first
            else:
                st.write_eof()
        return True  # keep our sending half open for the real server's answer

    def connection_lost(self, exc: Exception | None) -> None:
        self.client_open = False
        self.client_closing = True
        if self.entry is None:
            return  # refused at once (no destination)
        if self.task is not None:
            self.task.cancel()  # still connecting: nobody is left to talk to
        if not self.server_closing and self.server_transport is not None:
            # the client went away without the orderly double FIN: pass a reset on
            self._set_state(tcpstates.CLIENT_RST)
            self.server_closing = True
            reset(self.server_transport)
        elif exc is not None:
            self._set_state(tcpstates.CLIENT_RST)
        self._maybe_done()

    def pause_writing(self) -> None:
        # the client reads slower than the real server sends
        st = self.server_transport
        if st is not None and not (self.server_closing or self.server_eof):
            st.pause_reading()

    def resume_writing(self) -> None:
        st = self.server_transport
        if st is not None and not (self.server_closing or self.server_eof):
            st.resume_reading()

    # -- the real server's side ---------------------------------------------

    def server_connected(self, server: ServerSide, transport: asyncio.Transport) -> None:
        self.task = None
        self.server = server
        self.server_transport = transport
        engine = self.engine
        engine.connecting.pop(self, None)
        if self.client_closing:
            self.server_closing = True
            reset(transport)
            return
        if engine.write_limits is not None:
            transport.set_write_buffer_limits(*engine.write_limits)
        entry = self.entry
        assert entry is not None
        self._set_state(tcpstates.CONNECTED)
        svc = entry.service
        if svc is not None and svc.proxy_protocol:
            client = self.transport.get_extra_info("peername")  # type: ignore[union-attr]
            transport.write(header_v2(client, (entry.vaddr, entry.vport)))
        held = self.held
        if held is not None:
            self.held = None
            transport.writelines(held)
            self.ib += self.held_size
            self.ip += len(held)
            self.held_size = 0
            if self.paused & PAUSE_HELD:
                self.unpause(PAUSE_HELD)
        if self.client_eof:
            self._set_state(tcpstates.CLIENT_FIN)
            transport.write_eof()

    def server_failed(self, exc: BaseException) -> None:
        """The connect to the real server failed or timed out: the client gets a reset."""
        self.task = None
        engine = self.engine
        engine.connecting.pop(self, None)
        if self.client_closing:
            self._maybe_done()
            return
        engine.counters.connect_failed += 1
        entry = self.entry
        if engine.log.isEnabledFor(10) and entry is not None:
            engine.log.debug(
                "connection from %s:%d to %s:%d failed: %s",
                entry.caddr, entry.cport, entry.daddr, entry.dport, exc or "timed out",
            )
        self._set_state(tcpstates.SERVER_RST)
        self.client_closing = True
        reset(self.transport)  # type: ignore[arg-type]

    def server_eof_received(self) -> None:
        if self.server_eof:
            return
        self.server_eof = True
        self._set_state(tcpstates.SERVER_FIN)
        if self.client_eof:
            self._finish()  # both ways done: close() sends the FIN, no shutdown() first
        elif not self.client_closing:
            self.transport.write_eof()  # type: ignore[union-attr]

    def server_lost(self, exc: Exception | None) -> None:
        self.server_closing = True
        self.server_transport = None
        self.server = None
        if not self.client_closing:
            self._set_state(tcpstates.SERVER_RST)
            self.client_closing = True
            reset(self.transport)  # type: ignore[arg-type]
        elif exc is not None:
            self._set_state(tcpstates.SERVER_RST)
        self._maybe_done()

    # -- helpers -------------------------------------------------------------

    def _hold(self, data: bytes) -> None:
        """Data that arrived before the real server answered."""
        if self.held is None:
            self.held = [data]
        else:
            self.held.append(data)
        self.held_size += len(data)
        if self.held_size > self.engine.settings.high_water and not self.paused & PAUSE_HELD:
            self.pause(PAUSE_HELD)

    def pause(self, reason: int) -> None:
        was = self.paused
        self.paused = was | reason
        if not was and not (self.client_closing or self.client_eof):
            self.transport.pause_reading()  # type: ignore[union-attr]

    def unpause(self, reason: int) -> None:
        was = self.paused
        self.paused = was & ~reason
        if was and not self.paused and not (self.client_closing or self.client_eof):
            self.transport.resume_reading()  # type: ignore[union-attr]

    def _set_state(self, event: dict[str, str]) -> None:
        entry = self.entry
        if entry is not None:
            self.engine.conns.set_state(entry, event[entry.state], _monotonic())

    def _finish(self) -> None:
        """Both sides sent their FIN: close both (queued data is still delivered)."""
        if not self.client_closing:
            self.client_closing = True
            self.transport.close()  # type: ignore[union-attr]
        if not self.server_closing and self.server_transport is not None:
            self.server_closing = True
            self.server_transport.close()

    def _maybe_done(self) -> None:
        if not self.client_open and self.server_transport is None and self.task is None:
            self.engine.release(self)

    def abort(self) -> None:
        """End the connection with resets on both sides (expiry, removal, shutdown)."""
        if self.task is not None:
            self.task.cancel()
        if not self.server_closing and self.server_transport is not None:
            self.server_closing = True
            reset(self.server_transport)
        if not self.client_closing and self.transport is not None:
            self.client_closing = True
            reset(self.transport)


class ServerSide(asyncio.Protocol):
    """The connection to the real server; forwards everything to its :class:`ClientSide`."""

    __slots__ = ("client", "transport")

    def __init__(self, client: ClientSide) -> None:
        self.client = client
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.client.server_connected(self, transport)  # type: ignore[arg-type]

    def data_received(self, data: bytes) -> None:
        c = self.client
        c.transport.write(data)  # type: ignore[union-attr]
        c.ob += len(data)
        c.op += 1

    def eof_received(self) -> bool:
        self.client.server_eof_received()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.client.server_lost(exc)

    def pause_writing(self) -> None:
        # the real server reads slower than the client sends
        self.client.pause(PAUSE_BACKPRESSURE)

    def resume_writing(self) -> None:
        self.client.unpause(PAUSE_BACKPRESSURE)


async def open_upstream(client: ClientSide, loop: asyncio.AbstractEventLoop, host: str, port: int) -> None:
    """Reach the real server for ``client`` (a task; the engine enforces the connect timeout)."""
    try:
        await loop.create_connection(lambda: ServerSide(client), host, port)
    except asyncio.CancelledError:
        if client.timed_out:
            client.server_failed(TimeoutError("connect timed out"))
        else:  # the client went away first
            client.task = None
            client.engine.connecting.pop(client, None)
            client._maybe_done()
    except OSError as exc:
        client.server_failed(exc)
