"""Facts about this machine that configuration checks need.

`piranha check`, lvsd's reloads and the GUI all validate lvs.cf against the
same :class:`~piranha.config.Environment`: the system resolver,
/etc/services, and whether this kernel could run ``network = tunnel``.
"""

from __future__ import annotations

import os

from piranha.config import Environment


def tunnel_possible() -> bool:
    """IP-in-IP forwarding needs kernel IPVS and the ipip module on this machine."""
    if not os.path.exists("/proc/net/ip_vs"):
        return False
    if os.path.exists("/sys/module/ipip"):
        return True
    try:
        with open("/proc/modules") as f:
            return any(line.split(" ", 1)[0] == "ipip" for line in f)
    except OSError:
        return False


def machine_environment() -> Environment:
    """This machine: its resolver, /etc/services, and whether it can tunnel."""
    return Environment(tunnel_possible=tunnel_possible())
