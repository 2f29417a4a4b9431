"""IPVS generic-netlink messages, as ``include/uapi/linux/ip_vs.h`` lays them out.

Pure functions: attributes in, bytes out (and back).  The attribute order
and sizes are those of ipvsadm 1.31's libipvs (``ipvs_nl_fill_service_attr``,
``ipvs_nl_fill_dest_attr``): addresses as a 16-byte ``union nf_inet_addr``,
ports and the netmask in network byte order, the service flags as
``struct ip_vs_flags { flags, mask = ~0 }``.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass, field

from piranha.table.model import Destination, Forward, Service, ServiceKey

IPVS_GENL_NAME = "IPVS"
IPVS_GENL_VERSION = 1

# commands
CMD_NEW_SERVICE, CMD_SET_SERVICE, CMD_DEL_SERVICE, CMD_GET_SERVICE = 1, 2, 3, 4
CMD_NEW_DEST, CMD_SET_DEST, CMD_DEL_DEST, CMD_GET_DEST = 5, 6, 7, 8
CMD_NEW_DAEMON, CMD_DEL_DAEMON, CMD_GET_DAEMON = 9, 10, 11
CMD_SET_CONFIG, CMD_GET_CONFIG = 12, 13
CMD_SET_INFO, CMD_GET_INFO = 14, 15
CMD_ZERO, CMD_FLUSH = 16, 17

# first level
CMD_ATTR_SERVICE, CMD_ATTR_DEST, CMD_ATTR_DAEMON = 1, 2, 3
CMD_ATTR_TIMEOUT_TCP, CMD_ATTR_TIMEOUT_TCP_FIN, CMD_ATTR_TIMEOUT_UDP = 4, 5, 6

# service
SVC_ATTR_AF, SVC_ATTR_PROTOCOL, SVC_ATTR_ADDR, SVC_ATTR_PORT, SVC_ATTR_FWMARK = 1, 2, 3, 4, 5
SVC_ATTR_SCHED_NAME, SVC_ATTR_FLAGS, SVC_ATTR_TIMEOUT, SVC_ATTR_NETMASK = 6, 7, 8, 9
SVC_ATTR_STATS, SVC_ATTR_PE_NAME, SVC_ATTR_STATS64 = 10, 11, 12

# destination
DEST_ATTR_ADDR, DEST_ATTR_PORT, DEST_ATTR_FWD_METHOD, DEST_ATTR_WEIGHT = 1, 2, 3, 4
DEST_ATTR_U_THRESH, DEST_ATTR_L_THRESH = 5, 6
DEST_ATTR_ACTIVE_CONNS, DEST_ATTR_INACT_CONNS, DEST_ATTR_PERSIST_CONNS = 7, 8, 9
DEST_ATTR_STATS, DEST_ATTR_ADDR_FAMILY, DEST_ATTR_STATS64 = 10, 11, 12
DEST_ATTR_TUN_TYPE, DEST_ATTR_TUN_PORT, DEST_ATTR_TUN_FLAGS = 13, 14, 15

# sync daemon
DAEMON_ATTR_STATE, DAEMON_ATTR_MCAST_IFN, DAEMON_ATTR_SYNC_ID = 1, 2, 3

# statistics
STATS_ATTR_CONNS, STATS_ATTR_INPKTS, STATS_ATTR_OUTPKTS, STATS_ATTR_INBYTES, STATS_ATTR_OUTBYTES = 1, 2, 3, 4, 5
STATS_ATTR_CPS, STATS_ATTR_INPPS, STATS_ATTR_OUTPPS, STATS_ATTR_INBPS, STATS_ATTR_OUTBPS = 6, 7, 8, 9, 10

# flags and constants
SVC_F_PERSISTENT = 0x0001
SVC_F_ONEPACKET = 0x0004
SVC_F_SCHED1, SVC_F_SCHED2, SVC_F_SCHED3 = 0x0008, 0x0010, 0x0020
CONN_F_MASQ, CONN_F_LOCALNODE, CONN_F_TUNNEL, CONN_F_DROUTE = 0, 1, 2, 3
STATE_MASTER, STATE_BACKUP = 1, 2
TUNNEL_TYPE_IPIP = 0

FORWARD_CODES = {
    Forward.MASQ: CONN_F_MASQ,
    Forward.LOCAL: CONN_F_LOCALNODE,
    Forward.TUNNEL: CONN_F_TUNNEL,
    Forward.ROUTE: CONN_F_DROUTE,
}
CODE_FORWARDS = {code: fwd for fwd, code in FORWARD_CODES.items()}
SCHED_FLAG_BITS = {
    "flag-1": SVC_F_SCHED1,
    "flag-2": SVC_F_SCHED2,
    "flag-3": SVC_F_SCHED3,
    "sh-fallback": SVC_F_SCHED1,
    "sh-port": SVC_F_SCHED2,
    "mh-fallback": SVC_F_SCHED1,
    "mh-port": SVC_F_SCHED2,
}

NLA_F_NESTED = 1 << 15
_ATTR = struct.Struct("=HH")


def attr(kind: int, payload: bytes) -> bytes:
    length = _ATTR.size + len(payload)
    return _ATTR.pack(length, kind) + payload + b"\0" * (-length % 4)


def nested(kind: int, *parts: bytes) -> bytes:
    return attr(kind | NLA_F_NESTED, b"".join(parts))


def u8(kind: int, value: int) -> bytes:
    return attr(kind, struct.pack("=B", value))


def u16(kind: int, value: int) -> bytes:
    return attr(kind, struct.pack("=H", value))


def be16(kind: int, value: int) -> bytes:
    return attr(kind, struct.pack(">H", value))


def u32(kind: int, value: int) -> bytes:
    return attr(kind, struct.pack("=I", value & 0xFFFFFFFF))


def string(kind: int, value: str) -> bytes:
    return attr(kind, value.encode() + b"\0")


def inet_addr(address: str) -> bytes:
    """``union nf_inet_addr`` for an IPv4 address: 4 bytes, then zeros to 16."""
    return socket.inet_aton(address) + b"\0" * 12


def service_flags(svc: Service) -> int:
    flags = SVC_F_PERSISTENT if svc.persistent else 0
    if svc.ops:
        flags |= SVC_F_ONEPACKET
    for name in svc.sched_flags:
        flags |= SCHED_FLAG_BITS.get(name, 0)
    return flags


def service_id_attrs(key: ServiceKey) -> list[bytes]:
    parts = [u16(SVC_ATTR_AF, socket.AF_INET)]
    if key.fwmark:
        parts.append(u32(SVC_ATTR_FWMARK, key.fwmark))
    else:
        parts += [
            u16(SVC_ATTR_PROTOCOL, key.protocol),
            attr(SVC_ATTR_ADDR, inet_addr(key.address)),
            be16(SVC_ATTR_PORT, key.port),
        ]
    return parts


def service_attr(svc: Service) -> bytes:
    """``IPVS_CMD_ATTR_SERVICE`` with every field, as libipvs sends it."""
    netmask = svc.netmask if svc.persistent else "255.255.255.255"
    parts = service_id_attrs(svc.key)
    parts.append(string(SVC_ATTR_SCHED_NAME, svc.scheduler_name))
    if svc.pe_name:
        parts.append(string(SVC_ATTR_PE_NAME, svc.pe_name))
    parts += [
        attr(SVC_ATTR_FLAGS, struct.pack("=II", service_flags(svc), 0xFFFFFFFF)),
        u32(SVC_ATTR_TIMEOUT, svc.persistent),
        attr(SVC_ATTR_NETMASK, socket.inet_aton(netmask)),
    ]
    return nested(CMD_ATTR_SERVICE, *parts)


def dest_attr(dest: Destination) -> bytes:
    """``IPVS_CMD_ATTR_DEST``, in libipvs 1.31's order."""
    return nested(
        CMD_ATTR_DEST,
        u16(DEST_ATTR_ADDR_FAMILY, socket.AF_INET),
        attr(DEST_ATTR_ADDR, inet_addr(dest.address)),
        be16(DEST_ATTR_PORT, dest.port),
        u32(DEST_ATTR_FWD_METHOD, FORWARD_CODES[dest.forward]),
        u32(DEST_ATTR_WEIGHT, dest.weight),
        u8(DEST_ATTR_TUN_TYPE, TUNNEL_TYPE_IPIP),
        be16(DEST_ATTR_TUN_PORT, 0),
        u16(DEST_ATTR_TUN_FLAGS, 0),
        u32(DEST_ATTR_U_THRESH, dest.u_threshold),
        u32(DEST_ATTR_L_THRESH, dest.l_threshold),
    )


