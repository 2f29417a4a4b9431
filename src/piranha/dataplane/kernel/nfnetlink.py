"""nf_tables set elements over netlink: atomic batches and dumps.

libnftables refreshes its whole cache (every table, chain, set and object
of the machine) before each command, which costs milliseconds per
thousand objects, and then evaluates each element at tens of
microseconds.  The changes the load balancer makes most — weights,
health checks, re-weighting from connection counts, adding a real server —
are all set-element changes, so they are sent here directly as one
netlink batch (``NFNL_MSG_BATCH_BEGIN`` … ``BATCH_END``): the kernel
applies a batch all or nothing, like an nft transaction.  Chains, rules
and set declarations still go through nft's language (:mod:`.libnft`).

The layout follows ``include/uapi/linux/netfilter/nf_tables.h`` and
``nfnetlink.h``; the values of set keys and data are built by
:mod:`.nftvalues`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import struct
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

NETLINK_NETFILTER = 12
NETLINK_EXT_ACK = 11
NETLINK_CAP_ACK = 10
SOL_NETLINK = 270

NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLM_F_ROOT = 0x100
NLM_F_MATCH = 0x200
NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH
NLM_F_CREATE = 0x400
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLMSGERR_ATTR_MSG = 1
NLM_F_ACK_TLVS = 0x200  # in an error message's flags: extended ack attributes follow

NFNL_SUBSYS_NFTABLES = 10
NFNL_MSG_BATCH_BEGIN = 0x10
NFNL_MSG_BATCH_END = 0x11

NFT_MSG_NEWSETELEM = 12
NFT_MSG_GETSETELEM = 13
NFT_MSG_DELSETELEM = 14
NFT_MSG_DESTROYSETELEM = 30  # kernel >= 6.3: delete, but a missing element is no error

NFTA_SET_ELEM_LIST_TABLE = 1
NFTA_SET_ELEM_LIST_SET = 2
NFTA_SET_ELEM_LIST_ELEMENTS = 3
NFTA_LIST_ELEM = 1
NFTA_SET_ELEM_KEY = 1
NFTA_SET_ELEM_DATA = 2
NFTA_SET_ELEM_FLAGS = 3
NFTA_SET_ELEM_TIMEOUT = 4
NFTA_SET_ELEM_EXPIRATION = 5
NFTA_SET_ELEM_EXPR = 7
NFTA_SET_ELEM_EXPRESSIONS = 11
NFTA_DATA_VALUE = 1
NFTA_DATA_VERDICT = 2
NFTA_VERDICT_CODE = 1
NFTA_VERDICT_CHAIN = 2
NFTA_EXPR_NAME = 1
NFTA_EXPR_DATA = 2
NFTA_COUNTER_BYTES = 1
NFTA_COUNTER_PACKETS = 2
NLA_F_NESTED = 1 << 15
NLA_TYPE_MASK = ~((1 << 15) | (1 << 14)) & 0xFFFF

NFT_JUMP = -3
NFT_GOTO = -4

FAMILIES = {"ip": 2, "netdev": 5, "inet": 1}

_HDR = struct.Struct("=IHHII")
_NFGEN = struct.Struct("=BBH")
_ATTR = struct.Struct("=HH")
# one NEWSETELEM message carries elements up to this size (nla_len is 16 bits)
_MAX_ELEMENTS_BYTES = 60000


class NetlinkError(Exception):
    """The kernel refused a batch (nothing of it was applied) or a dump."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Verdict:
    """Map data that is a verdict: ``goto CHAIN`` / ``jump CHAIN``."""

    kind: str  # "goto" | "jump"
    chain: str


@dataclass(frozen=True, slots=True)
class Element:
    key: bytes
    data: bytes | Verdict | None = None


@dataclass(slots=True)
class ElementChange:
    """Add, delete or destroy elements of one set; part of a batch."""

    op: str  # "add" | "delete" | "destroy"
    family: str
    table: str
    set: str
    elements: list[Element] = field(default_factory=list)


@dataclass(slots=True)
class DumpedElement:
    key: bytes
    data: bytes | None = None
    verdict: Verdict | None = None
    timeout_ms: int | None = None
    expires_ms: int | None = None
    packets: int | None = None  # the element's counter, if the set has one
    bytes: int | None = None


def _align(n: int) -> int:
    return (n + 3) & ~3


def _attr(kind: int, payload: bytes) -> bytes:
    length = _ATTR.size + len(payload)
    return _ATTR.pack(length, kind) + payload + b"\0" * (_align(length) - length)


