"""The heartbeat sockets: one UDP socket per path, bound to this router's address.

As the original: a socket bound to ``<own public IP>:heartbeat_port``, and
a second one on the private address when ``primary_private`` differs from
``primary``; heartbeats go to the partner's public and private addresses;
datagrams from any other source are ignored (source port unchecked).
"""

from __future__ import annotations

import contextlib
import socket
from dataclasses import dataclass, field

MAX_DATAGRAM = 2048


class BindError(Exception):
    pass


@dataclass
class Path:
    name: str  # "public" | "private"
    local: str
    partner: str
    sock: socket.socket | None = None
    errors: int = 0
    last_error: str = ""  # the newest send failure (strerror), for the log


@dataclass
class HeartbeatSockets:
    port: int
    paths: list[Path] = field(default_factory=list)

    @classmethod
    def bind(
        cls,
        port: int,
        own_public: str,
        partner_public: str,
        own_private: str | None,
        partner_private: str | None,
    ) -> HeartbeatSockets:
        hs = cls(port)
        hs.paths.append(Path("public", own_public, partner_public))
        if own_private and own_private != own_public:
            hs.paths.append(Path("private", own_private, partner_private or partner_public))
        try:
            for p in hs.paths:
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                try:
                    # heartbeats must not queue behind bulk traffic (VRRP uses the same class)
                    sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, 0xC0)
                    sock.bind((p.local, port))
                except OSError as exc:
                    sock.close()
                    raise BindError(
                        f"cannot bind the heartbeat socket to {p.local}:{port}: "
                        f"{exc.strerror or exc} (running as root? is {p.local} an address of this machine?)"
                    ) from None
                sock.setblocking(False)
                p.sock = sock
        except BaseException:  # BindError, or no socket at all: none of ours stays open
            hs.close()
            raise
        return hs

    def partners(self) -> set[str]:
        return {p.partner for p in self.paths}

    def send(self, data: bytes) -> int:
        """Send ``data`` on every path; the number of datagrams that went out."""
        sent = 0
        for p in self.paths:
            if p.sock is None:
                continue
            try:
                p.sock.sendto(data, (p.partner, self.port))
                sent += 1
            except OSError as exc:
                p.errors += 1
                p.last_error = exc.strerror or str(exc)
        return sent

    def close(self) -> None:
        for p in self.paths:
            if p.sock is not None:
                with contextlib.suppress(OSError):
                    p.sock.close()
                p.sock = None
