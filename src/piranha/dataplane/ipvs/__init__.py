"""The IPVS data plane: the kernel's IP Virtual Server over generic netlink.

Only where the kernel has IPVS (``/proc/net/ip_vs``); ``dataplane = auto``
tries it first.  See docs/dataplane-ipvs.md for what was run where.
"""

from .backend import IPVSBackend

__all__ = ["IPVSBackend"]
