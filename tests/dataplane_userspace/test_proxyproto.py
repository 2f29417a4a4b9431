"""PROXY protocol v2 headers, checked against a parser written from the spec and known bytes."""

from __future__ import annotations

import socket
import struct

from hypothesis import given
from hypothesis import strategies as st

from piranha.dataplane.userspace.proxyproto import SIGNATURE, header_v2

_COMMANDS = {0x0: "LOCAL", 0x1: "PROXY"}
_FAMILIES = {0x11: "TCP4", 0x12: "UDP4", 0x21: "TCP6", 0x22: "UDP6", 0x00: "UNSPEC"}


def parse_v2(data: bytes) -> dict:
    """A receiver per doc/proxy-protocol.txt section 2.2 (what nginx or HAProxy would do).

    Raises ValueError for anything the spec says to reject.
    """
    if len(data) < 16 or data[:12] != b"\x0d\x0a\x0d\x0a\x00\x0d\x0a\x51\x55\x49\x54\x0a":
        raise ValueError("no v2 signature")
    ver_cmd, fam, length = data[12], data[13], struct.unpack("!H", data[14:16])[0]
    if ver_cmd >> 4 != 2:
        raise ValueError("version must be 2")
    if ver_cmd & 0xF not in _COMMANDS or fam not in _FAMILIES:
        raise ValueError("unassigned command or family")
    if len(data) < 16 + length:
        raise ValueError("truncated header")
    result = {"command": _COMMANDS[ver_cmd & 0xF], "family": _FAMILIES[fam], "length": 16 + length}
    if fam in (0x11, 0x12):
        if length < 12:
            raise ValueError("address block too short")
        src, dst, sport, dport = struct.unpack("!4s4sHH", data[16:28])
        result["source"] = (socket.inet_ntoa(src), sport)
        result["destination"] = (socket.inet_ntoa(dst), dport)
    return result


def test_known_bytes_from_haproxy():
    # `send-proxy-v2` output captured from HAProxy for 172.19.0.1:42578 -> 172.19.0.3:80
    # (hexdump in seriousben/experiment-proxy-protocol's README)
    haproxy = bytes.fromhex(
        "0d0a0d0a000d0a515549540a2111000cac130001ac130003a6520050"
    )
    assert header_v2(("172.19.0.1", 42578), ("172.19.0.3", 80)) == haproxy


def test_layout_is_the_specs():
    header = header_v2(("192.0.2.1", 1), ("198.51.100.2", 65535))
    assert len(header) == 28
    assert header[:12] == SIGNATURE == b"\r\n\r\n\x00\r\nQUIT\n"
    assert header[12] == 0x21  # version 2, PROXY
    assert header[13] == 0x11  # AF_INET, STREAM
    assert header[14:16] == b"\x00\x0c"  # 12 address bytes follow
    assert header[16:20] == bytes([192, 0, 2, 1])
    assert header[20:24] == bytes([198, 51, 100, 2])
    assert header[24:28] == b"\x00\x01\xff\xff"


def test_datagram_family_byte():
    header = header_v2(("10.0.0.1", 53000), ("10.0.0.100", 53), datagram=True)
    assert header[13] == 0x12
    assert parse_v2(header)["family"] == "UDP4"


_ipv4 = st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t)))
_port = st.integers(0, 65535)


@given(_ipv4, _port, _ipv4, _port, st.booleans())
def test_every_header_parses_back(saddr, sport, daddr, dport, datagram):
    header = header_v2((saddr, sport), (daddr, dport), datagram=datagram)
    assert parse_v2(header + b"payload") == {
        "command": "PROXY",
        "family": "UDP4" if datagram else "TCP4",
        "source": (saddr, sport),
        "destination": (daddr, dport),
        "length": 28,
    }


def test_parser_rejects_what_the_spec_rejects():
    good = header_v2(("10.0.0.1", 1), ("10.0.0.2", 2))
    for bad in (good[:15], b"PROXY TCP4 ...", good[:12] + b"\x31" + good[13:],
                good[:13] + b"\x41" + good[14:], good[:20]):
        try:
            parse_v2(bad)
        except ValueError:
            continue
        raise AssertionError(f"accepted {bad!r}")
