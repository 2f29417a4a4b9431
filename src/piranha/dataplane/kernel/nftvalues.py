"""The bytes of nftables set keys and map data, as the kernel's registers hold them.

Each field of a concatenation occupies whole 32-bit registers, so it is
padded to a multiple of 4 bytes.  Addresses, ports and the protocol number
are in network byte order (they come from packet headers); marks and the
results of ``numgen``/``jhash`` are host-order 32-bit integers.
"""

from __future__ import annotations

import socket
import struct
import sys

_HOST_U32 = struct.Struct("=I")


def ipv4(address: str) -> bytes:
    return socket.inet_aton(address)


def u32(value: int) -> bytes:
    """A mark, or a numgen/jhash result: 32 bits in host byte order."""
    return _HOST_U32.pack(value & 0xFFFFFFFF)


def port(value: int) -> bytes:
    """A transport port as a concatenation field: 2 bytes network order, padded."""
    return struct.pack(">H", value) + b"\0\0"


def l4proto(value: int) -> bytes:
    """``meta l4proto`` as a concatenation field: 1 byte, padded."""
    return bytes((value,)) + b"\0\0\0"


def concat(*fields: bytes) -> bytes:
    return b"".join(f + b"\0" * (-len(f) % 4) for f in fields)


def read_u32(raw: bytes) -> int:
    return _HOST_U32.unpack(raw[:4])[0]


def read_ipv4(raw: bytes) -> str:
    return socket.inet_ntoa(raw[:4])


def read_port(raw: bytes) -> int:
    return struct.unpack(">H", raw[:2])[0]


LITTLE_ENDIAN = sys.byteorder == "little"
