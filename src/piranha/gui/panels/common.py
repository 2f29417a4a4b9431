"""What every panel shares: templates, the page frame, reading forms, the save-and-report step."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates

from piranha import __version__
from piranha.config import Config, Diagnostic

from ..edits import field_messages
from ..fields import MASKS, SCHEDULER_LABELS, FieldSpec, form_value
from ..sessions import Session
from ..state import GuiState
from ..store import Conflict, Invalid, Saved, Snapshot, WriteFailed

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
    autoescape=True,  # every value escaped, in every template
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
templates = Jinja2Templates(env=_env)
_env.globals.update(MASKS=MASKS, SCHEDULER_LABELS=SCHEDULER_LABELS, VERSION=__version__)


def state_of(request: Request) -> GuiState:
    return request.app.state.gui


def session_of(request: Request) -> Session | None:
    return request.scope.get("piranha.session")


def tabs(config: Config | None) -> list[tuple[str, str, str]]:
    fourth = (
        ("failover", "FAILOVER SERVICES", "/failover")
        if config is not None and config.service == "fos"
        else ("virtual", "VIRTUAL SERVERS", "/virtual")
    )
    return [
        ("control", "CONTROL/MONITORING", "/control"),
        ("global", "GLOBAL SETTINGS", "/global"),
        ("redundancy", "REDUNDANCY", "/redundancy"),
        fourth,
    ]


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    status: int = 200,
    snapshot: Snapshot | None = None,
    tab: str | None = None,
    fragment: bool = False,
) -> HTMLResponse:
    """A page (or, with `fragment`, a part of one that must not consume the session's messages)."""
    session = session_of(request)
    ctx: dict[str, Any] = {
        "session": session,
        "csrf": session.csrf if session else "",
        "flashes": session.take_flashes() if session and not fragment else [],
        "tab": tab,
        "tabs": tabs(snapshot.config if snapshot else None) if session else [],
        "snapshot": snapshot,
        "digest": snapshot.digest if snapshot else "",
        "title": "",
        "refresh": None,
        "head_extra": False,
    }
    ctx.update(context)
    return templates.TemplateResponse(request, template, ctx, status_code=status)


async def form_of(request: Request) -> dict[str, str]:
    """The submitted form as a plain dict (last value wins; files are ignored)."""
    data = await request.form()
    return {k: v for k, v in data.multi_items() if isinstance(v, str)}


async def snapshot(request: Request) -> Snapshot:
    # Parsing may resolve host names: keep it off the event loop.
    return await asyncio.to_thread(state_of(request).store.snapshot)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def broken(request: Request, snap: Snapshot, tab: str) -> HTMLResponse:
    """The file cannot be edited: say why and how to fix it (the tool never guesses)."""
    return render(
        request, "broken.html", {"title": "lvs.cf has errors"}, status=409, snapshot=snap, tab=tab
    )


def display_values(specs: list[FieldSpec], block: Any) -> dict[str, str]:
    return {s.name: form_value(s, getattr(block, s.name, None)) for s in specs}


@dataclass
class EditResult:
    saved: Saved | None = None
    field_errors: dict[str, list[str]] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)
    conflict: str | None = None
    status: int = 200

    @property
    def ok(self) -> bool:
        return self.saved is not None


async def save(
    request: Request,
    digest: str,
    config: Config,
    scope: tuple[Any, ...] = (),
    specs: list[FieldSpec] | None = None,
) -> EditResult:
    """Validate and write `config`; map what `piranha check` says back to the fields."""
    store = state_of(request).store
    try:
        saved = await asyncio.to_thread(store.save, digest, config)
    except Conflict as exc:
        return EditResult(conflict=str(exc), status=409)
    except Invalid as exc:
        per_field, general = field_messages(exc.diagnostics, scope, specs or [])
        return EditResult(field_errors=per_field, general=general, status=422)
    except WriteFailed as exc:
        return EditResult(general=[str(exc)], status=500)
    return EditResult(saved=saved)


def report(request: Request, result: EditResult, what: str) -> None:
    """Tell the next page what the save did (with the diff of what was written)."""
    session = session_of(request)
    if session is None or result.saved is None:
        return
    saved = result.saved
    if not saved.changed:
        session.flash("info", f"{what}: nothing changed, the file was not rewritten.")
        return
    session.flash(
        "saved",
        f"{what}: saved {saved.after.path} (serial_no {saved.after.serial_no}). "
        "The daemons still run the previous version until you APPLY it.",
        diff=saved.diff,
        items=[d.message for d in saved.warnings],
    )


async def accept(
    request: Request,
    form: dict[str, str],
    config: Config,
    scope: tuple[Any, ...],
    specs: list[FieldSpec],
    *,
    what: str,
    back: str,
    refused: Callable[[EditResult], Response],
    done: str | None = None,
) -> Response:
    """ACCEPT's last step on every edit panel: save the edited `config`; a conflict
    (flashed) goes back to `back`, a save (reported as `what`) to `done` (default
    `back`); a refusal renders the panel again through `refused` with the messages
    next to the fields."""
    result = await save(request, form.get("config_digest", ""), config, scope, specs)
    if result.conflict:
        conflict_flash(request, result.conflict)
        return redirect(back)
    if not result.ok:
        return refused(result)
    report(request, result, what)
    return redirect(done or back)


def conflict_flash(request: Request, message: str) -> None:
    session = session_of(request)
    if session is not None:
        session.flash("error", message)


def warnings_for(
    snap: Snapshot, scope: tuple[Any, ...], specs: list[FieldSpec]
) -> dict[str, list[str]]:
    """The current file's warnings about the block at `scope`, per field."""
    diags: list[Diagnostic] = [d for d in snap.problems if not d.is_error]
    per_field, _ = field_messages(diags, scope, specs)
    return per_field


def block_warnings(snap: Snapshot, scope: tuple[Any, ...]) -> list[str]:
    return [d.message for d in snap.problems if not d.is_error and tuple(d.scope) == tuple(scope)]


def index_or_none(text: str | None, length: int) -> int | None:
    if text is None or not text.isdigit():
        return None
    i = int(text)
    return i if 0 <= i < length else None


def service_port(request: Request) -> Callable[[str], int | None]:
    return state_of(request).settings.environment().service_port


def not_found(request: Request, what: str, back: str, snap: Snapshot | None) -> Response:
    return render(
        request,
        "message.html",
        {"title": "Not found", "message": what, "back": back},
        status=404,
        snapshot=snap,
    )
