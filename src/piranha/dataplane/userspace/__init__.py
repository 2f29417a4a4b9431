"""The userspace data plane: an asyncio TCP and UDP load-balancing proxy.

It needs no root and no kernel module, schedules every new connection or
UDP flow with the table's own IPVS schedulers and connection table, and
keeps ActiveConn/InActConn, counters and the connection list the way IPVS
does, so ``lvsadm`` shows the same things whichever data plane runs.
See docs/dataplane-userspace.md.
"""

from __future__ import annotations

from .backend import UserspaceBackend
from .settings import ProxySettings, SettingsError

__all__ = ["ProxySettings", "SettingsError", "UserspaceBackend"]
