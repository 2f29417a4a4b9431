"""A small generic-netlink client: resolve a family, send a command, read the answers."""

from __future__ import annotations

import os
import socket
import struct
import threading

from .messages import attr, parse

NETLINK_GENERIC = 16
GENL_ID_CTRL = 0x10
CTRL_CMD_GETFAMILY = 3
CTRL_ATTR_FAMILY_ID = 1
CTRL_ATTR_FAMILY_NAME = 2
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = 0x1, 0x4, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3

_HDR = struct.Struct("=IHHII")
_GENL = struct.Struct("=BBH")


class GenlError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def genl_message(family_id: int, cmd: int, version: int, payload: bytes, seq: int, flags: int) -> bytes:
    """One generic-netlink request: nlmsghdr, genlmsghdr, attributes."""
    body = _GENL.pack(cmd, version, 0) + payload
    return _HDR.pack(_HDR.size + len(body), family_id, flags, seq, 0) + body


class GenlSocket:
    """Requests to one generic-netlink family (thread-safe, one at a time)."""

    def __init__(self, family: str, version: int) -> None:
        self.version = version
        self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
        self._sock.bind((0, 0))
        self._seq = int.from_bytes(os.urandom(2), "big")
        self._lock = threading.Lock()
        self.family_id = GENL_ID_CTRL
        answer = self._talk(CTRL_CMD_GETFAMILY, attr(CTRL_ATTR_FAMILY_NAME, family.encode() + b"\0"), False, 1)
        if not answer or CTRL_ATTR_FAMILY_ID not in answer[0]:
            raise GenlError(2, f"the kernel has no generic netlink family {family!r}")
        self.family_id = struct.unpack("=H", answer[0][CTRL_ATTR_FAMILY_ID][:2])[0]

    def close(self) -> None:
        self._sock.close()

    def request(self, cmd: int, payload: bytes = b"", *, dump: bool = False) -> list[dict[int, memoryview]]:
        return self._talk(cmd, payload, dump, self.version)

    def _talk(self, cmd: int, payload: bytes, dump: bool, version: int) -> list[dict[int, memoryview]]:
        with self._lock:
            self._seq = (self._seq + 1) & 0x7FFFFFFF
            seq = self._seq
            flags = NLM_F_REQUEST | (NLM_F_DUMP if dump else NLM_F_ACK)
            self._sock.send(genl_message(self.family_id, cmd, version, payload, seq, flags))
            out: list[dict[int, memoryview]] = []
            while True:
                buf = self._sock.recv(1 << 20)
                offset = 0
                while offset + _HDR.size <= len(buf):
                    length, kind, _flags, rseq, _pid = _HDR.unpack_from(buf, offset)
                    if length < _HDR.size:
                        break
                    body = memoryview(buf)[offset + _HDR.size : offset + length]
                    offset += (length + 3) & ~3
                    if rseq != seq:
                        continue
                    if kind == NLMSG_DONE:
                        return out
                    if kind == NLMSG_ERROR:
                        code = -struct.unpack_from("=i", body)[0]
                        if code:
                            raise GenlError(code, os.strerror(code))
                        return out  # the ACK of a command
                    out.append(parse(body[_GENL.size :]))
                    if not dump:
                        continue
