"""PROXY protocol version 2 headers (haproxy's doc/proxy-protocol.txt, section 2.2).

A userspace proxy hides the client's address from the real servers; this
header, sent as the first bytes of every connection to a real server
(``proxy_protocol = 1`` in lvs.cf), gives it back to servers that read it
(nginx ``listen ... proxy_protocol``, HAProxy ``accept-proxy``, Postfix,
Dovecot...).  For UDP the same header is prepended to every datagram, as
datagram receivers of the protocol (dnsdist/PowerDNS, Envoy) expect, with
the DGRAM transport byte.

Layout for IPv4 (28 bytes): the 12-byte signature, 0x21 (version 2,
command PROXY), 0x11 (AF_INET, STREAM) or 0x12 (AF_INET, DGRAM), the
address length 12 (network order), then source address, destination
address, source port, destination port, all in network order.  No TLVs.
"""

from __future__ import annotations

import socket
import struct

SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
VERSION_2_PROXY = 0x21
INET_STREAM = 0x11
INET_DGRAM = 0x12
_IPV4 = struct.Struct("!12sBBH4s4sHH")


def header_v2(client: tuple[str, int], virtual: tuple[str, int], *, datagram: bool = False) -> bytes:
    """The header for a connection from ``client`` to ``virtual`` (address, port)."""
    return _IPV4.pack(
        SIGNATURE,
        VERSION_2_PROXY,
        INET_DGRAM if datagram else INET_STREAM,
        12,
        socket.inet_aton(client[0]),
        socket.inet_aton(virtual[0]),
        client[1],
        virtual[1],
    )
