"""nf_tables netlink messages, byte for byte against nf_tables.h / nfnetlink.h."""

from __future__ import annotations

import socket
import struct

from piranha.dataplane.kernel import nftvalues as v
from piranha.dataplane.kernel.nfnetlink import (
    Element,
    ElementChange,
    Verdict,
    decode_element,
    encode_batch,
    encode_element,
)


def attr(kind: int, payload: bytes, nested: bool = False) -> bytes:
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind | (0x8000 if nested else 0)) + payload + b"\0" * (-length % 4)


def test_set_element_with_a_key_only():
    # NFTA_LIST_ELEM { NFTA_SET_ELEM_KEY { NFTA_DATA_VALUE <4 bytes> } }
    expected = attr(1, attr(1, attr(1, b"\x01\x00\x00\x80"), nested=True), nested=True)
    assert encode_element(Element(v.u32(0x80000001))) == expected
    assert expected.hex() == "10000180" "0c000180" "08000100" "01000080"


def test_map_element_with_a_verdict():
    got = encode_element(Element(v.u32(7), Verdict("goto", "svc_a")))
    verdict = attr(2, attr(1, struct.pack(">i", -4)) + attr(2, b"svc_a\0"), nested=True)
    expected = attr(1, attr(1, attr(1, v.u32(7)), nested=True) + attr(2, verdict, nested=True), nested=True)
    assert got == expected


def test_concatenations_pad_each_field_to_a_register():
    key = v.concat(v.ipv4("10.0.0.100"), v.l4proto(6), v.port(80))
    assert key == bytes([10, 0, 0, 100, 6, 0, 0, 0, 0, 80, 0, 0])
    assert v.concat(v.ipv4("10.1.0.1"), v.port(8080)) == bytes([10, 1, 0, 1, 0x1F, 0x90, 0, 0])


def test_a_batch_is_begin_messages_end():
    data, seqs = encode_batch(
        [ElementChange("add", "ip", "piranha", "slots", [Element(v.u32(1), v.u32(2))])], first_seq=100
    )
    msgs = []
    offset = 0
    while offset < len(data):
        length, kind, flags, seq, _pid = struct.unpack_from("=IHHII", data, offset)
        family, version, res_id = struct.unpack_from("=BBH", data, offset + 16)
        msgs.append((kind, flags, seq, family, version, socket.ntohs(res_id)))
        offset += length
    assert msgs[0] == (0x10, 1, 100, 0, 0, 10)  # NFNL_MSG_BATCH_BEGIN, res_id NFNL_SUBSYS_NFTABLES
    assert msgs[1] == ((10 << 8) | 12, 1 | 4 | 0x400, 101, 2, 0, 0)  # NEWSETELEM, ip
    assert msgs[2] == (0x11, 1, 102, 0, 0, 10)
    assert [s for s, _ in seqs] == [101]


def test_large_changes_are_split_into_messages_of_one_batch():
    elements = [Element(v.u32(i), v.u32(i)) for i in range(5000)]
    data, seqs = encode_batch([ElementChange("delete", "netdev", "piranha", "flows_udp", elements)])
    assert len(seqs) > 1
    kinds = []
    offset = 0
    while offset < len(data):
        length, kind = struct.unpack_from("=IH", data, offset)
        kinds.append(kind)
        assert length < 65536
        offset += length
    assert kinds[0] == 0x10 and kinds[-1] == 0x11
    assert set(kinds[1:-1]) == {(10 << 8) | 14}  # DELSETELEM


def test_decoding_a_dumped_element_with_timeout_and_counter():
    counter = attr(1, b"counter\0") + attr(2, attr(1, struct.pack(">Q", 1500)) + attr(2, struct.pack(">Q", 12)), nested=True)
    raw = (
        attr(1, attr(1, b"\x0a\x00\x00\x02"), nested=True)
        + attr(2, attr(1, v.u32(0x80000002)), nested=True)
        + attr(4, struct.pack(">Q", 300000))
        + attr(5, struct.pack(">Q", 299000))
        + attr(7, counter, nested=True)
    )
    el = decode_element(memoryview(raw))
    assert v.read_ipv4(el.key) == "10.0.0.2"
    assert v.read_u32(el.data) == 0x80000002
    assert (el.timeout_ms, el.expires_ms, el.packets, el.bytes) == (300000, 299000, 12, 1500)