def timeouts_attrs(tcp: int, tcpfin: int, udp: int) -> bytes:
    return u32(CMD_ATTR_TIMEOUT_TCP, tcp) + u32(CMD_ATTR_TIMEOUT_TCP_FIN, tcpfin) + u32(CMD_ATTR_TIMEOUT_UDP, udp)


def daemon_attr(state: int, interface: str, syncid: int) -> bytes:
    return nested(
        CMD_ATTR_DAEMON,
        u32(DAEMON_ATTR_STATE, state),
        string(DAEMON_ATTR_MCAST_IFN, interface),
        u32(DAEMON_ATTR_SYNC_ID, syncid),
    )


# -- decoding dumps ------------------------------------------------------------


def parse(buf: bytes | memoryview) -> dict[int, memoryview]:
    view = memoryview(buf)
    out: dict[int, memoryview] = {}
    offset = 0
    while offset + 4 <= len(view):
        length, kind = _ATTR.unpack_from(view, offset)
        if length < 4:
            break
        out[kind & 0x3FFF] = view[offset + 4 : offset + length]
        offset += (length + 3) & ~3
    return out


def _int(view: memoryview | None, default: int = 0) -> int:
    if view is None:
        return default
    return int.from_bytes(bytes(view), "little")


@dataclass
class KernelStats:
    conns: int = 0
    inpkts: int = 0
    outpkts: int = 0
    inbytes: int = 0
    outbytes: int = 0
    cps: int = 0
    inpps: int = 0
    outpps: int = 0
    inbps: int = 0
    outbps: int = 0


