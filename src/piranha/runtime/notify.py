"""sd_notify(3) in a few lines: tell systemd (or pulse) how we are doing.

pulse starts lvsd with ``NOTIFY_SOCKET`` pointing at its own datagram
socket and waits for ``READY=1``, so the same protocol serves systemd's
``Type=notify`` units and pulse's "wait until the table is programmed".
"""

from __future__ import annotations

import os
import socket


def notify(state: str, *, env: dict[str, str] | None = None) -> bool:
    """Send ``state`` (e.g. ``"READY=1"``) to ``$NOTIFY_SOCKET``; False if unset."""
    address = (env if env is not None else os.environ).get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        try:
            sock.sendto(state.encode(), address)
        except OSError:
            return False
    return True
