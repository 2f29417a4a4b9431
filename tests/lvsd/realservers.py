"""Small real servers for the process tests, each answering with its own name.

TCP: a request starting with ``GET `` gets an HTTP/1.0 answer whose body is
the name, then the connection closes (what health checks and curl see);
anything else is a line protocol: every line comes back as
``<name>:<line>``, on the same connection for as long as the client
keeps it (long-lived connections).  UDP: every datagram is answered with
the name.  Threads, so the servers run beside lvsd's process and the
test's own code without an event loop.  ``stop()`` closes the listener
(and, with ``drop=True``, the open connections); ``start()`` listens
again on the same port.
"""

from __future__ import annotations

import contextlib
import socket
import threading


class TcpServer:
    def __init__(self, name: str, address: str = "127.0.0.1", port: int = 0) -> None:
        self.name = name
        self.address = address
        self.port = port
        self.accepted = 0
        self._sock: socket.socket | None = None
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.start()

    def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.address, self.port))
        sock.listen(128)
        self.port = sock.getsockname()[1]
        self._sock = sock
        threading.Thread(target=self._accept, args=(sock,), daemon=True).start()

    def stop(self, drop: bool = False) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        if drop:
            with self._lock:
                conns, self._conns = list(self._conns), set()
            for conn in conns:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()

    def _accept(self, sock: socket.socket) -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            self.accepted += 1
            with self._lock:
                self._conns.add(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            data = conn.recv(4096)
            if data.startswith(b"GET ") or data.startswith(b"HEAD "):
                body = self.name.encode()
                conn.sendall(
                    b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "
                    + str(len(body)).encode()
                    + b"\r\n\r\n"
                    + body
                )
                return
            buffer = data
            while True:
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    conn.sendall(self.name.encode() + b":" + line + b"\n")
                chunk = conn.recv(4096)
                if not chunk:
                    return
                buffer += chunk
        except OSError:
            pass
        finally:
            with self._lock:
                self._conns.discard(conn)
            conn.close()


class UdpServer:
    def __init__(self, name: str, address: str = "127.0.0.1", port: int = 0) -> None:
        self.name = name
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((address, port))
        self.port = self.sock.getsockname()[1]
        self.received = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                data, peer = self.sock.recvfrom(65536)
            except OSError:
                return
            self.received += 1
            with contextlib.suppress(OSError):
                self.sock.sendto(self.name.encode() + b":" + data, peer)

    def stop(self) -> None:
        self.sock.close()


def http_get(address: str, port: int, *, source: str | None = None, timeout: float = 5.0) -> str:
    """One request on a fresh connection; the body (the real server's name)."""
    with socket.create_connection(
        (address, port), timeout=timeout, source_address=(source, 0) if source else None
    ) as sock:
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.0 200"):
        raise AssertionError(f"unexpected answer from {address}:{port}: {data[:80]!r}")
    return body.decode()


def rst_close(sock: socket.socket) -> None:
    """Close with a reset (SO_LINGER 0): the entry goes to CLOSE (10 s), not TIME_WAIT (120 s)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()


class LineClient:
    """A long-lived connection speaking the line protocol."""

    def __init__(self, address: str, port: int, *, timeout: float = 5.0) -> None:
        self.sock = socket.create_connection((address, port), timeout=timeout)
        self._buffer = b""

    def ask(self, text: str) -> str:
        self.sock.sendall(text.encode() + b"\n")
        while b"\n" not in self._buffer:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("the connection was closed")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode()

    def close(self) -> None:
        self.sock.close()


def udp_ask(address: str, port: int, text: str, sock: socket.socket | None = None) -> str:
    own = sock is None
    sock = sock or socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.settimeout(5.0)
        sock.sendto(text.encode(), (address, port))
        data, _ = sock.recvfrom(65536)
        return data.decode()
    finally:
        if own:
            sock.close()
