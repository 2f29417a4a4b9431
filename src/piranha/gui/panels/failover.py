"""FAILOVER SERVICES (service = fos): the list and the edit form of one service."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from .. import edits
from ..fields import FAILOVER_FIELDS, read_form
from ..store import Snapshot
from .common import (
    accept,
    block_warnings,
    broken,
    display_values,
    form_of,
    not_found,
    render,
    service_port,
    snapshot,
    warnings_for,
)
from .virtual import _list_action, _status

router = APIRouter()


@router.get("/failover")
async def failover_list(request: Request) -> Response:
    snap = await snapshot(request)
    if snap.config is None:
        return broken(request, snap, "failover")
    rows = [
        {"index": i, "status": _status(f.active), "name": f.name, "address": f.address, "port": f.port,
         "protocol": f.protocol, "interface": f.device or "", "warnings": block_warnings(snap, ("failovers", i))}
        for i, f in enumerate(snap.config.failovers)
    ]  # fmt: skip
    return render(
        request,
        "failover_list.html",
        {"title": "FAILOVER SERVICES", "rows": rows},
        snapshot=snap,
        tab="failover",
    )


@router.post("/failover")
async def failover_list_action(request: Request) -> Response:
    form = await form_of(request)
    snap = await snapshot(request)
    if snap.config is None:
        return broken(request, snap, "failover")
    return await _list_action(
        request, form, snap, "failover", "failover service", "/failover",
        edits.add_failover, edits.delete_failover, edits.toggle_failover, snap.config.failovers,
        lambda i: f"/failover/{i}",
    )  # fmt: skip


def _failover(snap: Snapshot, index: int) -> Any:
    assert snap.config is not None
    return snap.config.failovers[index] if 0 <= index < len(snap.config.failovers) else None


def _page(request, snap, index, values, errors, general, status=200):
    failover = _failover(snap, index)
    return render(
        request,
        "failover_edit.html",
        {"title": f"FAILOVER SERVICE {failover.name}", "index": index, "failover": failover,
         "specs": {s.name: s for s in FAILOVER_FIELDS}, "values": values, "errors": errors,
         "warnings": warnings_for(snap, ("failovers", index), FAILOVER_FIELDS), "general": general},
        status=status, snapshot=snap, tab="failover",
    )  # fmt: skip


@router.get("/failover/{index}")
async def failover_edit(request: Request, index: int) -> Response:
    snap = await snapshot(request)
    if snap.config is None:
        return broken(request, snap, "failover")
    failover = _failover(snap, index)
    if failover is None:
        return not_found(
            request, f"There is no failover service number {index}.", "/failover", snap
        )
    return _page(request, snap, index, display_values(FAILOVER_FIELDS, failover), {}, [])


@router.post("/failover/{index}")
async def failover_accept(request: Request, index: int) -> Response:
    form = await form_of(request)
    snap = await snapshot(request)
    if snap.config is None:
        return broken(request, snap, "failover")
    failover = _failover(snap, index)
    if failover is None:
        return not_found(
            request, f"There is no failover service number {index}.", "/failover", snap
        )
    values, field_errors = read_form(FAILOVER_FIELDS, form, service_port(request))
    shown = {**display_values(FAILOVER_FIELDS, failover), **form}
    if field_errors:
        return _page(
            request, snap, index, shown, {k: [v] for k, v in field_errors.items()}, [], 422
        )
    config = edits.edited(snap.config)
    edits.set_block(config.failovers[index], values)
    return await accept(
        request, form, config, ("failovers", index), FAILOVER_FIELDS,
        what=f"FAILOVER SERVICE {config.failovers[index].name}", back=f"/failover/{index}",
        refused=lambda r: _page(request, snap, index, shown, r.field_errors, r.general, r.status),
    )  # fmt: skip
