"""What pulse asks the kernel about its own network, over rtnetlink (pyroute2).

Blocking calls: the daemon runs them through ``asyncio.to_thread`` (pyroute2's
sync classes refuse to run inside an event loop; deps.md §2).
"""

from __future__ import annotations

import socket
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
