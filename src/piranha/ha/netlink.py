"""What pulse asks the kernel about its own network, over rtnetlink.

Blocking calls: the daemon runs them through ``asyncio.to_thread`` (pyroute2's
sync classes refuse to run inside an event loop; deps.md §2).  Most go through
pyroute2; adding the floating addresses — on a takeover's critical path —
is one raw netlink batch (:func:`add_ipv4_addresses`): pyroute2 took 5–7 ms
for two addresses, the batch well under one.
"""

from __future__ import annotations

import os
import socket
import struct
from dataclasses import dataclass

IFF_UP = 0x1
# IFLA_OPERSTATE values that mean "no traffic can flow" (RFC 2863 names, as pyroute2 reports them)
_DOWN_STATES = {"DOWN", "LOWERLAYERDOWN", "NOTPRESENT"}


@dataclass(frozen=True, slots=True)
class LocalAddress:
    address: str
    prefixlen: int
    device: str  # the interface (base name)
    label: str  # ``eth0:1`` style label, or the device name
    primary: bool  # not flagged secondary by the kernel


def local_addresses() -> list[LocalAddress]:
    """Every IPv4 address of this machine (namespace), secondaries and labels included."""
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        names = {link["index"]: link.get_attr("IFLA_IFNAME") for link in ipr.get_links()}
        found = []
        for msg in ipr.get_addr(family=socket.AF_INET):
            device = names.get(msg["index"], "?")
            address = msg.get_attr("IFA_LOCAL") or msg.get_attr("IFA_ADDRESS")
            found.append(
                LocalAddress(
                    address=address,
                    prefixlen=msg["prefixlen"],
                    device=device,
                    label=msg.get_attr("IFA_LABEL") or device,
                    primary=not msg["flags"] & 0x01,  # IFA_F_SECONDARY
                )
            )
        return found


def link_is_up(address: str) -> bool | None:
    """Is the interface holding ``address`` able to carry traffic?

    None when no interface holds it (the original counted that as up).
    Down = administratively down, operstate DOWN/LOWERLAYERDOWN, or no
    carrier; operstate UNKNOWN (drivers that do not report it) counts as up,
    as "no support" did in the original's ethtool/MII probe.
    """
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        index = None
        for msg in ipr.get_addr(family=socket.AF_INET):
            if (msg.get_attr("IFA_LOCAL") or msg.get_attr("IFA_ADDRESS")) == address:
                index = msg["index"]
                break
        if index is None:
            return None
        links = ipr.get_links(index)
        if not links:
            return None
        link = links[0]
        if not link["flags"] & IFF_UP:
            return False
        if link.get_attr("IFLA_OPERSTATE") in _DOWN_STATES:
            return False
        return link.get_attr("IFLA_CARRIER") != 0


def default_gateway() -> str | None:
    """The IPv4 default route's gateway in the main table, or None."""
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        for route in ipr.get_default_routes(family=socket.AF_INET):
            if route.get_attr("RTA_TABLE") in (None, 254):
                gateway = route.get_attr("RTA_GATEWAY")
                if gateway:
                    return gateway
    return None


RTMGRP_LINK = 0x1
RTMGRP_IPV4_IFADDR = 0x10


def link_event_socket() -> socket.socket:
    """A non-blocking netlink socket that becomes readable whenever a link or
    an IPv4 address changes (the daemon re-checks link state then)."""
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, 0)
    sock.bind((0, RTMGRP_LINK | RTMGRP_IPV4_IFADDR))
    sock.setblocking(False)
    return sock


# --- raw rtnetlink: the takeover's addresses ------------------------------------------------

NLMSG_ERROR, NLMSG_DONE = 2, 3
RTM_NEWADDR, RTM_GETADDR = 20, 22
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE, NLM_F_DUMP = 0x1, 0x4, 0x200, 0x400, 0x300
IFA_ADDRESS, IFA_LOCAL, IFA_LABEL, IFA_BROADCAST = 1, 2, 3, 4
_HEADER = struct.Struct("=IHHII")  # nlmsghdr: length, type, flags, seq, pid
_IFADDR = struct.Struct("=BBBBI")  # ifaddrmsg: family, prefixlen, flags, scope, index
_RTATTR = struct.Struct("=HH")
NETLINK_TIMEOUT = 2.0  # seconds; the kernel answers in microseconds


