"""Stable numbers for services and real servers in the kernel's tables.

Every real server of every service gets a 32-bit *mark* with the top bit
set: the nftables rules write it into the connection's ``ct mark`` (NAT)
or the packet's ``meta mark`` (direct routing) when they schedule it, and
every later lookup — where to send it, whose counter to bump, which
conntrack entries belong to whom — is keyed by it.  Every service gets a
15-bit *number*; its slots live at ``number << 16`` in the shared slot
map, so a slot number never has the top bit of a mark (the rules tell
them apart by it).

Both come from a hash of the service and server identity, so two
directors (and a restarted lvsd) agree, which keeps conntrack entries
synchronised by conntrackd attributable on the new router.  A collision
moves the later-numbered one to the next free value; once given, a number
is never changed or reused by this process.
"""

from __future__ import annotations

import hashlib

from piranha.table.model import ServiceKey

MARK_BIT = 0x80000000
MAX_SERVICES = 0x7FFF  # slot numbers (number << 16) stay below MARK_BIT
DestKey = tuple[ServiceKey, str, int]


def service_text(key: ServiceKey) -> str:
    """``tcp 10.0.0.1:80``, ``udp ...``, ``fwm 80`` — also for log lines."""
    if key.is_fwmark:
        return f"fwm {key.fwmark}"
    return f"{'udp' if key.protocol == 17 else 'tcp'} {key.address}:{key.port}"


def service_slug(key: ServiceKey) -> str:
    """A readable identifier for nft object names: ``tcp_10_0_0_1_80``, ``fwm_80``."""
    if key.is_fwmark:
        return f"fwm_{key.fwmark}"
    proto = "udp" if key.protocol == 17 else "tcp"
    return f"{proto}_{key.address.replace('.', '_')}_{key.port}"


def _hash(text: str, bits: int) -> int:
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") & ((1 << bits) - 1)


class Numbering:
    """Service numbers (1..32767) and real-server marks (0x80000000 | 31 bits)."""

    def __init__(self) -> None:
        self._services: dict[ServiceKey, int] = {}
        self._service_owner: dict[int, ServiceKey] = {}
        self._marks: dict[DestKey, int] = {}
        self._mark_owner: dict[int, DestKey] = {}

    def service(self, key: ServiceKey) -> int:
        number = self._services.get(key)
        if number is not None:
            return number
        if len(self._service_owner) >= MAX_SERVICES:
            raise OverflowError(f"more than {MAX_SERVICES} virtual services")
        number = _hash(service_text(key), 15) or 1
        while number in self._service_owner:
            number = number % MAX_SERVICES + 1
        self._services[key] = number
        self._service_owner[number] = key
        return number

    def mark(self, key: ServiceKey, address: str, port: int) -> int:
        dkey = (key, address, port)
        mark = self._marks.get(dkey)
        if mark is not None:
            return mark
        low = _hash(f"{service_text(key)}|{address}:{port}", 31) or 1
        while (MARK_BIT | low) in self._mark_owner:
            low = low % 0x7FFFFFFF + 1
        mark = MARK_BIT | low
        self._marks[dkey] = mark
        self._mark_owner[mark] = dkey
        return mark

    def owner(self, mark: int) -> DestKey | None:
        """Which service and real server a mark was given to."""
        return self._mark_owner.get(mark)
