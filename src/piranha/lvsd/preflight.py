"""Start-up checks: what an operator would otherwise learn the hard way (guide 2.5, 3.1).

Each finding is one log line that says what is wrong and the command that
fixes it.  They are warnings: lvsd carries on (what cannot be programmed
at all is reported by the data plane itself).  The checks are pure over
`Facts`, so tests can pose any machine; `machine_facts()` asks this one.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass

from piranha.config import Config

from .build import Plan

KERNEL_DATAPLANES = ("ipvs", "nftables")


@dataclass(frozen=True)
class Facts:
    """Answers about the machine; None means "could not tell" (the check is skipped)."""

    ip_forward: Callable[[], bool | None]
    is_local: Callable[[str], bool | None]  # is this one of our addresses?
    route_device: Callable[[str], str | None]  # the interface towards an address ("" = no route)


def _base_device(device: str | None) -> str | None:
    """``eth1:1`` -> ``eth1`` (an alias label lives on its interface)."""
    return None if device is None else device.split(":", 1)[0]


def _prefix(netmask: str | None) -> int:
    if not netmask:
        return 32
    try:
        return ipaddress.IPv4Network(f"0.0.0.0/{netmask}").prefixlen
    except ValueError:
        return 32


def add_address_command(address: str, netmask: str | None, device: str | None) -> str:
    """``ip addr add 192.168.0.100/24 dev eth0 label eth0:1``: what pulse would do by hand."""
    dev = _base_device(device) or "eth0"
    label = f" label {device}" if device and ":" in device else ""
    return f"ip addr add {address}/{_prefix(netmask)} dev {dev}{label}"


def check(config: Config, plan: Plan, dataplane: str, facts: Facts) -> list[str]:
    """Every finding for running ``plan`` on data plane ``dataplane`` (its name)."""
    findings: list[str] = []
    kernel = dataplane in KERNEL_DATAPLANES
    if config.network == "nat" and kernel and plan.services and facts.ip_forward() is False:
        findings.append(
            "IP forwarding is off (net.ipv4.ip_forward = 0), so with network = nat the real "
            "servers' replies cannot be routed back through this router; turn it on with "
            "`sysctl -w net.ipv4.ip_forward=1` and keep it with a line "
            "`net.ipv4.ip_forward = 1` in /etc/sysctl.d/90-piranha.conf"
        )
    if dataplane == "userspace" and config.network != "nat" and plan.services:
        findings.append(
            f"network = {config.network}: the userspace data plane proxies every connection "
            "(the real servers see this router's address and answer it), so the forwarding "
            "method has no effect; direct routing and tunnelling need `dataplane = nftables` "
            "or `dataplane = ipvs`"
        )
    findings += [
        f"virtual server {svc.name}: client_monitor = {svc.virtual.client_monitor} is not run; "
        "lvsd's built-in health checks are used (remove the line, or write the check as "
        "`send_program`)"
        for svc in plan.services
        if svc.virtual is not None and svc.virtual.client_monitor
    ]
    findings += _vip_findings(config, plan, dataplane, facts)
    findings += _fwmark_findings(config, plan, dataplane)
    findings += _route_findings(config, plan, kernel, facts)
    return findings


def _vip_findings(config: Config, plan: Plan, dataplane: str, facts: Facts) -> list[str]:
    findings: list[str] = []
    seen: set[str] = set()
    for svc in plan.services:
        if svc.vip in seen:
            continue
        seen.add(svc.vip)
        if facts.is_local(svc.vip) is not False:
            continue
        virtual = svc.virtual
        fix = add_address_command(
            svc.vip,
            virtual.vip_nmask if virtual is not None else None,
            virtual.device if virtual is not None else None,
        )
        if dataplane == "userspace":
            consequence = "so the userspace data plane cannot listen on it"
        else:
            consequence = "so clients' packets for it do not reach this router"
        findings.append(
            f"virtual server {svc.name}: {svc.vip} is not an address of this machine, "
            f"{consequence}; pulse brings the virtual addresses up on the active router — "
            f"to run lvsd on its own, add it with `{fix}`"
        )
    return findings


def _fwmark_findings(config: Config, plan: Plan, dataplane: str) -> list[str]:
    if dataplane == "ipvs":
        return []  # the kernel sees the marks themselves
    return [
        f"virtual server {svc.name}: fwmark {svc.key.fwmark} without `fwmark_ports`, so the "
        f"{dataplane} data plane cannot know which ports the mark groups and the service "
        f"receives nothing; list them in its block, e.g. `fwmark_ports = {svc.vport},443`"
        for svc in plan.services
        if svc.key.is_fwmark and not svc.match
    ]


def _route_findings(config: Config, plan: Plan, kernel: bool, facts: Facts) -> list[str]:
    findings: list[str] = []
    nat_device = _base_device(config.nat_router_device)
    nat_checked = config.network == "nat" and kernel and nat_device is not None
    seen: set[str] = set()
    for svc in plan.services:
        for server in svc.servers:
            if server.address in seen:
                continue
            seen.add(server.address)
            device = facts.route_device(server.address)
            if device is None:
                continue
            if device == "":
                findings.append(
                    f"real server {server.label} ({server.address}) cannot be reached from "
                    f"this machine (no route); see `ip route get {server.address}` and add a "
                    f"route, e.g. `ip route add {server.address}/32 dev <interface>`"
                )
            elif nat_checked and device != nat_device and device != "lo":
                findings.append(
                    f"real server {server.label} ({server.address}) is reached through "
                    f"{device}, not through {nat_device} where the NAT router address "
                    f"{config.nat_router} lives: with network = nat its replies must come back "
                    f"through this router; see `ip route get {server.address}` and route its "
                    f"network through {nat_device}, e.g. "
                    f"`ip route add {server.address}/32 dev {nat_device}`"
                )
    return findings


# -- this machine -----------------------------------------------------------------


def _ip_forward() -> bool | None:
    try:
        with open("/proc/sys/net/ipv4/ip_forward") as f:
            return f.read().strip() != "0"
    except OSError:
        return None


def _can_bind(address: str) -> bool | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind((address, 0))
        except OSError as exc:
            return False if exc.errno == errno.EADDRNOTAVAIL else None
    return True


def _is_local(address: str) -> bool | None:
    route = None
    with contextlib.suppress(Exception):  # pyroute2 missing or refused: fall back
        from piranha.dataplane.kernel.netinfo import route_to

        route = route_to(address)
        if route is not None:
            return route.local
    return _can_bind(address)


def _route_device(address: str) -> str | None:
    try:
        from piranha.dataplane.kernel.netinfo import route_to

        route = route_to(address)
    except Exception:
        return None
    return "" if route is None else route.device


def machine_facts() -> Facts:
    """This machine (blocking calls: run ``check`` in a thread)."""
    return Facts(ip_forward=_ip_forward, is_local=_is_local, route_device=_route_device)
