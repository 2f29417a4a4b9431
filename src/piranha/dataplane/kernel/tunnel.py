"""Can this kernel do IP-in-IP (LVS tunnel mode)?

IPVS's tunnel forwarding wraps each packet in an outer IPv4 header
(protocol 4) addressed to the real server; the real server needs the
``ipip`` module to unwrap it, and so does any director that would do the
same without IPVS.  The module shows in /sys/module when it is loaded or
built in; a module that could still be loaded is in the module tree.
"""

from __future__ import annotations

import os
from pathlib import Path


def ipip_unavailable_reason(sys_module: str = "/sys/module", modules_root: str = "/lib/modules") -> str | None:
    """None if ipip is loaded, built in or loadable; else why tunnelling cannot work."""
    if Path(sys_module, "ipip").exists():
        return None
    release = os.uname().release
    tree = Path(modules_root, release, "kernel", "net", "ipv4")
    if tree.is_dir() and any(tree.glob("ipip.ko*")):
        return None
    builtin = Path(modules_root, release, "modules.builtin")
    if builtin.exists() and "ipip.ko" in builtin.read_text(errors="replace"):
        return None
    return (
        f"this kernel ({release}) has no IP-in-IP support (no ipip module), so tunnel "
        "forwarding cannot work; use network = nat or network = direct"
    )
