"""Real servers, clients and a proxy on loopback for the userspace data plane tests.

Every test picks its own loopback addresses (all of 127/8 is local on
Linux) so parallel workers never collide on a port.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
import time
from collections.abc import AsyncIterator, Callable

from piranha.dataplane.base import BackendOptions
from piranha.dataplane.userspace import UserspaceBackend
from piranha.table.model import Forward, Service, ServiceKey, VirtualTable

_rng = random.Random(os.getpid() ^ int(time.time() * 1000))


def loopback() -> str:
    """A fresh 127.x.y.z address (not 127.0.0.1)."""
    return f"127.{_rng.randint(1, 254)}.{_rng.randint(1, 254)}.{_rng.randint(1, 254)}"


def free_port(address: str, kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((address, 0))
        return s.getsockname()[1]


def free_range(address: str, count: int) -> int:
    """The first port of ``count`` consecutive ports that are free on ``address``."""
    for _ in range(100):
        base = _rng.randint(20000, 60000 - count)
        socks = []
        try:
            for port in range(base, base + count):
                s = socket.socket()
                socks.append(s)
                s.bind((address, port))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise AssertionError("no free port range")


def fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


async def eventually(check: Callable[[], bool], timeout: float = 5.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.01)


class RealServer:
    """A TCP real server that says its name, then echoes; it remembers what it saw."""

    def __init__(self, name: str, address: str | None = None, *, greet: bool = True) -> None:
        self.name = name
        self.address = address or loopback()
        self.port = 0
        self.greet = greet
        self.server: asyncio.AbstractServer | None = None
        self.extra: list[asyncio.AbstractServer] = []
        self.writers: list[asyncio.StreamWriter] = []
        self.first_bytes: list[bytes] = []
        self.accepted = 0
        self.eof_seen = 0
        self.on_connect: Callable[[asyncio.StreamReader, asyncio.StreamWriter], object] | None = None

    async def start(self, ports: list[int] | None = None) -> RealServer:
        """Listen on one OS-chosen port, or on each of ``ports`` (then ``port`` is 0)."""
        if ports is None:
            self.server = await asyncio.start_server(self._handle, self.address, 0)
            self.port = self.server.sockets[0].getsockname()[1]
        else:
            self.extra = [await asyncio.start_server(self._handle, self.address, p) for p in ports]
        return self

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self.writers.append(writer)
        if self.on_connect is not None:
            await self.on_connect(reader, writer)  # type: ignore[misc]
            return
        if self.greet:
            writer.write(f"{self.name}\n".encode())
        first = True
        try:
            while True:
                data = await reader.read(65536)
                if first:
                    self.first_bytes.append(data)
                    first = False
                if not data:
                    self.eof_seen += 1
                    writer.write_eof()
                    break
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass

    async def close(self) -> None:
        for server in [self.server, *self.extra]:
            if server is not None:
                server.close()
        for w in self.writers:
            w.transport.abort()


class UdpRealServer(asyncio.DatagramProtocol):
    """A UDP real server answering ``name:payload`` to every datagram."""

    def __init__(self, name: str, address: str | None = None) -> None:
        self.name = name
        self.address = address or loopback()
        self.port = 0
        self.received: list[tuple[bytes, tuple[str, int]]] = []
        self.transport: asyncio.DatagramTransport | None = None

    async def start(self) -> UdpRealServer:
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: self, local_addr=(self.address, 0))
        assert self.transport is not None
        self.port = self.transport.get_extra_info("sockname")[1]
        return self

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        self.received.append((data, addr))
        assert self.transport is not None
        self.transport.sendto(self.name.encode() + b":" + data, addr)

    async def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def add_service(
    table: VirtualTable,
    key: ServiceKey,
    scheduler: str,
    servers: list,
    weights: list[int] | None = None,
    **options,
) -> Service:
    """A service whose destination list is ``servers`` in that order (the table adds at the head)."""
    name = options.pop("name", None)
    match = options.pop("match", ())
    proxy_protocol = options.pop("proxy_protocol", False)
    thresholds = options.pop("thresholds", None)
    svc = table.add_service(key, scheduler, **options)
    svc.name, svc.match, svc.proxy_protocol = name, tuple(match), proxy_protocol
    weights = weights or [1] * len(servers)
    for i in range(len(servers) - 1, -1, -1):
        upper, lower = thresholds[i] if thresholds else (0, 0)
        table.add_dest(
            key, servers[i].address, servers[i].port, weight=weights[i], forward=Forward.MASQ,
            u_threshold=upper, l_threshold=lower,
        )
    return svc


@contextlib.asynccontextmanager
async def started_proxy(table: VirtualTable, **settings) -> AsyncIterator[UserspaceBackend]:
    """The backend in this process and event loop, started (not converged); stopped afterwards."""
    extra = {"userspace.in_process": "1"}
    extra.update({f"userspace.{k}": str(v) for k, v in settings.items()})
    backend = UserspaceBackend(table, BackendOptions(extra=extra))
    await backend.start()
    try:
        yield backend
    finally:
        await backend.stop()


@contextlib.asynccontextmanager
async def running_proxy(table: VirtualTable, **settings) -> AsyncIterator[UserspaceBackend]:
    """The backend in this process and event loop, converged; stopped afterwards."""
    async with started_proxy(table, **settings) as backend:
        await backend.converge()
        yield backend


async def connect(address: str, port: int, source: str | None = None):
    return await asyncio.open_connection(
        address, port, local_addr=(source, 0) if source else None
    )


async def who(address: str, port: int, source: str | None = None) -> str:
    """Connect, read the real server's name, close."""
    reader, writer = await connect(address, port, source)
    try:
        line = await asyncio.wait_for(reader.readline(), 5)
    finally:
        writer.close()
    return line.decode().strip()


async def outcome(address: str, port: int, source: str | None = None) -> str:
    """What a client gets: "reset", "eof", or the first line of the answer."""
    reader, writer = await connect(address, port, source)
    try:
        data = await asyncio.wait_for(reader.readline(), 5)
    except ConnectionResetError:
        return "reset"
    finally:
        writer.close()
    return data.decode().strip() if data else "eof"


def dest(svc: Service, server) -> object:
    found = svc.find(server.address, server.port)
    assert found is not None
    return found