def parse_stats(attrs: dict[int, memoryview], stats64: int, stats32: int) -> KernelStats:
    raw = attrs.get(stats64) if stats64 in attrs else attrs.get(stats32)
    if raw is None:
        return KernelStats()
    s = parse(raw)
    return KernelStats(*(_int(s.get(i)) for i in range(1, 11)))


@dataclass
class KernelService:
    key: ServiceKey
    scheduler: str
    flags: int
    timeout: int
    netmask: str
    pe_name: str = ""
    stats: KernelStats = field(default_factory=KernelStats)


@dataclass
class KernelDest:
    address: str
    port: int
    forward: Forward
    weight: int
    u_threshold: int
    l_threshold: int
    activeconns: int = 0
    inactconns: int = 0
    persistconns: int = 0
    stats: KernelStats = field(default_factory=KernelStats)


def _text(view: memoryview | None) -> str:
    return bytes(view or b"").split(b"\0", 1)[0].decode(errors="replace")


def decode_service(attrs: dict[int, memoryview]) -> KernelService:
    s = parse(attrs[CMD_ATTR_SERVICE])
    if SVC_ATTR_FWMARK in s:
        key = ServiceKey.mark(_int(s[SVC_ATTR_FWMARK]))
    else:
        key = ServiceKey(
            _int(s[SVC_ATTR_PROTOCOL]),
            socket.inet_ntoa(bytes(s[SVC_ATTR_ADDR])[:4]),
            struct.unpack(">H", s[SVC_ATTR_PORT])[0],
        )
    flags = struct.unpack("=II", bytes(s[SVC_ATTR_FLAGS])[:8]) if SVC_ATTR_FLAGS in s else (0, 0)
    return KernelService(
        key=key,
        scheduler=_text(s.get(SVC_ATTR_SCHED_NAME)),
        flags=flags[0] & flags[1],
        timeout=_int(s.get(SVC_ATTR_TIMEOUT)),
        netmask=socket.inet_ntoa(bytes(s[SVC_ATTR_NETMASK])[:4]) if SVC_ATTR_NETMASK in s else "255.255.255.255",
        pe_name=_text(s.get(SVC_ATTR_PE_NAME)),
        stats=parse_stats(s, SVC_ATTR_STATS64, SVC_ATTR_STATS),
    )


def decode_dest(attrs: dict[int, memoryview]) -> KernelDest:
    d = parse(attrs[CMD_ATTR_DEST])
    return KernelDest(
        address=socket.inet_ntoa(bytes(d[DEST_ATTR_ADDR])[:4]),
        port=struct.unpack(">H", d[DEST_ATTR_PORT])[0],
        forward=CODE_FORWARDS.get(_int(d.get(DEST_ATTR_FWD_METHOD)) & 7, Forward.ROUTE),
        weight=_int(d.get(DEST_ATTR_WEIGHT)),
        u_threshold=_int(d.get(DEST_ATTR_U_THRESH)),
        l_threshold=_int(d.get(DEST_ATTR_L_THRESH)),
        activeconns=_int(d.get(DEST_ATTR_ACTIVE_CONNS)),
        inactconns=_int(d.get(DEST_ATTR_INACT_CONNS)),
        persistconns=_int(d.get(DEST_ATTR_PERSIST_CONNS)),
        stats=parse_stats(d, DEST_ATTR_STATS64, DEST_ATTR_STATS),
    )


def decode_daemon(attrs: dict[int, memoryview]) -> tuple[int, str, int]:
    d = parse(attrs[CMD_ATTR_DAEMON])
    return _int(d.get(DAEMON_ATTR_STATE)), _text(d.get(DAEMON_ATTR_MCAST_IFN)), _int(d.get(DAEMON_ATTR_SYNC_ID))