def _nested(kind: int, parts: Iterable[bytes]) -> bytes:
    return _attr(kind | NLA_F_NESTED, b"".join(parts))


def _string(kind: int, value: str) -> bytes:
    return _attr(kind, value.encode() + b"\0")


def _data(value: bytes | Verdict) -> bytes:
    if isinstance(value, Verdict):
        code = NFT_GOTO if value.kind == "goto" else NFT_JUMP
        return _nested(
            NFTA_DATA_VERDICT,
            (
                _attr(NFTA_VERDICT_CODE, struct.pack(">i", code)),
                _string(NFTA_VERDICT_CHAIN, value.chain),
            ),
        )
    return _attr(NFTA_DATA_VALUE, value)


_HEADERS: dict[tuple[int, int], tuple[bytes, bytes, bytes, bytes, bytes]] = {}


def _headers(klen: int, dlen: int) -> tuple[bytes, bytes, bytes, bytes, bytes]:
    """Attribute headers and padding of an element whose key and value have these sizes."""
    found = _HEADERS.get((klen, dlen))
    if found is None:
        kval = _ATTR.size + klen
        key = _ATTR.pack(_ATTR.size + _align(kval), NFTA_SET_ELEM_KEY | NLA_F_NESTED) + _ATTR.pack(kval, NFTA_DATA_VALUE)
        kpad = b"\0" * (_align(kval) - kval)
        body = _ATTR.size + _align(kval)
        data = dpad = b""
        if dlen >= 0:
            dval = _ATTR.size + dlen
            data = _ATTR.pack(_ATTR.size + _align(dval), NFTA_SET_ELEM_DATA | NLA_F_NESTED) + _ATTR.pack(dval, NFTA_DATA_VALUE)
            dpad = b"\0" * (_align(dval) - dval)
            body += _ATTR.size + _align(dval)
        head = _ATTR.pack(_ATTR.size + body, NFTA_LIST_ELEM | NLA_F_NESTED)
        found = _HEADERS[(klen, dlen)] = (head + key, kpad, data, dpad, b"")
    return found


def encode_element(element: Element) -> bytes:
    """One ``NFTA_LIST_ELEM``: the key, and the data of a map element."""
    data = element.data
    if isinstance(data, Verdict):
        parts = [_nested(NFTA_SET_ELEM_KEY, (_attr(NFTA_DATA_VALUE, element.key),))]
        parts.append(_nested(NFTA_SET_ELEM_DATA, (_data(data),)))
        return _nested(NFTA_LIST_ELEM, parts)
    # the common shapes (plain values) from cached headers: this runs per element
    head, kpad, dhead, dpad, _ = _headers(len(element.key), -1 if data is None else len(data))
    if data is None:
        return head + element.key + kpad
    return b"".join((head, element.key, kpad, dhead, data, dpad))


def _message(msg_type: int, flags: int, seq: int, family: int, payload: bytes, res_id: int = 0) -> bytes:
    body = _NFGEN.pack(family, 0, socket.htons(res_id)) + payload
    return _HDR.pack(_HDR.size + len(body), msg_type, flags, seq, 0) + body


def encode_batch(changes: list[ElementChange], first_seq: int = 1) -> tuple[bytes, list[tuple[int, ElementChange]]]:
    """The bytes of one batch, and which sequence number carries which change.

    Deletions come first in the order given, so a key can be deleted and
    added again (a changed value) in one batch.
    """
    seq = first_seq
    out = [_message(NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, seq, 0, b"", NFNL_SUBSYS_NFTABLES)]
    seqs: list[tuple[int, ElementChange]] = []
    for change in changes:
        msg_kind = {
            "add": NFT_MSG_NEWSETELEM,
            "delete": NFT_MSG_DELSETELEM,
            "destroy": NFT_MSG_DESTROYSETELEM,
        }[change.op]
        flags = NLM_F_REQUEST | NLM_F_ACK | (NLM_F_CREATE if change.op == "add" else 0)
        family = FAMILIES[change.family]
        head = _string(NFTA_SET_ELEM_LIST_TABLE, change.table) + _string(
            NFTA_SET_ELEM_LIST_SET, change.set
        )
        for chunk in _chunks(encode_element(e) for e in change.elements):
            seq += 1
            payload = head + _nested(NFTA_SET_ELEM_LIST_ELEMENTS, chunk)
            out.append(_message((NFNL_SUBSYS_NFTABLES << 8) | msg_kind, flags, seq, family, payload))
            seqs.append((seq, change))
    seq += 1
    out.append(_message(NFNL_MSG_BATCH_END, NLM_F_REQUEST, seq, 0, b"", NFNL_SUBSYS_NFTABLES))
    return b"".join(out), seqs


