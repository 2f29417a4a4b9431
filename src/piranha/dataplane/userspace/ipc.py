"""Messages between lvsd and its proxy worker: length-prefixed pickles over a socketpair.

Pickle is safe here because the only peer is our own child process on a
``socketpair()`` created for it and inherited by it; nothing else can
connect.  Both sides run the same piranha, so the format needs no version.
"""

from __future__ import annotations

import asyncio
import pickle
import socket
import struct
from typing import Any

_LENGTH = struct.Struct("!I")
MAX_FRAME = 256 * 1024 * 1024  # a snapshot of a million entries fits


def frame(message: Any) -> bytes:
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(body)) + body


async def receive(reader: asyncio.StreamReader) -> Any:
    """The next message, or None at end of file."""
    try:
        head = await reader.readexactly(_LENGTH.size)
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    (length,) = _LENGTH.unpack(head)
    if length > MAX_FRAME:
        raise ValueError(f"proxy worker message of {length} bytes is too large")
    try:
        body = await reader.readexactly(length)
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    return pickle.loads(body)


def receive_blocking(sock: socket.socket) -> Any:
    """The next message from a blocking socket (its timeout applies); EOFError at end of file."""
    (length,) = _LENGTH.unpack(_read_exactly(sock, _LENGTH.size))
    if length > MAX_FRAME:
        raise ValueError(f"proxy worker message of {length} bytes is too large")
    return pickle.loads(_read_exactly(sock, length))


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    chunks = []
    while size:
        chunk = sock.recv(min(size, 1 << 20))
        if not chunk:
            raise EOFError("the proxy worker closed the connection")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)