@dataclass(frozen=True, slots=True)
class NewAddress:
    index: int  # interface index
    address: str
    prefixlen: int
    label: str
    broadcast: str | None = None


def _rtattr(kind: int, payload: bytes) -> bytes:
    length = _RTATTR.size + len(payload)
    return _RTATTR.pack(length, kind) + payload + b"\0" * (-length % 4)


def _message(kind: int, flags: int, seq: int, body: bytes) -> bytes:
    return _HEADER.pack(_HEADER.size + len(body), kind, flags, seq, 0) + body


def new_address_message(new: NewAddress, seq: int) -> bytes:
    """RTM_NEWADDR as ``ip addr add ADDR/LEN [broadcast B] dev DEV label L`` sends it;
    NLM_F_EXCL, so an address already there is EEXIST, never replaced."""
    packed = socket.inet_aton(new.address)
    body = _IFADDR.pack(socket.AF_INET, new.prefixlen, 0, 0, new.index)
    body += _rtattr(IFA_LOCAL, packed) + _rtattr(IFA_ADDRESS, packed)
    if new.broadcast:
        body += _rtattr(IFA_BROADCAST, socket.inet_aton(new.broadcast))
    body += _rtattr(IFA_LABEL, new.label.encode() + b"\0")
    flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL
    return _message(RTM_NEWADDR, flags, seq, body)


def _messages(data: bytes):
    """(type, seq, payload) of each netlink message in one datagram."""
    offset = 0
    while offset + _HEADER.size <= len(data):
        length, kind, _flags, seq, _pid = _HEADER.unpack_from(data, offset)
        if length < _HEADER.size:
            return
        yield kind, seq, data[offset + _HEADER.size : offset + length]
        offset += (length + 3) & ~3


def _attrs(payload: bytes, offset: int) -> dict[int, bytes]:
    found = {}
    while offset + _RTATTR.size <= len(payload):
        length, kind = _RTATTR.unpack_from(payload, offset)
        if length < _RTATTR.size:
            break
        found[kind & 0x3FFF] = payload[offset + _RTATTR.size : offset + length]
        offset += (length + 3) & ~3
    return found


def _route_socket() -> socket.socket:
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, 0)
    sock.settimeout(NETLINK_TIMEOUT)
    sock.bind((0, 0))
    return sock


def ipv4_addresses(sock: socket.socket, seq: int = 1) -> set[tuple[int, str]]:
    """(interface index, address) of every IPv4 address: one RTM_GETADDR dump."""
    body = _IFADDR.pack(socket.AF_INET, 0, 0, 0, 0)
    sock.send(_message(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, seq, body))
    found: set[tuple[int, str]] = set()
    while True:
        for kind, got, payload in _messages(sock.recv(65536)):
            if got != seq:
                continue
            if kind == NLMSG_DONE:
                return found
            if kind == NLMSG_ERROR:
                code = -struct.unpack_from("=i", payload)[0]
                raise OSError(code, f"listing addresses: {os.strerror(code)}")
            if kind != RTM_NEWADDR:
                continue
            family, _len, _flags, _scope, index = _IFADDR.unpack_from(payload)
            attrs = _attrs(payload, _IFADDR.size)
            raw = attrs.get(IFA_LOCAL) or attrs.get(IFA_ADDRESS)
            if family == socket.AF_INET and raw is not None and len(raw) == 4:
                found.add((index, socket.inet_ntoa(raw)))


def add_ipv4_addresses(wanted: list[NewAddress]) -> tuple[set[tuple[int, str]], list[int]]:
    """Add the addresses not present yet, in one batch.

    Returns the addresses present before (index, address) and, per entry of
    ``wanted``, 0 (added), -1 (present before: not sent) or an errno (EEXIST if
    someone added it meanwhile).
    """
    with _route_socket() as sock:
        present = ipv4_addresses(sock, seq=1)
        outcome = [-1 if (new.index, new.address) in present else 0 for new in wanted]
        batch = {n + 2: n for n in range(len(wanted)) if outcome[n] == 0}  # seq -> entry
        if batch:
            sock.send(b"".join(new_address_message(wanted[n], seq) for seq, n in batch.items()))
        while batch:
            for kind, seq, payload in _messages(sock.recv(65536)):
                if kind == NLMSG_ERROR and seq in batch:
                    outcome[batch.pop(seq)] = -struct.unpack_from("=i", payload)[0]
        return present, outcome
