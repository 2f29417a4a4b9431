"""GLOBAL SETTINGS and REDUNDANCY."""

from __future__ import annotations

import ipaddress

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from ..edits import edited, set_global, set_redundancy
from ..fields import GLOBAL_FIELDS, REDUNDANCY_FIELDS, read_form
from .common import (
    accept,
    broken,
    conflict_flash,
    display_values,
    form_of,
    redirect,
    render,
    report,
    save,
    service_port,
    snapshot,
    warnings_for,
)

router = APIRouter()
NETWORK_LABELS = {"nat": "NAT", "direct": "Direct Routing", "tunnel": "Tunneling"}


def _own_address(request: Request) -> str | None:
    """The address the browser reached us on, to pre-fill an unset primary (as the original did)."""
    server = request.scope.get("server")
    try:
        ip = ipaddress.ip_address(server[0]) if server else None
    except ValueError:
        return None
    if ip is None or ip.version != 4 or ip.is_loopback or ip.is_unspecified:
        return None
    return str(ip)


def _global_page(request, snap, values, errors, general, status=200):
    return render(
        request,
        "global.html",
        {"title": "GLOBAL SETTINGS", "specs": {s.name: s for s in GLOBAL_FIELDS}, "values": values,
         "errors": errors, "warnings": warnings_for(snap, (), GLOBAL_FIELDS), "general": general,
         "network_labels": NETWORK_LABELS},
        status=status, snapshot=snap, tab="global",
    )  # fmt: skip


@router.get("/global")
async def global_settings(request: Request) -> Response:
    snap = await snapshot(request)
    if snap.config is None:
        return broken(request, snap, "global")
    values = display_values(GLOBAL_FIELDS, snap.config)
    if snap.config.primary in (None, "0.0.0.0"):
        values["primary"] = _own_address(request) or ""
    return _global_page(request, snap, values, {}, [])


@router.post("/global")
async def global_accept(request: Request) -> Response:
    form = await form_of(request)
    snap = await snapshot(request)
    if snap.config is None:
        return broken(request, snap, "global")
    values, field_errors = read_form(GLOBAL_FIELDS, form, service_port(request))
    action = form.get("action", "accept")
    if action.startswith("network:"):
        values["network"] = action.split(":", 1)[1]
    else:
        values.pop("network", None)
    shown = {**display_values(GLOBAL_FIELDS, snap.config), **form}
    if field_errors:
        errors = {k: [v] for k, v in field_errors.items()}
        return _global_page(request, snap, shown, errors, [], 422)
    config = edited(snap.config)
    set_global(config, values)
    return await accept(
        request, form, config, (), GLOBAL_FIELDS, what="GLOBAL SETTINGS", back="/global",
        refused=lambda r: _global_page(request, snap, shown, r.field_errors, r.general, r.status),
    )  # fmt: skip


def _redundancy_page(request, snap, values, errors, general, enabled, status=200, note=None):
    return render(
        request,
        "redundancy.html",
        {"title": "REDUNDANCY", "specs": {s.name: s for s in REDUNDANCY_FIELDS}, "values": values,
         "errors": errors, "warnings": warnings_for(snap, (), REDUNDANCY_FIELDS), "general": general,
         "enabled": enabled, "show_private": bool(snap.config and snap.config.primary_private), "note": note},
        status=status, snapshot=snap, tab="redundancy",
    )  # fmt: skip


# RESET shows these in the form (nothing is written until ACCEPT): the daemons' defaults.
RESET_VALUES = {"backup": "", "backup_private": "", "keepalive": "2", "deadtime": "5", "heartbeat_port": "539",
                "monitor_links": "", "syncdaemon": "", "syncd_iface": "eth0", "syncd_id": "0", "heartbeat_key_file": ""}  # fmt: skip


@router.get("/redundancy")
async def redundancy(request: Request) -> Response:
    snap = await snapshot(request)
    if snap.config is None:
        return broken(request, snap, "redundancy")
    values = display_values(REDUNDANCY_FIELDS, snap.config)
    if values.get("backup") == "0.0.0.0":
        values["backup"] = ""
    enabled = bool(snap.config.backup_active)
    note = None
    if request.query_params.get("enable") == "1" and not enabled:
        enabled = True
        note = "Fill in the backup router and click ACCEPT to enable redundancy."
    if request.query_params.get("reset") == "1":
        values.update(RESET_VALUES)
        note = "The form shows the default values; click ACCEPT to save them."
    return _redundancy_page(request, snap, values, {}, [], enabled, note=note)


@router.post("/redundancy")
async def redundancy_accept(request: Request) -> Response:
    form = await form_of(request)
    snap = await snapshot(request)
    if snap.config is None:
        return broken(request, snap, "redundancy")
    action = form.get("action", "accept")
    config = edited(snap.config)
    if action == "disable":
        set_redundancy(config, {}, enable=False)
        result = await save(request, form.get("config_digest", ""), config, (), REDUNDANCY_FIELDS)
        if result.conflict:
            conflict_flash(request, result.conflict)
        elif result.ok:
            report(request, result, "REDUNDANCY disabled")
        else:
            return _redundancy_page(request, snap, display_values(REDUNDANCY_FIELDS, snap.config),
                                    result.field_errors, result.general, False, result.status)  # fmt: skip
        return redirect("/redundancy")
    values, field_errors = read_form(REDUNDANCY_FIELDS, form, service_port(request))
    shown = {**display_values(REDUNDANCY_FIELDS, snap.config), **form}
    if field_errors:
        return _redundancy_page(
            request, snap, shown, {k: [v] for k, v in field_errors.items()}, [], True, 422
        )
    set_redundancy(config, values, enable=True)
    return await accept(
        request, form, config, (), REDUNDANCY_FIELDS, what="REDUNDANCY", back="/redundancy",
        refused=lambda r: _redundancy_page(request, snap, shown, r.field_errors, r.general, True, r.status),
    )  # fmt: skip
