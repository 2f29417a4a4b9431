"""Addresses, ports and numbers as ipvsadm reads and prints them.

Parsing follows ipvsadm.c (``parse_service``, ``parse_netmask``,
``string_to_number``, ``parse_fwmark``) including its C library behaviour:
``inet_aton`` accepts ``10.1`` for 10.0.0.1, numbers go through ``strtol``
(leading blanks and a sign are fine, trailing text is not).

Names are looked up through a :class:`Resolver`.  This package does no I/O:
the default resolver knows no names at all, so ``run()`` without one prints
numbers and accepts only numeric addresses and ports; the ``lvsadm``
command and ``lvsd`` pass a resolver that asks the system.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass
from typing import Protocol

from ..model import IPPROTO_TCP, IPPROTO_UDP

IPPROTO_SCTP = 132
AF_INET = 4
AF_INET6 = 6

PROTOCOL_SERVICE_NAMES = {IPPROTO_TCP: "tcp", IPPROTO_UDP: "udp", IPPROTO_SCTP: "sctp"}

_STRTOL = re.compile(r"[ \t\n\v\f\r]*([+-]?[0-9]+)\Z")


class Resolver(Protocol):
    """Name lookups for non-numeric input and output (everything without ``-n``)."""

    def host(self, address: str) -> str | None:
        """Reverse lookup of an IPv4 address (``gethostbyaddr``); None if unknown."""

    def service(self, port: int, proto: int) -> str | None:
        """Service name of a port (``getservbyport``, proto 6/17/132); None if unknown."""

    def address(self, name: str) -> str | None:
        """IPv4 address of a host name (``gethostbyname``); None if unknown."""

    def port(self, name: str, proto: int) -> int | None:
        """Port of a service name (``getservbyname``); None if unknown."""


class NumericResolver:
    """Knows no names: what ``run()`` uses when it is given no resolver."""

    def host(self, address: str) -> str | None:
        return None

    def service(self, port: int, proto: int) -> str | None:
        return None

    def address(self, name: str) -> str | None:
        return None

    def port(self, name: str, proto: int) -> int | None:
        return None


NUMERIC = NumericResolver()


@dataclass(frozen=True, slots=True)
class Endpoint:
    """An address (and maybe a port) as parse_service read it."""

    af: int
    address: str
    port: int | None  # None: no ":port" given


def strtol(text: str) -> int | None:
    """``strtol(text, &end, 10)`` that must consume the whole string."""
    match = _STRTOL.match(text)
    return int(match.group(1)) if match else None


def string_to_number(text: str, low: int, high: int) -> int:
    """ipvsadm's string_to_number: the value, or -1 if invalid or out of range."""
    value = strtol(text)
    if value is None or not low <= value <= high:
        return -1
    return value


def parse_fwmark(text: str) -> int | None:
    value = strtol(text)
    if value is None or value <= 0 or value > 0xFFFFFFFF:
        return None
    return value


def inet_aton(text: str) -> str | None:
    """The C library's inet_aton, as a canonical dotted quad (``10.1`` -> ``10.0.0.1``)."""
    try:
        return socket.inet_ntoa(socket.inet_aton(text))
    except (OSError, ValueError):
        return None


def inet6(text: str) -> str | None:
    try:
        return socket.inet_ntop(socket.AF_INET6, socket.inet_pton(socket.AF_INET6, text))
    except (OSError, ValueError):
        return None


def _str_is_digit(text: str) -> bool:
    # ipvsadm's str_is_digit is also true for the empty string
    return all("0" <= ch <= "9" for ch in text)


def service_to_port(name: str, proto: int, resolver: Resolver) -> int | None:
    if proto not in PROTOCOL_SERVICE_NAMES:
        return None
    return resolver.port(name, proto)


def parse_service(text: str, proto: int, resolver: Resolver) -> Endpoint | None:
    """``host[:port]`` (host a name, dotted quad or ``[ipv6]``), or None if illegal."""
    if _str_is_digit(text):
        return None
    host = text
    port_text: str | None = None
    if host.startswith("["):
        body = host[1:]
        close = body.find("]")
        if close < 0:
            return None
        after = body[close + 1 :]
        if not after.startswith(":"):
            return None
        host, port_text = body[:close], after[1:]
    address = inet6(host)
    af = AF_INET6
    if address is None:
        af = AF_INET
        # the IPv4 branch looks for the port again, inside the host part
        colon = host.rfind(":")
        if colon >= 0:
            host, port_text = host[:colon], host[colon + 1 :]
        else:
            port_text = None
        address = inet_aton(host) or (resolver.address(host) if host else None)
        if address is None:
            return None
    port: int | None = None
    if port_text is not None:
        port = string_to_number(port_text, 0, 65535)
        if port == -1:
            port = service_to_port(port_text, proto, resolver)
            if port is None:
                return None
    return Endpoint(af, address, port)


def parse_netmask(text: str, resolver: Resolver) -> str | None:
    return inet_aton(text) or (resolver.address(text) if text else None)


# -- output -------------------------------------------------------------------

_ADDRPORT_MAX = 59  # addrport_to_anyname writes into a 60-byte buffer


def addrport(address: str, port: int, proto: int, numeric: bool, resolver: Resolver) -> str:
    """addrport_to_anyname: ``addr:port`` or ``host:service``."""
    if numeric:
        text = f"{address}:{port}"
    else:
        host = resolver.host(address) or address
        service = None
        if proto in PROTOCOL_SERVICE_NAMES:
            service = resolver.service(port, proto)
        text = f"{host}:{service or port}"
    return text[:_ADDRPORT_MAX]