def _chunks(encoded: Iterable[bytes]) -> Iterator[list[bytes]]:
    chunk: list[bytes] = []
    size = 0
    for item in encoded:
        if chunk and size + len(item) > _MAX_ELEMENTS_BYTES:
            yield chunk
            chunk, size = [], 0
        chunk.append(item)
        size += len(item)
    if chunk:
        yield chunk


def parse_attrs(buf: bytes | memoryview, offset: int = 0, end: int | None = None) -> dict[int, memoryview]:
    """Attributes at ``buf[offset:end]`` by type (the last one wins)."""
    view = memoryview(buf)
    end = len(view) if end is None else end
    found: dict[int, memoryview] = {}
    while offset + _ATTR.size <= end:
        length, kind = _ATTR.unpack_from(view, offset)
        if length < _ATTR.size:
            break
        found[kind & NLA_TYPE_MASK] = view[offset + _ATTR.size : offset + length]
        offset += _align(length)
    return found


def iter_attrs(buf: memoryview) -> Iterator[tuple[int, memoryview]]:
    offset = 0
    while offset + _ATTR.size <= len(buf):
        length, kind = _ATTR.unpack_from(buf, offset)
        if length < _ATTR.size:
            break
        yield kind & NLA_TYPE_MASK, buf[offset + _ATTR.size : offset + length]
        offset += _align(length)


def _cstring(view: memoryview) -> str:
    return bytes(view).split(b"\0", 1)[0].decode(errors="replace")


def decode_element(view: memoryview) -> DumpedElement:
    attrs = parse_attrs(view)
    key = parse_attrs(attrs[NFTA_SET_ELEM_KEY]).get(NFTA_DATA_VALUE, memoryview(b""))
    element = DumpedElement(key=bytes(key))
    data = attrs.get(NFTA_SET_ELEM_DATA)
    if data is not None:
        inner = parse_attrs(data)
        if NFTA_DATA_VALUE in inner:
            element.data = bytes(inner[NFTA_DATA_VALUE])
        elif NFTA_DATA_VERDICT in inner:
            verdict = parse_attrs(inner[NFTA_DATA_VERDICT])
            code = struct.unpack(">i", verdict[NFTA_VERDICT_CODE])[0]
            chain = _cstring(verdict[NFTA_VERDICT_CHAIN]) if NFTA_VERDICT_CHAIN in verdict else ""
            element.verdict = Verdict("goto" if code == NFT_GOTO else "jump", chain)
    if NFTA_SET_ELEM_TIMEOUT in attrs:
        element.timeout_ms = struct.unpack(">Q", attrs[NFTA_SET_ELEM_TIMEOUT])[0]
    if NFTA_SET_ELEM_EXPIRATION in attrs:
        element.expires_ms = struct.unpack(">Q", attrs[NFTA_SET_ELEM_EXPIRATION])[0]
    exprs: list[memoryview] = []
    if NFTA_SET_ELEM_EXPR in attrs:
        exprs.append(attrs[NFTA_SET_ELEM_EXPR])
    if NFTA_SET_ELEM_EXPRESSIONS in attrs:
        exprs.extend(v for k, v in iter_attrs(attrs[NFTA_SET_ELEM_EXPRESSIONS]) if k == NFTA_LIST_ELEM)
    for expr in exprs:
        e = parse_attrs(expr)
        if NFTA_EXPR_NAME in e and _cstring(e[NFTA_EXPR_NAME]) == "counter":
            c = parse_attrs(e.get(NFTA_EXPR_DATA, memoryview(b"")))
            element.packets = struct.unpack(">Q", c[NFTA_COUNTER_PACKETS])[0] if NFTA_COUNTER_PACKETS in c else 0
            element.bytes = struct.unpack(">Q", c[NFTA_COUNTER_BYTES])[0] if NFTA_COUNTER_BYTES in c else 0
    return element


