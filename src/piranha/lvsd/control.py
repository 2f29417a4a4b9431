"""lvsd's control socket ops (``<run dir>/lvsd.sock``, JSON lines; see docs/lvsd.md).

A real server is named either by lvs.cf names — ``{"virtual": "www",
"server": "web1"}`` — or by the table — ``{"service": "tcp:192.168.0.100:80"
| "udp:...:53" | "fwm:80", "dest": "10.0.0.2:80"}``.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from piranha.runtime.control import ControlError
from piranha.table.model import IPPROTO_TCP, IPPROTO_UDP, ServiceKey

from . import views
from .history import service_id
from .slots import ServerSlot, ServiceState

if TYPE_CHECKING:  # pragma: no cover
    from .supervisor import Lvsd

FORCE_MODES = ("down", "up", "resume")


def parse_service_id(text: str) -> ServiceKey:
    """``tcp:1.2.3.4:80`` / ``udp:1.2.3.4:53`` / ``fwm:80`` -> the service's key."""
    proto, _, rest = str(text).partition(":")
    try:
        if proto == "fwm":
            mark = int(rest)
            if mark <= 0:
                raise ValueError
            return ServiceKey.mark(mark)
        if proto in ("tcp", "udp"):
            address, _, port = rest.rpartition(":")
            if not address:
                raise ValueError
            number = IPPROTO_TCP if proto == "tcp" else IPPROTO_UDP
            return ServiceKey(number, address, int(port))
    except ValueError:
        pass
    raise ControlError(
        f"bad service {text!r}: write tcp:ADDRESS:PORT, udp:ADDRESS:PORT or fwm:MARK"
    )


def _parse_dest(text: str) -> tuple[str, int]:
    address, _, port = str(text).rpartition(":")
    try:
        return address, int(port)
    except ValueError:
        raise ControlError(f"bad dest {text!r}: write ADDRESS:PORT") from None


def find_state(lvsd: Lvsd, request: dict[str, Any]) -> ServiceState:
    if "service" in request:
        key = parse_service_id(request["service"])
        state = lvsd.states.get(key)
        if state is None:
            raise ControlError(f"no virtual service {request['service']} in lvs.cf")
        return state
    name = request.get("virtual")
    if not isinstance(name, str):
        raise ControlError(
            'name the real server: {"virtual": ..., "server": ...} or {"service": ..., "dest": ...}'
        )
    found = [s for s in lvsd.states.values() if s.name == name]
    if not found:
        known = ", ".join(sorted(s.name for s in lvsd.states.values())) or "none"
        raise ControlError(f"no active virtual service named {name!r} (active: {known})")
    if len(found) > 1:
        raise ControlError(
            f"{len(found)} virtual services are named {name!r}: name it by "
            '"service" (' + ", ".join(service_id(s.plan.key) for s in found) + ")"
        )
    return found[0]


def find_slot(lvsd: Lvsd, request: dict[str, Any]) -> tuple[ServiceState, ServerSlot]:
    state = find_state(lvsd, request)
    if "dest" in request:
        ident = _parse_dest(request["dest"])
        slot = state.slots.get(ident)
        if slot is None or slot.leaving:
            raise ControlError(
                f"virtual service {state.name} has no configured real server {request['dest']}"
            )
        return state, slot
    name = request.get("server")
    found = [s for s in state.slots.values() if s.plan.name == name and not s.leaving]
    if not found:
        known = ", ".join(s.plan.name for s in state.slots.values() if not s.leaving) or "none"
        raise ControlError(
            f"virtual service {state.name} has no active real server named {name!r} "
            f"(active: {known})"
        )
    if len(found) > 1:
        raise ControlError(
            f"{len(found)} real servers of {state.name} are named {name!r}: name it by "
            '"dest" (' + ", ".join(f"{s.ident[0]}:{s.ident[1]}" for s in found) + ")"
        )
    return state, found[0]


def _seconds(value: Any, what: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ControlError(f"{what} is a number of seconds >= 0, or null")
    return float(value)


def handlers(lvsd: Lvsd) -> dict[str, Any]:
    """Op name -> handler, for :class:`piranha.runtime.control.ControlServer`."""

    def status(request: dict[str, Any]) -> dict[str, Any]:
        return lvsd.status()

    async def table(request: dict[str, Any]) -> dict[str, Any]:
        await lvsd.fresh()
        return views.table_view(lvsd.table, lvsd.states)

    async def connections(request: dict[str, Any]) -> list[dict[str, Any]]:
        await lvsd.fresh()
        return views.connections_view(lvsd.table, lvsd.now())

    async def lvsadm(request: dict[str, Any]) -> dict[str, Any]:
        argv = request.get("argv", [])
        if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
            raise ControlError("argv is a list of strings")
        stdin = request.get("stdin") or ""
        prog = request.get("prog") or "lvsadm"
        if not isinstance(stdin, str) or not isinstance(prog, str):
            raise ControlError("stdin and prog are strings")
        return await lvsd.lvsadm(argv, stdin, prog)

    def health(request: dict[str, Any]) -> list[dict[str, Any]]:
        return views.health_list(lvsd.states.values())

    async def force(request: dict[str, Any]) -> dict[str, Any]:
        mode = request.get("mode")
        if mode not in FORCE_MODES:
            raise ControlError(f"mode is one of {', '.join(FORCE_MODES)}")
        _, slot = find_slot(lvsd, request)
        if slot.monitor is None:
            raise ControlError(f"real server {slot.label} has no health check running")
        slot.monitor.force(mode)
        await asyncio.sleep(0)  # the monitor acts in a task of its own
        await lvsd.followed()
        return views.health_view(slot)

    async def drain(request: dict[str, Any]) -> dict[str, Any]:
        seconds = _seconds(request.get("deadline"), "deadline")
        state, slot = find_slot(lvsd, request)
        await lvsd.start_drain(state, slot, seconds)
        return views.health_view(slot)

    async def undrain(request: dict[str, Any]) -> dict[str, Any]:
        state, slot = find_slot(lvsd, request)
        await lvsd.stop_drain(state, slot)
        return views.health_view(slot)

    def zero(request: dict[str, Any]) -> dict[str, Any]:
        key = None
        if request.get("service") is not None:
            key = parse_service_id(request["service"])
            if key not in lvsd.table.services:
                raise ControlError(f"no service {request['service']} in the table")
        lvsd.zero(key)
        return {"zeroed": "all" if key is None else service_id(key)}

    async def reload(request: dict[str, Any]) -> dict[str, Any]:
        return await lvsd.reload(source="control socket")

    def history(request: dict[str, Any]) -> dict[str, Any]:
        seconds = _seconds(request.get("seconds", 600), "seconds")
        return lvsd.history.view(600.0 if seconds is None else seconds, lvsd.wall())

    async def activate(request: dict[str, Any]) -> dict[str, Any]:
        return await lvsd.activate()

    return {
        "status": status,
        "table": table,
        "connections": connections,
        "lvsadm": lvsadm,
        "ipvsadm": lvsadm,
        "health": health,
        "force": force,
        "drain": drain,
        "undrain": undrain,
        "zero": zero,
        "reload": reload,
        "history": history,
        "activate": activate,
    }
