"""Real servers on loopback for the health tests, with switchable misbehaviour.

``TcpServer`` modes (set ``.mode`` at any time; new connections follow it):

* ``reply``   read the request, wait ``delay``, answer ``reply``, close
* ``banner``  answer ``reply`` at once on connect (FTP/SMTP style), then read
* ``fragments`` send ``fragments`` [(delay, bytes), ...] then close
* ``hang``    accept and never answer
* ``reset``   accept and reset the connection (RST)
* ``close``   accept and close at once

``stop()`` closes the listener (connections are refused); ``start()``
listens again on the same port.  ``UdpServer`` modes: ``echo``, ``reply``,
``silent``; stopping it makes the port unreachable (ICMP).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct


class TcpServer:
    def __init__(self, mode: str = "reply", reply: bytes = b"HTTP/1.0 200 OK\r\n\r\n") -> None:
        self.mode = mode
        self.reply = reply
        self.delay = 0.0
        self.fragments: list[tuple[float, bytes]] = []
        self.port = 0
        self.connections = 0
        self.requests: list[bytes] = []
        self._server: asyncio.AbstractServer | None = None
        self._handlers: set[asyncio.Task] = set()

    @property
    def address(self) -> str:
        return "127.0.0.1"

    async def start(self) -> TcpServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        self.port = sock.getsockname()[1]
        self._server = await asyncio.start_server(self._handle, sock=sock)
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self.connections += 1
        try:
            await self._behave(reader, writer)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._handlers.discard(task)
            if self.mode != "reset":
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()

    async def _behave(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        mode = self.mode
        if mode == "reset":
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
        elif mode == "close":
            return
        elif mode == "hang":
            await asyncio.sleep(3600)
        elif mode == "banner":
            writer.write(self.reply)
            await writer.drain()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    self.requests.append(await reader.read(4096))
        elif mode == "fragments":
            for delay, chunk in self.fragments:
                await asyncio.sleep(delay)
                writer.write(chunk)
                await writer.drain()
        else:  # reply
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.5):
                    self.requests.append(await reader.read(4096))
            await asyncio.sleep(self.delay)
            writer.write(self.reply)
            await writer.drain()


class UdpServer(asyncio.DatagramProtocol):
    def __init__(self, mode: str = "echo", reply: bytes = b"pong") -> None:
        self.mode = mode
        self.reply = reply
        self.port = 0
        self.received: list[bytes] = []
        self._transport: asyncio.DatagramTransport | None = None

    @property
    def address(self) -> str:
        return "127.0.0.1"

    async def start(self) -> UdpServer:
        loop = asyncio.get_running_loop()
        self._transport, _ = await loop.create_datagram_endpoint(
            lambda: self, local_addr=("127.0.0.1", self.port)
        )
        self.port = self._transport.get_extra_info("sockname")[1]
        return self

    async def stop(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    def datagram_received(self, data: bytes, addr) -> None:
        self.received.append(data)
        if self._transport is None or self.mode == "silent":
            return
        self._transport.sendto(data if self.mode == "echo" else self.reply, addr)


class Blackhole:
    """A listener whose accept queue is full: further connects hang (SYNs dropped).

    ``with Blackhole() as port: ...``; closes everything on exit.
    """

    def __enter__(self) -> int:
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(0)
        port = self.listener.getsockname()[1]
        self.fillers = []
        for _ in range(4):  # fill the queue (backlog 0 still admits one or two)
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port))
            self.fillers.append(s)
        return port

    def __exit__(self, *exc: object) -> None:
        for s in self.fillers:
            s.close()
        self.listener.close()


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