class NfTablesSocket:
    """A netlink socket for nf_tables set elements.  Thread-safe (one call at a time)."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        self._sock.bind((0, 0))
        for opt in (NETLINK_EXT_ACK, NETLINK_CAP_ACK):
            with contextlib.suppress(OSError):  # older kernels: plain acks
                self._sock.setsockopt(SOL_NETLINK, opt, 1)
        self._set_buffer(socket.SO_RCVBUF, 8 << 20)
        self._seq = int.from_bytes(os.urandom(2), "big") << 8
        self._lock = threading.Lock()
        self.last_kernel_seconds = 0.0  # send() to the last ack of the last batch

    def _set_buffer(self, option: int, size: int) -> None:
        force = {socket.SO_SNDBUF: 32, socket.SO_RCVBUF: 33}[option]  # SO_*BUFFORCE
        try:
            self._sock.setsockopt(socket.SOL_SOCKET, force, size)
        except OSError:
            self._sock.setsockopt(socket.SOL_SOCKET, option, size)

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> NfTablesSocket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def apply(self, changes: list[ElementChange]) -> None:
        """Apply all ``changes`` in one batch, or none of them (NetlinkError)."""
        changes = [c for c in changes if c.elements]
        if not changes:
            return
        with self._lock:
            first = self._next_seq(len(changes) * 2 + 2)
            data, seqs = encode_batch(changes, first)
            # netlink refuses a message larger than the send buffer (EMSGSIZE)
            if len(data) + 65536 > self._sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) // 2:
                self._set_buffer(socket.SO_SNDBUF, len(data) + 65536)
            sent = time.perf_counter()
            self._sock.send(data)
            # the kernel runs the whole batch inside send(); every answer is queued now
            errors = self._drain_acks()
            self.last_kernel_seconds = time.perf_counter() - sent
        if errors:
            by_seq = dict(seqs)
            code, seq, text = errors[0]
            change = by_seq.get(seq)
            where = f" to set {change.set!r} ({change.op})" if change is not None else ""
            detail = f": {text}" if text else ""
            raise NetlinkError(
                code, f"nftables refused the change{where}: {os.strerror(code)}{detail}"
            )

    def dump(self, family: str, table: str, set_name: str) -> list[DumpedElement]:
        """Every element of one set (``NFT_MSG_GETSETELEM`` dump)."""
        payload = _string(NFTA_SET_ELEM_LIST_TABLE, table) + _string(NFTA_SET_ELEM_LIST_SET, set_name)
        with self._lock:
            seq = self._next_seq(1)
            msg = _message(
                (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETSETELEM,
                NLM_F_REQUEST | NLM_F_DUMP,
                seq,
                FAMILIES[family],
                payload,
            )
            self._sock.send(msg)
            out: list[DumpedElement] = []
            while True:
                buf = self._sock.recv(1 << 20)
                for kind, _flags, _seq, body in _messages(buf):
                    if kind == NLMSG_DONE:
                        return out
                    if kind == NLMSG_ERROR:
                        code = -struct.unpack_from("=i", body)[0]
                        if code == 0:
                            continue
                        raise NetlinkError(
                            code, f"cannot read nftables set {set_name!r}: {os.strerror(code)}"
                        )
                    attrs = parse_attrs(body, _NFGEN.size)
                    elements = attrs.get(NFTA_SET_ELEM_LIST_ELEMENTS)
                    if elements is None:
                        continue
                    for k, v in iter_attrs(elements):
                        if k == NFTA_LIST_ELEM:
                            out.append(decode_element(v))

    def _next_seq(self, count: int) -> int:
        first = self._seq + 1
        self._seq = (self._seq + count + 1) & 0x7FFFFFFF
        return first

    def _drain_acks(self) -> list[tuple[int, int, str]]:
        errors: list[tuple[int, int, str]] = []
        while True:
            try:
                buf = self._sock.recv(1 << 20, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return errors
            except InterruptedError:  # pragma: no cover
                continue
            for kind, flags, _seq, body in _messages(buf):
                if kind != NLMSG_ERROR:
                    continue
                code = -struct.unpack_from("=i", body)[0]
                if code == 0:
                    continue
                orig_seq = _HDR.unpack_from(body, 4)[3]
                text = ""
                if flags & NLM_F_ACK_TLVS:
                    orig_len = _HDR.unpack_from(body, 4)[0]
                    # with NETLINK_CAP_ACK only the original header is echoed
                    offset = 4 + (_HDR.size if orig_len > _HDR.size else orig_len)
                    tlvs = parse_attrs(body, _align(offset))
                    if NLMSGERR_ATTR_MSG in tlvs:
                        text = _cstring(tlvs[NLMSGERR_ATTR_MSG])
                errors.append((code or errno.EIO, orig_seq, text))


def _messages(buf: bytes) -> Iterator[tuple[int, int, int, memoryview]]:
    view = memoryview(buf)
    offset = 0
    while offset + _HDR.size <= len(view):
        length, kind, flags, seq, _pid = _HDR.unpack_from(view, offset)
        if length < _HDR.size:
            break
        yield kind, flags, seq, view[offset + _HDR.size : offset + length]
        offset += _align(length)
