"""sd_notify(3) in a few lines: tell systemd (or pulse) how we are doing.

pulse starts lvsd with ``NOTIFY_SOCKET`` pointing at its own datagram
socket and waits for ``READY=1``, so the same protocol serves systemd's
``Type=notify`` units and pulse's "wait until the table is programmed".

The datagram is sent non-blocking: a receiver that stops reading (a wedged
supervisor, a test) fills its queue, and a blocking send would then freeze
the daemon's event loop.  State notifications are advisory and a later one
supersedes an earlier one, so a full queue drops the message instead.
"""

from __future__ import annotations

import os
import socket


def notify(state: str, *, env: dict[str, str] | None = None) -> bool:
    """Send ``state`` (e.g. ``"READY=1"``) to ``$NOTIFY_SOCKET``; False if unset or not delivered."""
    address = (env if env is not None else os.environ).get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK) as sock:
        try:
            sock.sendto(state.encode(), address)
        except OSError:  # BlockingIOError (queue full), no such socket, refused
            return False
    return True
