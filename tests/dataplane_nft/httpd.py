"""A real server for tests: HTTP/1.1 (keep-alive) answering its own name.

    python httpd.py NAME PORT [ADDRESS]      prints "ready" once listening

Every response body is ``NAME\\n``; ``GET /slow`` waits a second first, ``GET /hold``
2.5 seconds (connections that stay open while the table changes).  Also answers UDP
datagrams on the same port with ``NAME``.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import sys

NAME = sys.argv[1].encode()
PORT = int(sys.argv[2])
ADDRESS = sys.argv[3] if len(sys.argv) > 3 else "0.0.0.0"
BODY = NAME + b"\n"
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nContent-Type: text/plain\r\n\r\n%s" % (
    len(BODY),
    BODY,
)


class Http(asyncio.Protocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
            first = head.split(b"\r\n", 1)[0]
            close = b"connection: close" in head.lower() or first.endswith(b"HTTP/1.0")
            delay = 1.0 if b" /slow " in first else 2.5 if b" /hold " in first else 0.0
            if delay:
                asyncio.get_running_loop().call_later(delay, self._answer, close)
            else:
                self._answer(close)

    def _answer(self, close: bool) -> None:
        if self.transport.is_closing():
            return
        self.transport.write(RESPONSE)
        if close:
            self.transport.close()


IP_PKTINFO = 8


def serve_udp(loop: asyncio.AbstractEventLoop) -> socket.socket:
    """UDP answers come from the address the datagram was sent to (IP_PKTINFO).

    Like any UDP server behind direct routing must: the client waits for
    an answer from the virtual IP, not from the real server's own address.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_IP, IP_PKTINFO, 1)
    sock.bind((ADDRESS, PORT))
    sock.setblocking(False)

    def readable() -> None:
        try:
            _data, ancdata, _flags, peer = sock.recvmsg(2048, 256)
        except BlockingIOError:
            return
        control = []
        for level, kind, payload in ancdata:
            if level == socket.SOL_IP and kind == IP_PKTINFO:
                _ifindex, local, _dst = struct.unpack("I4s4s", payload[:12])
                control = [(socket.SOL_IP, IP_PKTINFO, struct.pack("I4s4s", 0, local, b"\0" * 4))]
        sock.sendmsg([NAME], control, 0, peer)

    loop.add_reader(sock.fileno(), readable)
    return sock


async def main() -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Http, ADDRESS, PORT, reuse_address=True, backlog=4096)
    udp = serve_udp(loop)  # noqa: F841 - kept open while serving
    print("ready", flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
