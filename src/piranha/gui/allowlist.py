"""Which client networks may reach the Configuration Tool (the guide's ``.htaccess`` "Allow from")."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# The guide recommends the local machine only; so is our default.
LOOPBACK = ("127.0.0.0/8", "::1/128")


def parse_network(text: str) -> list[Network]:
    """One allow entry: ``all``, an address, a CIDR network, or Apache's partial address.

    ``172.16.57`` means 172.16.57.0/24 as in Apache's ``Allow from 172.16.57``.
    Raises ValueError with a message naming the entry.
    """
    entry = text.strip()
    if entry.lower() == "all":
        return [ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")]
    try:
        return [ipaddress.ip_network(entry, strict=False)]
    except ValueError:
        pass
    parts = entry.rstrip(".").split(".")
    if 1 <= len(parts) <= 3 and all(p.isdigit() and int(p) <= 255 for p in parts):
        octets = [*parts, *["0"] * (4 - len(parts))]
        return [ipaddress.ip_network(f"{'.'.join(octets)}/{8 * len(parts)}")]
    raise ValueError(
        f"`{text}` is not a network: write an address (192.168.1.100), a CIDR network "
        "(172.16.57.0/24), a partial address as in .htaccess (172.16.57) or `all`"
    )


class AllowList:
    def __init__(self, entries: Iterable[str] = LOOPBACK) -> None:
        self.entries = list(entries)
        self.networks: list[Network] = [n for e in self.entries for n in parse_network(e)]

    def allows(self, address: str | None) -> bool:
        if not address:
            return False
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip.version == n.version and ip in n for n in self.networks)

    def __str__(self) -> str:
        return ", ".join(self.entries)
