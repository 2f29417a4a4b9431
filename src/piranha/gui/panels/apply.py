"""Beyond the original: review the pending change, APPLY it, SYNC TO BACKUP."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from ..reload import apply_all
from ..store import unified_diff
from ..sync import sync_to_backup
from .common import form_of, redirect, render, session_of, snapshot, state_of

router = APIRouter()


@router.get("/apply")
async def apply_page(request: Request) -> Response:
    state = state_of(request)
    snap = await snapshot(request)
    lvsd = await state.daemons.lvsd("status")
    running = lvsd.data.get("serial_no") if lvsd.ok and isinstance(lvsd.data, dict) else None
    diff = unified_diff(state.applied_text, snap.text, snap.path, "loaded by the daemons", "now")
    return render(
        request,
        "apply.html",
        {"title": "APPLY", "diff": diff, "running_serial": running, "lvsd": lvsd,
         "backup": snap.config.backup if snap.config and snap.config.backup_active else None,
         "rsh": snap.config.rsh_command if snap.config else None},
        snapshot=snap, tab="control",
    )  # fmt: skip


@router.post("/apply")
async def apply(request: Request) -> Response:
    state = state_of(request)
    session = session_of(request)
    assert session is not None
    snap = await snapshot(request)
    if snap.config is None:
        session.flash("error", f"{snap.path} has errors; the daemons would refuse it. Nothing was applied.",
                      items=[str(d) for d in snap.problems])  # fmt: skip
        return redirect("/apply")
    form = await form_of(request)
    if form.get("config_digest") != snap.digest:
        session.flash(
            "error",
            f"{snap.path} changed since you reviewed it; nothing was applied. Review the changes again.",
        )
        return redirect("/apply")
    outcomes = await apply_all(
        state.daemons, state.settings.pulse_pidfile, state.settings.lvsd_pidfile
    )
    if any(o.ok for o in outcomes) and not any(o.ok is False for o in outcomes):
        state.applied_text = snap.text
    kind = (
        "error"
        if any(o.ok is False for o in outcomes)
        else "saved"
        if any(o.ok for o in outcomes)
        else "info"
    )
    session.flash(
        kind, "APPLY:",
        items=[o.message + "".join(f" — {e}" for e in o.errors) for o in outcomes],
    )  # fmt: skip
    return redirect("/apply")


@router.post("/sync")
async def sync(request: Request) -> Response:
    state = state_of(request)
    session = session_of(request)
    assert session is not None
    snap = await snapshot(request)
    if snap.config is None or not snap.exists:
        session.flash("error", "SYNC TO BACKUP: there is no valid lvs.cf to copy.")
        return redirect("/apply")
    result = await sync_to_backup(snap.config, snap.path, timeout=state.settings.sync_timeout)
    session.flash(
        "saved" if result.ok else "error",
        f"SYNC TO BACKUP: {result.message}",
        items=[f"{' '.join(s.argv)}: {s.message}" for s in result.steps],
    )
    return redirect("/apply")
