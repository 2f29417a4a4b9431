"""CONTROL/MONITORING, its status fragment, the charts, CHANGE PASSWORD and HELP."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from ..charts import dest_names, server_charts
from ..daemons import Overview, Reply
from .common import render, snapshot, state_of

router = APIRouter()

DEFAULT_RATE = 10
MIN_RATE = 10  # the original's minimum; faster makes the interval field hard to edit (guide 4.3)
MAX_RATE = 3600
CHART_SECONDS = 600


def _rate(text: str | None) -> int:
    try:
        rate = int(text) if text is not None else DEFAULT_RATE
    except ValueError:
        rate = DEFAULT_RATE
    return min(max(rate, MIN_RATE), MAX_RATE)


def _ago(now: float, then: Any) -> str:
    if not isinstance(then, int | float) or isinstance(then, bool):
        return ""
    seconds = max(now - then, 0)
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(then))


def _with_since(overview: Overview) -> Overview:
    health = overview.health
    if health.ok and isinstance(health.data, list):
        now = time.time()
        rows = [
            {**h, "since_text": _ago(now, h.get("since"))}
            for h in health.data
            if isinstance(h, dict)
        ]
        health = Reply(health.daemon, True, rows)
    return Overview(overview.lvsd, overview.routing, health, overview.pulse)


def _processes(overview: Overview) -> list[str]:
    """The original listed pulse, lvs and nanny processes; here nanny's checks are tasks inside lvsd."""
    lines = []
    pulse = (
        overview.pulse.data if overview.pulse.ok and isinstance(overview.pulse.data, dict) else None
    )
    lvsd = overview.lvsd.data if overview.lvsd.ok and isinstance(overview.lvsd.data, dict) else None
    if pulse is not None:
        lines.append(f"pulse        {pulse.get('role', '?')}, {pulse.get('state', '?')}")
    if lvsd is not None:
        checks = (
            len(overview.health.data)
            if overview.health.ok and isinstance(overview.health.data, list)
            else 0
        )
        lines.append(
            f"lvsd         pid {lvsd.get('pid', '?')}, {lvsd.get('state', '?')}, data plane {lvsd.get('dataplane', '?')}"
        )
        lines.append(f"  nanny      {checks} health check{'s' * (checks != 1)} (tasks inside lvsd)")
    return lines


async def _status_context(request: Request, rate: int, auto: bool) -> dict[str, Any]:
    state = state_of(request)
    snap = await snapshot(request)
    overview = _with_since(await state.daemons.overview())
    running_serial = (
        overview.lvsd.data.get("serial_no")
        if overview.lvsd.ok and isinstance(overview.lvsd.data, dict)
        else None
    )
    pending = snap.text != state.applied_text or (
        running_serial is not None
        and snap.serial_no is not None
        and running_serial != snap.serial_no
    )
    return {
        "overview": overview,
        "processes": _processes(overview),
        "rate": rate,
        "auto_update": auto,
        "file_serial": snap.serial_no,
        "pending": pending,
        "fos": snap.config is not None and snap.config.service == "fos",
        "_snapshot": snap,
    }


@router.get("/control")
async def control(request: Request) -> Response:
    auto = request.query_params.get("auto_update") == "1"
    rate = _rate(request.query_params.get("rate"))
    ctx = await _status_context(request, rate, auto)
    snap = ctx.pop("_snapshot")
    ctx["title"] = "CONTROL/MONITORING"
    if auto:
        ctx["refresh"] = {"rate": rate, "url": f"/control?auto_update=1&rate={rate}"}
    return render(request, "control.html", ctx, snapshot=snap, tab="control")


@router.get("/control/status")
async def control_status(request: Request) -> Response:
    """The status part of CONTROL/MONITORING alone, for htmx's in-place refresh."""
    rate = _rate(request.query_params.get("rate"))
    ctx = await _status_context(request, rate, True)
    snap = ctx.pop("_snapshot")
    return render(request, "control_status.html", ctx, snapshot=snap, fragment=True)


@router.get("/control/charts")
async def charts(request: Request) -> Response:
    state = state_of(request)
    snap = await snapshot(request)
    reply = await state.daemons.lvsd("history", seconds=CHART_SECONDS)
    groups = []
    interval = 2
    if reply.ok and isinstance(reply.data, dict):
        table = await state.daemons.lvsd("table")
        groups = server_charts(reply.data, dest_names(table.data if table.ok else None))
        interval = reply.data.get("interval", 2)
    return render(
        request,
        "charts.html",
        {
            "title": "CHARTS",
            "reply": reply,
            "groups": groups,
            "minutes": CHART_SECONDS // 60,
            "interval": interval,
        },
        snapshot=snap,
        tab="control",
    )


@router.get("/password")
async def change_password(request: Request) -> Response:
    snap = await snapshot(request)
    return render(
        request,
        "password.html",
        {"title": "CHANGE PASSWORD", "passwd_file": str(state_of(request).settings.passwd_file)},
        snapshot=snap,
        tab="control",
    )


@router.get("/help")
async def help_page(request: Request) -> Response:
    snap = await snapshot(request)
    return render(request, "help.html", {"title": "HELP"}, snapshot=snap)
