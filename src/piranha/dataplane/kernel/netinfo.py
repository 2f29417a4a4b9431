"""Facts about this machine's network, through rtnetlink (pyroute2).

Blocking calls: the data planes run them through ``asyncio.to_thread``
(pyroute2's synchronous classes refuse to run inside a running loop, and
its async ones fail under uvloop; deps.md §2).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

RTN_LOCAL = 2
IFF_UP = 0x1


@dataclass(frozen=True, slots=True)
class Route:
    """How this machine reaches an address."""

    device: str
    gateway: str | None  # None: the address is on a directly connected network
    local: bool  # the address is one of this machine's own


def interface_addresses() -> dict[str, list[str]]:
    """Interface name -> its IPv4 addresses (aliases such as ``eth0:1`` fold into eth0)."""
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        names = {link["index"]: link.get_attr("IFLA_IFNAME") for link in ipr.get_links()}
        found: dict[str, list[str]] = {name: [] for name in names.values()}
        for addr in ipr.get_addr(family=socket.AF_INET):
            name = names.get(addr["index"])
            if name is not None:
                found[name].append(addr.get_attr("IFA_ADDRESS"))
    return found


def up_interfaces() -> list[str]:
    """Interfaces that are administratively up, loopback excluded."""
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        return [
            link.get_attr("IFLA_IFNAME")
            for link in ipr.get_links()
            if link["flags"] & IFF_UP and link.get_attr("IFLA_IFNAME") != "lo"
        ]


def route_to(address: str) -> Route | None:
    """The route this machine would use towards ``address``; None if unreachable."""
    from pyroute2 import IPRoute
    from pyroute2.netlink.exceptions import NetlinkError

    with IPRoute() as ipr:
        try:
            answer = ipr.route("get", dst=address)
        except NetlinkError:
            return None
        if not answer:
            return None
        msg = answer[0]
        oif = msg.get_attr("RTA_OIF")
        links = ipr.get_links(oif) if oif else []
        device = links[0].get_attr("IFLA_IFNAME") if links else ""
        return Route(device=device, gateway=msg.get_attr("RTA_GATEWAY"), local=msg["type"] == RTN_LOCAL)
