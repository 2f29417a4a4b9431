"""The kernel's ``hsiphash`` as built on 64-bit machines (x86_64), for mh.

``lib/siphash.c``: with ``BITS_PER_LONG == 64`` the "half" SipHash is really
SipHash-1-3 (one compression round per 8-byte block, three finalisation
rounds) with two 64-bit key words, truncated to 32 bits.  32-bit kernels
run HalfSipHash-1-3 instead and would build different Maglev tables; the
64-bit variant is what every current director runs.  Checked against the
kernel's own test vectors (lib/siphash_kunit.c) in the tests.
"""

from __future__ import annotations

MASK64 = 0xFFFFFFFFFFFFFFFF


def _rounds(v0: int, v1: int, v2: int, v3: int, n: int) -> tuple[int, int, int, int]:
    for _ in range(n):
        v0 = (v0 + v1) & MASK64
        v1 = ((v1 << 13) | (v1 >> 51)) & MASK64
        v1 ^= v0
        v0 = ((v0 << 32) | (v0 >> 32)) & MASK64
        v2 = (v2 + v3) & MASK64
        v3 = ((v3 << 16) | (v3 >> 48)) & MASK64
        v3 ^= v2
        v0 = (v0 + v3) & MASK64
        v3 = ((v3 << 21) | (v3 >> 43)) & MASK64
        v3 ^= v0
        v2 = (v2 + v1) & MASK64
        v1 = ((v1 << 17) | (v1 >> 47)) & MASK64
        v1 ^= v2
        v2 = ((v2 << 32) | (v2 >> 32)) & MASK64
    return v0, v1, v2, v3


def hsiphash(data: bytes, key: tuple[int, int]) -> int:
    """32-bit hsiphash of ``data`` (any length) under the 2 x 64-bit ``key``."""
    k0, k1 = key
    v0 = 0x736F6D6570736575 ^ k0
    v1 = 0x646F72616E646F6D ^ k1
    v2 = 0x6C7967656E657261 ^ k0
    v3 = 0x7465646279746573 ^ k1
    full = len(data) - len(data) % 8
    for i in range(0, full, 8):
        m = int.from_bytes(data[i : i + 8], "little")
        v3 ^= m
        v0, v1, v2, v3 = _rounds(v0, v1, v2, v3, 1)
        v0 ^= m
    b = ((len(data) & 0xFF) << 56) | int.from_bytes(data[full:], "little")
    return _finish(v0, v1, v2, v3, b)


def hsiphash_u32(value: int, key: tuple[int, int]) -> int:
    """``hsiphash(&v, 4, key)`` of a host-order u32 on a little-endian machine."""
    k0, k1 = key
    b = (4 << 56) | (value & 0xFFFFFFFF)
    return _finish(
        0x736F6D6570736575 ^ k0,
        0x646F72616E646F6D ^ k1,
        0x6C7967656E657261 ^ k0,
        0x7465646279746573 ^ k1,
        b,
    )


def _finish(v0: int, v1: int, v2: int, v3: int, b: int) -> int:
    v3 ^= b
    v0, v1, v2, v3 = _rounds(v0, v1, v2, v3, 1)
    v0 ^= b
    v2 ^= 0xFF
    v0, v1, v2, v3 = _rounds(v0, v1, v2, v3, 3)
    return (v0 ^ v1 ^ v2 ^ v3) & 0xFFFFFFFF
