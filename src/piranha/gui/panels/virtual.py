"""VIRTUAL SERVERS and its subsections VIRTUAL SERVER, REAL SERVER, MONITORING SCRIPTS."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from piranha.config import Config

from .. import edits
from ..fields import LOAD_MONITORS, SCRIPT_FIELDS, SERVER_FIELDS, VIRTUAL_FIELDS, read_form
from ..store import Snapshot
from .common import (
    EditResult,
    accept,
    block_warnings,
    broken,
    conflict_flash,
    display_values,
    form_of,
    index_or_none,
    not_found,
    redirect,
    render,
    report,
    save,
    service_port,
    snapshot,
    warnings_for,
)

router = APIRouter()


def _status(active: Any) -> str:
    return "up" if active is True else "down"


async def _list_action(
    request: Request, form: dict[str, str], snap: Snapshot, kind: str, what: str, back: str,
    add, delete, toggle, items: list[Any], edit_url,
) -> Response:  # fmt: skip
    """ADD / DELETE / EDIT / (DE)ACTIVATE on a table with one radio button per row."""
    assert snap.config is not None
    session = request.scope["piranha.session"]
    action = form.get("action", "")
    digest = form.get("config_digest", "")
    selected = index_or_none(form.get("selected"), len(items))
    if action != "add" and selected is None:
        session.flash("error", f"Select a {what} first (the radio button at the start of its row).")
        return redirect(back)
    if digest != snap.digest:
        conflict_flash(
            request,
            f"{snap.path} changed since this page was shown; nothing was done. The page now shows the current file.",
        )
        return redirect(back)
    if action == "edit":
        return redirect(edit_url(selected))
    config = edits.edited(snap.config)
    if action == "add":
        add(config)
        label = f"ADD {what}"
    elif action == "delete":
        name = delete(config, selected).name
        label = f"DELETE {what} {name}"
    elif action == "toggle":
        now = toggle(config, selected)
        label = f"{'ACTIVATE' if now else 'DEACTIVATE'} {what}"
    else:
        session.flash("error", f"Unknown button `{action}`.")
        return redirect(back)
    result: EditResult = await save(request, digest, config)
    if result.conflict:
        conflict_flash(request, result.conflict)
    elif not result.ok:
        session.flash(
            "error",
            f"{label}: not saved.",
            items=result.general + [m for ms in result.field_errors.values() for m in ms],
        )
    else:
        report(request, result, label)
    return redirect(back)


# --- VIRTUAL SERVERS ------------------------------------------------------------------------
@router.get("/virtual")
async def virtual_list(request: Request) -> Response:
    snap = await snapshot(request)
    if snap.config is None:
        return broken(request, snap, "virtual")
    rows = [
        {"index": i, "status": _status(v.active), "name": v.name, "vip": v.address, "netmask": v.vip_nmask or "Unused",
         "port": f"fwmark {v.fwmark}" if v.fwmark else (v.port if v.port is not None else "n/a"),
         "protocol": v.protocol, "interface": v.device or "", "warnings": block_warnings(snap, ("virtuals", i))}
        for i, v in enumerate(snap.config.virtuals)
    ]  # fmt: skip
    return render(
        request,
        "virtual_list.html",
        {"title": "VIRTUAL SERVERS", "rows": rows},
        snapshot=snap,
        tab="virtual",
    )


@router.post("/virtual")
async def virtual_list_action(request: Request) -> Response:
    form = await form_of(request)
    snap = await snapshot(request)
    if snap.config is None:
        return broken(request, snap, "virtual")
    return await _list_action(
        request, form, snap, "virtual", "virtual server", "/virtual",
        edits.add_virtual, edits.delete_virtual, edits.toggle_virtual, snap.config.virtuals,
        lambda i: f"/virtual/{i}",
    )  # fmt: skip


def _virtual(snap: Snapshot, index: int) -> Any:
    assert snap.config is not None
    return snap.config.virtuals[index] if 0 <= index < len(snap.config.virtuals) else None


def _virtual_page(request, snap, index, values, errors, general, status=200):
    virtual = _virtual(snap, index)
    return render(
        request,
        "virtual_edit.html",
        {"title": f"VIRTUAL SERVER {virtual.name}", "index": index, "virtual": virtual,
         "specs": {s.name: s for s in VIRTUAL_FIELDS}, "values": values, "errors": errors,
         "warnings": warnings_for(snap, ("virtuals", index), VIRTUAL_FIELDS), "general": general,
         "load_monitors": LOAD_MONITORS, "sub": "virtual"},
        status=status, snapshot=snap, tab="virtual",
    )  # fmt: skip


def _virtual_display(virtual: Any) -> dict[str, str]:
    values = display_values(VIRTUAL_FIELDS, virtual)
    values["load_monitor"] = values["load_monitor"] or "none"
    if values["fwmark"] == "0":
        values["fwmark"] = ""
    return values


@router.get("/virtual/{index}")
async def virtual_edit(request: Request, index: int) -> Response:
    snap = await snapshot(request)
    if snap.config is None:
        return broken(request, snap, "virtual")
    virtual = _virtual(snap, index)
    if virtual is None:
        return not_found(request, f"There is no virtual server number {index}.", "/virtual", snap)
    return _virtual_page(request, snap, index, _virtual_display(virtual), {}, [])


@router.post("/virtual/{index}")
async def virtual_accept(request: Request, index: int) -> Response:
    form = await form_of(request)
    snap = await snapshot(request)
    if snap.config is None:
        return broken(request, snap, "virtual")
    virtual = _virtual(snap, index)
    if virtual is None:
        return not_found(request, f"There is no virtual server number {index}.", "/virtual", snap)
    values, field_errors = read_form(VIRTUAL_FIELDS, form, service_port(request))
    shown = {**_virtual_display(virtual), **form}
    if field_errors:
        return _virtual_page(
            request, snap, index, shown, {k: [v] for k, v in field_errors.items()}, [], 422
        )
    if values.get("load_monitor") == "none":
        values["load_monitor"] = (
            virtual.load_monitor if virtual.load_monitor in (None, "none") else None
        )
    config = edits.edited(snap.config)
    edits.set_block(config.virtuals[index], values)
    return await accept(
        request, form, config, ("virtuals", index), VIRTUAL_FIELDS,
        what=f"VIRTUAL SERVER {config.virtuals[index].name}", back=f"/virtual/{index}",
        refused=lambda r: _virtual_page(request, snap, index, shown, r.field_errors, r.general, r.status),
    )  # fmt: skip


# --- REAL SERVER ------------------------------------------------------------------------------
@router.get("/virtual/{index}/real")
async def real_list(request: Request, index: int) -> Response:
    snap = await snapshot(request)
    if snap.config is None:
        return broken(request, snap, "virtual")
    virtual = _virtual(snap, index)
    if virtual is None:
        return not_found(request, f"There is no virtual server number {index}.", "/virtual", snap)
    rows = [
        {"index": j, "status": _status(s.active), "name": s.name, "address": s.address,
         "port": virtual.server_port(s), "weight": s.weight,
         "warnings": block_warnings(snap, ("virtuals", index, "servers", j))}
        for j, s in enumerate(virtual.servers)
    ]  # fmt: skip
    return render(
        request, "real_list.html",
        {"title": f"REAL SERVER {virtual.name}", "index": index, "virtual": virtual, "rows": rows, "sub": "real"},
        snapshot=snap, tab="virtual",
    )  # fmt: skip


@router.post("/virtual/{index}/real")
async def real_list_action(request: Request, index: int) -> Response:
    form = await form_of(request)
    snap = await snapshot(request)
    if snap.config is None:
        return broken(request, snap, "virtual")
    virtual = _virtual(snap, index)
    if virtual is None:
        return not_found(request, f"There is no virtual server number {index}.", "/virtual", snap)

    def on(config: Config) -> Any:
        return config.virtuals[index]

    return await _list_action(
        request, form, snap, "server", "real server", f"/virtual/{index}/real",
        lambda c: edits.add_server(on(c)), lambda c, j: edits.delete_server(on(c), j),
        lambda c, j: edits.toggle_server(on(c), j), virtual.servers,
        lambda j: f"/virtual/{index}/real/{j}",
    )  # fmt: skip


def _server_page(request, snap, index, j, values, errors, general, status=200):
    virtual = _virtual(snap, index)
    return render(
        request,
        "real_edit.html",
        {"title": f"EDIT REAL SERVER {virtual.servers[j].name}", "index": index, "j": j, "virtual": virtual,
         "server": virtual.servers[j], "specs": {s.name: s for s in SERVER_FIELDS}, "values": values,
         "errors": errors, "warnings": warnings_for(snap, ("virtuals", index, "servers", j), SERVER_FIELDS),
         "general": general, "sub": "real"},
        status=status, snapshot=snap, tab="virtual",
    )  # fmt: skip


def _server_display(server: Any) -> dict[str, str]:
    values = display_values(SERVER_FIELDS, server)
    for key in ("uthreshold", "lthreshold"):
        if values[key] == "0":
            values[key] = ""
    return values


@router.get("/virtual/{index}/real/{j}")
async def real_edit(request: Request, index: int, j: int) -> Response:
    snap = await snapshot(request)
    if snap.config is None:
        return broken(request, snap, "virtual")
    virtual = _virtual(snap, index)
    if virtual is None or not 0 <= j < len(virtual.servers):
        return not_found(request, "There is no such real server.", "/virtual", snap)
    return _server_page(request, snap, index, j, _server_display(virtual.servers[j]), {}, [])


@router.post("/virtual/{index}/real/{j}")
async def real_accept(request: Request, index: int, j: int) -> Response:
    form = await form_of(request)
    snap = await snapshot(request)
    if snap.config is None:
        return broken(request, snap, "virtual")
    virtual = _virtual(snap, index)
    if virtual is None or not 0 <= j < len(virtual.servers):
        return not_found(request, "There is no such real server.", "/virtual", snap)
    values, field_errors = read_form(SERVER_FIELDS, form, service_port(request))
    shown = {**_server_display(virtual.servers[j]), **form}
    if field_errors:
        return _server_page(
            request, snap, index, j, shown, {k: [v] for k, v in field_errors.items()}, [], 422
        )
    config = edits.edited(snap.config)
    edits.set_block(config.virtuals[index].servers[j], values)
    return await accept(
        request, form, config, ("virtuals", index, "servers", j), SERVER_FIELDS,
        what=f"REAL SERVER {config.virtuals[index].servers[j].name}", back=f"/virtual/{index}/real/{j}",
        refused=lambda r: _server_page(request, snap, index, j, shown, r.field_errors, r.general, r.status),
        done=f"/virtual/{index}/real",
    )  # fmt: skip


# --- MONITORING SCRIPTS -----------------------------------------------------------------------
BLANKS = {"blank:send_program": "send_program", "blank:send": "send", "blank:expect": "expect"}


def _scripts_page(request, snap, index, values, errors, general, status=200, note=None):
    virtual = _virtual(snap, index)
    return render(
        request,
        "scripts.html",
        {"title": f"EDIT MONITORING SCRIPTS {virtual.name}", "index": index, "virtual": virtual,
         "specs": {s.name: s for s in SCRIPT_FIELDS}, "values": values, "errors": errors,
         "warnings": warnings_for(snap, ("virtuals", index), SCRIPT_FIELDS), "general": general,
         "note": note, "sub": "scripts"},
        status=status, snapshot=snap, tab="virtual",
    )  # fmt: skip


@router.get("/virtual/{index}/scripts")
async def scripts(request: Request, index: int) -> Response:
    snap = await snapshot(request)
    if snap.config is None:
        return broken(request, snap, "virtual")
    virtual = _virtual(snap, index)
    if virtual is None:
        return not_found(request, f"There is no virtual server number {index}.", "/virtual", snap)
    return _scripts_page(request, snap, index, display_values(SCRIPT_FIELDS, virtual), {}, [])


@router.post("/virtual/{index}/scripts")
async def scripts_accept(request: Request, index: int) -> Response:
    form = await form_of(request)
    snap = await snapshot(request)
    if snap.config is None:
        return broken(request, snap, "virtual")
    virtual = _virtual(snap, index)
    if virtual is None:
        return not_found(request, f"There is no virtual server number {index}.", "/virtual", snap)
    action = form.get("action", "accept")
    shown = {**display_values(SCRIPT_FIELDS, virtual), **form}
    if action in BLANKS:
        # like the original's reset buttons: blank the replacement text; ACCEPT writes it
        shown[BLANKS[action]] = ""
        return _scripts_page(
            request, snap, index, shown, {}, [], note="Click ACCEPT to save the blanked field."
        )
    values, field_errors = read_form(SCRIPT_FIELDS, form, service_port(request))
    if field_errors:
        return _scripts_page(
            request, snap, index, shown, {k: [v] for k, v in field_errors.items()}, [], 422
        )
    config = edits.edited(snap.config)
    edits.set_block(config.virtuals[index], values)
    return await accept(
        request, form, config, ("virtuals", index), SCRIPT_FIELDS,
        what=f"MONITORING SCRIPTS {config.virtuals[index].name}", back=f"/virtual/{index}/scripts",
        refused=lambda r: _scripts_page(request, snap, index, shown, r.field_errors, r.general, r.status),
    )  # fmt: skip
