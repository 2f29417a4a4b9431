"""Which sockets the table asks for, and opening them with reasons an operator can act on.

A port service listens on its VIP:port.  A firewall-mark service has no
address of its own: it listens on every port its ``match`` groups (lvs.cf
``fwmark_ports``), ranges included, one socket per port — the only way an
unprivileged process can receive a range of ports.  Each port costs one
file descriptor (and about a kilobyte), so the total is capped by the
listener budget (half the fd limit unless ``userspace.max_listeners``
says otherwise), leaving the rest for connections (two descriptors each).

When a port service and a fwmark service claim the same port, the fwmark
service gets it: the kernel looks a marked packet up by its mark first
(``ip_vs_service_find``), and the port service is reported as failed.
"""

from __future__ import annotations

import errno
import socket
from dataclasses import dataclass

from piranha.table.model import IPPROTO_TCP, IPPROTO_UDP, ServiceKey, VirtualTable

PROTOCOL_NAMES = {IPPROTO_TCP: "tcp", IPPROTO_UDP: "udp"}


@dataclass(frozen=True, slots=True)
class Endpoint:
    protocol: int
    address: str
    port: int

    def __str__(self) -> str:
        return f"{self.address}:{self.port}/{PROTOCOL_NAMES.get(self.protocol, self.protocol)}"


@dataclass(slots=True)
class Plan:
    """The endpoints wanted, each with the service it serves; plus refusals."""

    wanted: dict[Endpoint, ServiceKey]
    failed: dict[ServiceKey, str]


def plan(table: VirtualTable, budget: int) -> Plan:
    wanted: dict[Endpoint, ServiceKey] = {}
    failed: dict[ServiceKey, str] = {}
    # fwmark services first: they win a port both claim
    services = sorted(table.services.values(), key=lambda s: not s.key.is_fwmark)
    for svc in services:
        key = svc.key
        if key.is_fwmark:
            if not svc.match:
                failed[key] = (
                    f"firewall mark {key.fwmark} groups no ports: the userspace data plane "
                    "listens on the ports a mark groups; set fwmark_ports (e.g. `80,443` or "
                    "`21,10000-20000`) in the virtual server"
                )
                continue
            mine = [
                Endpoint(m.protocol, m.address, port)
                for m in svc.match
                for port in range(m.port_lo, m.port_hi + 1)
            ]
        elif key.port == 0:
            failed[key] = (
                "a port-0 (all ports) service cannot be emulated by the userspace data plane; "
                "use a firewall-mark service with fwmark_ports, or the nftables/ipvs data plane"
            )
            continue
        elif key.protocol not in PROTOCOL_NAMES:
            failed[key] = f"protocol {key.protocol} is not supported (only TCP and UDP)"
            continue
        else:
            mine = [Endpoint(key.protocol, key.address, key.port)]
        taken = [ep for ep in mine if ep in wanted and wanted[ep] != key]
        if taken:
            ep = taken[0]
            failed[key] = f"{ep} is already served by {wanted[ep]} (fwmark_ports); the mark wins"
            mine = [ep for ep in mine if ep not in wanted]
            if not mine:
                continue
        if len(wanted) + len(mine) > budget:
            failed[key] = (
                f"needs {len(mine)} listening sockets but only {budget - len(wanted)} of the "
                f"budget of {budget} are left (each port of a range is one file descriptor); "
                "narrow fwmark_ports, raise the fd limit (LimitNOFILE=) or "
                "userspace.max_listeners, or use the nftables data plane"
            )
            continue
        for ep in mine:
            wanted[ep] = key
    return Plan(wanted, failed)


IP_FREEBIND = getattr(socket, "IP_FREEBIND", 15)  # linux/in.h


def open_socket(ep: Endpoint, backlog: int = 4096, *, freebind: bool = False) -> socket.socket:
    """A bound (and for TCP listening) non-blocking socket; OSError with a helpful text.

    ``freebind``: bind even while ``ep.address`` is not local (IP_FREEBIND, as
    ``net.ipv4.ip_nonlocal_bind`` does machine-wide); the socket receives once
    the address arrives — a standby router's listeners are ready before takeover.
    """
    kind = socket.SOCK_STREAM if ep.protocol == IPPROTO_TCP else socket.SOCK_DGRAM
    sock = socket.socket(socket.AF_INET, kind)
    try:
        if freebind:
            sock.setsockopt(socket.SOL_IP, IP_FREEBIND, 1)
        # SO_REUSEADDR lets a restarted lvsd bind despite TIME_WAIT remnants.
        # Deliberately not SO_REUSEPORT: a second proxy on the same port must
        # fail loudly instead of silently sharing the traffic.
        if kind == socket.SOCK_STREAM:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((ep.address, ep.port))
        if kind == socket.SOCK_STREAM:
            sock.listen(backlog)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, explain(ep, exc)) from None
    return sock


def explain(ep: Endpoint, exc: OSError) -> str:
    verb = "listen on" if ep.protocol == IPPROTO_TCP else "receive on"
    head = f"cannot {verb} {ep}"
    code = exc.errno
    if code == errno.EADDRNOTAVAIL:
        return (
            f"{head}: address not local — bring the virtual IP up first (pulse does this "
            f"on the active router), or by hand: `ip addr add {ep.address}/32 dev lo`"
        )
    if code == errno.EADDRINUSE:
        proto = "t" if ep.protocol == IPPROTO_TCP else "u"
        return (
            f"{head}: port in use by another program — see which one with "
            f"`ss -{proto}lpn 'sport = :{ep.port}'`"
        )
    if code in (errno.EACCES, errno.EPERM):
        return (
            f"{head}: permission denied — ports below 1024 need root or CAP_NET_BIND_SERVICE "
            "(or lower net.ipv4.ip_unprivileged_port_start)"
        )
    if code in (errno.EMFILE, errno.ENFILE):
        return f"{head}: out of file descriptors — raise the fd limit (LimitNOFILE=)"
    return f"{head}: {exc.strerror or exc}"
