"""Gratuitous ARP: the frames, and sending them through a raw packet socket.

Two users: pulse announces each address it takes over (an ARP request and
an ARP reply, like ``arping -U`` and ``arping -A``: some hosts only learn
from one of the two), and ``piranha send-arp`` builds send_arp's one frame
exactly.  Building frames is pure; :func:`send_frames` needs CAP_NET_RAW.
"""

from __future__ import annotations

import socket
import struct

ETH_P_ARP = 0x0806
ETH_P_IP = 0x0800
ARP_REQUEST, ARP_REPLY = 1, 2
BROADCAST = b"\xff" * 6
ZERO_MAC = b"\x00" * 6
FRAME_SIZE = 60  # the Ethernet minimum; the ARP payload is padded with 18 zero bytes


def parse_mac(text: str) -> bytes:
    """12 hex digits, each pair optionally followed by ``:`` (send_arp's rule).

    Raises ValueError("Invalid hardware address").
    """
    out = bytearray()
    i = 0
    while len(out) < 6:
        pair = text[i : i + 2]
        if len(pair) != 2 or any(c not in "0123456789abcdefABCDEF" for c in pair):
            raise ValueError("Invalid hardware address")
        out.append(int(pair, 16))
        i += 2
        if text[i : i + 1] == ":" and len(out) < 6:
            i += 1
    if i != len(text):
        raise ValueError("Invalid hardware address")
    return bytes(out)


def format_mac(mac: bytes) -> str:
    return ":".join(f"{b:02x}" for b in mac)


def arp_frame(
    op: int,
    *,
    eth_dst: bytes,
    eth_src: bytes,
    sender_mac: bytes,
    sender_ip: str,
    target_mac: bytes,
    target_ip: str,
) -> bytes:
    frame = eth_dst + eth_src + struct.pack("!H", ETH_P_ARP)
    frame += struct.pack(
        "!HHBBH6s4s6s4s",
        1,  # Ethernet
        ETH_P_IP,
        6,
        4,
        op,
        sender_mac,
        socket.inet_aton(sender_ip),
        target_mac,
        socket.inet_aton(target_ip),
    )
    return frame + b"\x00" * (FRAME_SIZE - len(frame))


def send_arp_frame(src_ip: str, src_mac: bytes, tar_mac: bytes) -> bytes:
    """send_arp's frame: an ARP *reply* with sender = target = ``src_ip``/``src_mac``.

    Ethernet destination ``tar_mac`` (pulse passed broadcast).  send_arp's
    third argument (targ_ip_addr) was never used, so there is no parameter
    for it.
    """
    return arp_frame(
        ARP_REPLY,
        eth_dst=tar_mac,
        eth_src=src_mac,
        sender_mac=src_mac,
        sender_ip=src_ip,
        target_mac=src_mac,
        target_ip=src_ip,
    )


def gratuitous_frames(ip: str, mac: bytes) -> list[bytes]:
    """The announcement pulse sends for ``ip``: a broadcast request and a broadcast reply."""
    request = arp_frame(
        ARP_REQUEST,
        eth_dst=BROADCAST,
        eth_src=mac,
        sender_mac=mac,
        sender_ip=ip,
        target_mac=ZERO_MAC,
        target_ip=ip,
    )
    reply = arp_frame(
        ARP_REPLY,
        eth_dst=BROADCAST,
        eth_src=mac,
        sender_mac=mac,
        sender_ip=ip,
        target_mac=BROADCAST,
        target_ip=ip,
    )
    return [request, reply]


def send_frames(ifname: str, frames: list[bytes]) -> None:
    """Send ready-made Ethernet frames on ``ifname`` (raises OSError)."""
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0) as sock:
        sock.bind((ifname, 0))
        for frame in frames:
            sock.send(frame)


def announce(ifname: str, ip: str) -> None:
    """One gratuitous ARP (request and reply) for ``ip`` from ``ifname``'s own MAC."""
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0) as sock:
        sock.bind((ifname, 0))
        mac = sock.getsockname()[4][:6]
        for frame in gratuitous_frames(ip, mac):
            sock.send(frame)


class PacketSockets:
    """Send-only packet sockets, one per interface, kept open.

    Closing a packet socket waits for an RCU grace period in the kernel
    (about 20 ms here); a takeover announces several addresses at once and
    must not pay that each time.  Protocol 0: the sockets receive nothing.
    """

    def __init__(self) -> None:
        self._open: dict[str, tuple[socket.socket, bytes]] = {}

    def _get(self, ifname: str) -> tuple[socket.socket, bytes]:
        entry = self._open.get(ifname)
        if entry is None:
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW | socket.SOCK_CLOEXEC, 0)
            try:
                sock.bind((ifname, 0))
            except OSError:
                sock.close()
                raise
            entry = (sock, sock.getsockname()[4][:6])
            self._open[ifname] = entry
        return entry

    def announce(self, ifname: str, ip: str) -> None:
        """Like :func:`announce`; a socket whose interface went away is replaced once."""
        for attempt in (1, 2):
            sock, mac = self._get(ifname)
            try:
                for frame in gratuitous_frames(ip, mac):
                    sock.send(frame)
                return
            except OSError:
                self._open.pop(ifname, None)
                sock.close()
                if attempt == 2:
                    raise

    def close(self) -> None:
        for sock, _mac in self._open.values():
            sock.close()
        self._open.clear()


def base_device(device: str) -> str:
    """``eth0:1`` -> ``eth0`` (an alias label lives on its base interface)."""
    return device.split(":", 1)[0]
