"""What the control socket answers for ``table``, ``health`` and ``connections``: plain JSON.

Pure functions of the table and lvsd's per-server state.  Every configured
real server is listed, also while the health checks hold it out of the
table (weight 0, ``in_table`` false), so the GUI shows the whole service.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict
from typing import Any

from piranha.table.model import (
    IPPROTO_IP,
    IPPROTO_TCP,
    IPPROTO_UDP,
    Connection,
    Destination,
    Service,
    ServiceKey,
    VirtualTable,
)

from .slots import ServerSlot, ServiceState

_PROTOCOLS = {IPPROTO_TCP: "tcp", IPPROTO_UDP: "udp"}
_CONN_PROTOCOLS = {IPPROTO_TCP: "TCP", IPPROTO_UDP: "UDP", IPPROTO_IP: "IP"}


def key_view(key: ServiceKey) -> dict[str, Any]:
    return {
        "protocol": "fwm" if key.is_fwmark else _PROTOCOLS.get(key.protocol, str(key.protocol)),
        "address": key.address,
        "port": key.port,
        "fwmark": key.fwmark,
    }


def health_view(slot: ServerSlot) -> dict[str, Any]:
    """One ``health`` entry: the checker's status with lvsd's drain state laid over it."""
    status: dict[str, Any] = {}
    if slot.monitor is not None:
        try:
            status = dict(slot.monitor.status())
        except Exception:  # a checker bug must not break the view
            status = {}
    state = status.get("state") or ("up" if slot.admitted else "unknown")
    if slot.admitted:
        state = "up"
    return {
        "virtual": slot.plan.virtual,
        "server": slot.plan.name,
        "address": slot.plan.address,
        "port": slot.plan.port,
        "state": state,
        "forced": status.get("forced"),
        "draining": slot.draining or slot.leaving,
        "drained": slot.drained,
        "leaving": slot.leaving,
        "since": status.get("since", slot.since or None),
        "last_check": status.get("last_check"),
        "last_error": status.get("last_error"),
        "checks": status.get("checks", 0),
        "failures": status.get("failures", 0),
        "weight": slot.weight if slot.admitted else 0,
    }


def _dest_view(
    dest: Destination | None,
    slot: ServerSlot | None,
    *,
    address: str,
    port: int,
    sorry: bool,
) -> dict[str, Any]:
    health = None if slot is None else health_view(slot)
    view: dict[str, Any] = {
        "address": address,
        "port": port,
        "name": None if slot is None else slot.plan.name,
        "forward": None,
        "weight": 0,
        "configured_weight": None if slot is None else slot.plan.weight,
        "u_threshold": 0 if slot is None else slot.plan.u_threshold,
        "l_threshold": 0 if slot is None else slot.plan.l_threshold,
        "activeconns": 0,
        "inactconns": 0,
        "persistconns": 0,
        "overloaded": False,
        "stats": {"conns": 0, "inpkts": 0, "outpkts": 0, "inbytes": 0, "outbytes": 0},
        "rates": {"cps": 0, "inpps": 0, "outpps": 0, "inbps": 0, "outbps": 0},
        "sorry": sorry,
        "health": health,
        "in_table": dest is not None,
    }
    if dest is not None:
        view.update(
            forward=dest.forward.value,
            weight=dest.weight,
            u_threshold=dest.u_threshold,
            l_threshold=dest.l_threshold,
            activeconns=dest.activeconns,
            inactconns=dest.inactconns,
            persistconns=dest.persistconns,
            overloaded=dest.overloaded,
            stats=asdict(dest.stats),
            rates=asdict(dest.rates),
        )
    return view


def service_view(svc: Service, state: ServiceState | None) -> dict[str, Any]:
    slots: Mapping[tuple[str, int], ServerSlot] = {} if state is None else state.slots
    sorry = None
    if state is not None and state.sorry_active and state.plan.sorry_server:
        sorry = (state.plan.sorry_server, state.plan.vport)
    destinations = []
    listed: set[tuple[str, int]] = set()
    for dest in sorted(svc.destinations, key=lambda d: d.sort_key()):
        ident = (dest.address, dest.port)
        listed.add(ident)
        destinations.append(
            _dest_view(
                dest,
                slots.get(ident),
                address=dest.address,
                port=dest.port,
                sorry=ident == sorry and ident not in slots,
            )
        )
    for ident, slot in slots.items():
        if ident not in listed:
            destinations.append(
                _dest_view(None, slot, address=ident[0], port=ident[1], sorry=False)
            )
    return {
        "key": key_view(svc.key),
        "name": svc.name,
        "scheduler": svc.scheduler_name,
        "sched_flags": sorted(svc.sched_flags),
        "persistent": svc.persistent,
        "netmask": svc.netmask,
        "stats": asdict(svc.stats),
        "rates": asdict(svc.rates),
        "failure": None if state is None else state.failure,
        "destinations": destinations,
    }


def table_view(table: VirtualTable, states: Mapping[ServiceKey, ServiceState]) -> dict[str, Any]:
    t = table.timeouts
    return {
        "timeouts": {"tcp": t.tcp, "tcpfin": t.tcpfin, "udp": t.udp},
        "services": [service_view(svc, states.get(svc.key)) for svc in table.sorted_services()],
    }


def health_list(states: Iterable[ServiceState]) -> list[dict[str, Any]]:
    return [health_view(slot) for state in states for slot in state.slots.values()]


def connection_view(conn: Connection, now: float) -> dict[str, Any]:
    return {
        "protocol": _CONN_PROTOCOLS.get(conn.protocol, str(conn.protocol)),
        "caddr": conn.caddr,
        "cport": conn.cport,
        "vaddr": conn.vaddr,
        "vport": conn.vport,
        "daddr": conn.daddr,
        "dport": conn.dport,
        "state": conn.state,
        "expires_in": max(0.0, round(conn.expires - now, 3)),
        "template": conn.template,
    }


def connections_view(table: VirtualTable, now: float) -> list[dict[str, Any]]:
    assert table.connections is not None
    return [connection_view(conn, now) for conn in table.connections.entries()]
