"""The JSON API under /api/v1: the panels' operations for programs.

Authentication is the guard's (``Authorization: Bearer <token>`` from
``piranha gui --new-api-token``, or a logged-in session with the
``X-CSRF-Token`` header for changes).  Edits go through the same field
rules, the same `piranha check` gate and the same atomic save as the
panels.  Blocks are named by their lvs.cf names; ``If-Match: <digest>``
makes a change conditional on the file being the one read (412 otherwise).
The OpenAPI document is /api/v1/openapi.json.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import FastAPI, Header, HTTPException
from pydantic import BaseModel, ConfigDict, Field, create_model

from piranha.config import Config
from piranha.config.model import schema_fields

from . import edits
from .edits import field_messages
from .fields import (
    GLOBAL_FIELDS,
    REDUNDANCY_FIELDS,
    SCRIPT_FIELDS,
    SERVER_FIELDS,
    VIRTUAL_FIELDS,
    FieldSpec,
    read_json,
)
from .reload import apply_all
from .state import GuiState
from .store import Conflict, Invalid, Saved, Snapshot, WriteFailed, unified_diff
from .sync import sync_to_backup

IfMatch = Annotated[
    str | None, Header(description="the `digest` of the file this change was made from")
]
ACTIVE = FieldSpec("active", "Active", "bool")
BACKUP_ACTIVE = FieldSpec("backup_active", "Backup router exists (heartbeats on)", "bool")
GLOBAL_API_FIELDS = [*GLOBAL_FIELDS, BACKUP_ACTIVE, *REDUNDANCY_FIELDS]
VIRTUAL_API_FIELDS = [*VIRTUAL_FIELDS, ACTIVE, *SCRIPT_FIELDS]
SERVER_API_FIELDS = [*SERVER_FIELDS, ACTIVE]


def _pytype(spec: FieldSpec) -> Any:
    if spec.kind == "bool":
        return bool | None
    if spec.kind == "int":
        return int | None
    if spec.kind == "port":
        return int | str | None
    return str | None


def _model(name: str, specs: list[FieldSpec]) -> type[BaseModel]:
    fields: dict[str, Any] = {
        s.name: (
            _pytype(s),
            Field(default=None, description=s.label + (f" — {s.help}" if s.help else "")),
        )
        for s in specs
    }
    return create_model(name, __config__=ConfigDict(extra="forbid"), **fields)


GlobalPatch = _model("GlobalPatch", GLOBAL_API_FIELDS)
VirtualFields = _model("VirtualFields", VIRTUAL_API_FIELDS)
ServerFields = _model("ServerFields", SERVER_API_FIELDS)


class SaveResult(BaseModel):
    saved: bool = Field(description="False when nothing changed (the file was not rewritten)")
    serial_no: int | None
    digest: str
    diff: str
    warnings: list[str]


class ApplyOutcome(BaseModel):
    daemon: str
    ok: bool | None
    message: str
    errors: list[str]


class SyncOutcome(BaseModel):
    ok: bool
    message: str
    backup: str | None
    local_sha256: str | None
    remote_sha256: str | None


def block_json(block: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"name": block.name}
    out.update({f: getattr(block, f) for f in schema_fields(block)})
    return out


def config_json(snap: Snapshot) -> dict[str, Any]:
    config = snap.config
    assert config is not None
    return {
        "path": str(snap.path),
        "digest": snap.digest,
        "serial_no": config.serial_no,
        "global": {f: getattr(config, f) for f in schema_fields(config)},
        "virtuals": [
            {**block_json(v), "servers": [block_json(s) for s in v.servers]}
            for v in config.virtuals
        ],
        "failovers": [block_json(f) for f in config.failovers],
        "warnings": [d.message for d in snap.problems if not d.is_error],
    }


def create_api(state: GuiState) -> FastAPI:
    api = FastAPI(
        title="Piranha Configuration Tool API",
        version="1",
        description=__doc__,
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    api.state.gui = state

    async def current() -> Snapshot:
        snap = await asyncio.to_thread(state.store.snapshot)
        if snap.config is None:
            raise HTTPException(
                409, {"errors": [str(d) for d in snap.problems] or [snap.read_error]}
            )
        return snap

    def service_port() -> Callable[[str], int | None]:
        return state.settings.environment().service_port

    async def commit(
        snap: Snapshot,
        if_match: str | None,
        config: Config,
        scope: tuple[Any, ...],
        specs: list[FieldSpec],
    ) -> SaveResult:
        if if_match is not None and if_match.strip('"') != snap.digest:
            raise HTTPException(
                412, f"{snap.path} is no longer the version {if_match} (now {snap.digest})"
            )
        try:
            saved: Saved = await asyncio.to_thread(state.store.save, snap.digest, config)
        except Conflict as exc:
            raise HTTPException(409, str(exc)) from None
        except Invalid as exc:
            per_field, general = field_messages(exc.diagnostics, scope, specs)
            raise HTTPException(422, {"errors": per_field, "general": general}) from None
        except WriteFailed as exc:
            raise HTTPException(500, str(exc)) from None
        return SaveResult(
            saved=saved.changed,
            serial_no=saved.after.serial_no,
            digest=saved.after.digest,
            diff=saved.diff,
            warnings=[d.message for d in saved.warnings],
        )

    def read(specs: list[FieldSpec], body: BaseModel) -> dict[str, Any]:
        values, errors = read_json(specs, body.model_dump(exclude_unset=True), service_port())
        if errors:
            raise HTTPException(422, {"errors": {k: [v] for k, v in errors.items()}, "general": []})
        return values

    def find(items: list[Any], name: str, what: str) -> int:
        found = [i for i, b in enumerate(items) if b.name == name]
        if not found:
            raise HTTPException(404, f"no {what} named {name!r}")
        if len(found) > 1:
            raise HTTPException(
                409, f"{len(found)} {what}s are named {name!r}; rename them in the panels first"
            )
        return found[0]

    @api.get("/config", summary="The whole lvs.cf as JSON")
    async def get_config() -> dict[str, Any]:
        return config_json(await current())

    @api.patch(
        "/config/global", summary="Edit global settings and redundancy", response_model=SaveResult
    )
    async def patch_global(body: GlobalPatch, if_match: IfMatch = None) -> SaveResult:
        snap = await current()
        values = read(GLOBAL_API_FIELDS, body)
        config = edits.edited(snap.config)  # type: ignore[arg-type]
        enable = values.pop("backup_active", None)
        edits.set_global(
            config, {k: v for k, v in values.items() if k in {s.name for s in GLOBAL_FIELDS}}
        )
        edits.set_redundancy(
            config,
            {k: v for k, v in values.items() if k in {s.name for s in REDUNDANCY_FIELDS}},
            enable,
        )
        return await commit(snap, if_match, config, (), GLOBAL_API_FIELDS)

    @api.get("/virtuals", summary="Every virtual server with its real servers")
    async def list_virtuals() -> list[dict[str, Any]]:
        return config_json(await current())["virtuals"]

    @api.post(
        "/virtuals", summary="Add a virtual server", status_code=201, response_model=SaveResult
    )
    async def add_virtual(body: VirtualFields, if_match: IfMatch = None) -> SaveResult:
        snap = await current()
        values = read(VIRTUAL_API_FIELDS, body)
        config = edits.edited(snap.config)  # type: ignore[arg-type]
        index = edits.add_virtual(config)
        edits.set_block(config.virtuals[index], values)
        return await commit(snap, if_match, config, ("virtuals", index), VIRTUAL_API_FIELDS)

    @api.get("/virtuals/{name}", summary="One virtual server")
    async def get_virtual(name: str) -> dict[str, Any]:
        snap = await current()
        index = find(snap.config.virtuals, name, "virtual server")  # type: ignore[union-attr]
        return config_json(snap)["virtuals"][index]

    @api.patch(
        "/virtuals/{name}",
        summary="Edit a virtual server (and its monitoring scripts)",
        response_model=SaveResult,
    )
    async def patch_virtual(name: str, body: VirtualFields, if_match: IfMatch = None) -> SaveResult:
        snap = await current()
        config = edits.edited(snap.config)  # type: ignore[arg-type]
        index = find(config.virtuals, name, "virtual server")
        edits.set_block(config.virtuals[index], read(VIRTUAL_API_FIELDS, body))
        return await commit(snap, if_match, config, ("virtuals", index), VIRTUAL_API_FIELDS)

    @api.delete("/virtuals/{name}", summary="Delete a virtual server", response_model=SaveResult)
    async def delete_virtual(name: str, if_match: IfMatch = None) -> SaveResult:
        snap = await current()
        config = edits.edited(snap.config)  # type: ignore[arg-type]
        edits.delete_virtual(config, find(config.virtuals, name, "virtual server"))
        return await commit(snap, if_match, config, (), [])

    @api.post(
        "/virtuals/{name}/servers",
        summary="Add a real server",
        status_code=201,
        response_model=SaveResult,
    )
    async def add_server(name: str, body: ServerFields, if_match: IfMatch = None) -> SaveResult:
        snap = await current()
        config = edits.edited(snap.config)  # type: ignore[arg-type]
        index = find(config.virtuals, name, "virtual server")
        values = read(SERVER_API_FIELDS, body)
        j = edits.add_server(config.virtuals[index])
        edits.set_block(config.virtuals[index].servers[j], values)
        return await commit(
            snap, if_match, config, ("virtuals", index, "servers", j), SERVER_API_FIELDS
        )

    @api.patch(
        "/virtuals/{name}/servers/{server}", summary="Edit a real server", response_model=SaveResult
    )
    async def patch_server(
        name: str, server: str, body: ServerFields, if_match: IfMatch = None
    ) -> SaveResult:
        snap = await current()
        config = edits.edited(snap.config)  # type: ignore[arg-type]
        index = find(config.virtuals, name, "virtual server")
        j = find(config.virtuals[index].servers, server, "real server")
        edits.set_block(config.virtuals[index].servers[j], read(SERVER_API_FIELDS, body))
        return await commit(
            snap, if_match, config, ("virtuals", index, "servers", j), SERVER_API_FIELDS
        )

    @api.delete(
        "/virtuals/{name}/servers/{server}",
        summary="Delete a real server",
        response_model=SaveResult,
    )
    async def delete_server(name: str, server: str, if_match: IfMatch = None) -> SaveResult:
        snap = await current()
        config = edits.edited(snap.config)  # type: ignore[arg-type]
        index = find(config.virtuals, name, "virtual server")
        edits.delete_server(
            config.virtuals[index], find(config.virtuals[index].servers, server, "real server")
        )
        return await commit(snap, if_match, config, (), [])

    @api.get("/status", summary="lvsd and pulse status, and the file's serial number")
    async def status() -> dict[str, Any]:
        snap = await asyncio.to_thread(state.store.snapshot)
        lvsd, pulse = await asyncio.gather(
            state.daemons.lvsd("status"), state.daemons.pulse("status")
        )
        return {
            "lvsd": lvsd.data if lvsd.ok else {"error": lvsd.error, "running": lvsd.running},
            "pulse": pulse.data if pulse.ok else {"error": pulse.error, "running": pulse.running},
            "file": {"path": str(snap.path), "serial_no": snap.serial_no, "digest": snap.digest,
                     "pending": snap.text != state.applied_text, "valid": snap.usable},
        }  # fmt: skip

    async def proxied(op: str, **params: Any) -> Any:
        reply = await state.daemons.lvsd(op, **params)
        if not reply.ok:
            raise HTTPException(503, reply.error)
        return reply.data

    @api.get("/table", summary="lvsd's live table (the `table` control op)")
    async def table() -> Any:
        return await proxied("table")

    @api.get("/health", summary="Health state of every real server")
    async def health() -> Any:
        return await proxied("health")

    @api.get("/diff", summary="Changes in lvs.cf the daemons have not loaded yet")
    async def diff() -> dict[str, str]:
        snap = await asyncio.to_thread(state.store.snapshot)
        return {
            "diff": unified_diff(
                state.applied_text, snap.text, snap.path, "loaded by the daemons", "now"
            )
        }

    @api.post("/apply", summary="Reload pulse and lvsd", response_model=list[ApplyOutcome])
    async def apply(if_match: IfMatch = None) -> list[ApplyOutcome]:
        snap = await current()
        if if_match is not None and if_match.strip('"') != snap.digest:
            raise HTTPException(412, f"{snap.path} is no longer the version {if_match}")
        outcomes = await apply_all(
            state.daemons, state.settings.pulse_pidfile, state.settings.lvsd_pidfile
        )
        if any(o.ok for o in outcomes) and not any(o.ok is False for o in outcomes):
            state.applied_text = snap.text
        return [
            ApplyOutcome(daemon=o.daemon, ok=o.ok, message=o.message, errors=o.errors)
            for o in outcomes
        ]

    @api.post(
        "/sync",
        summary="Copy lvs.cf to the backup router and compare checksums",
        response_model=SyncOutcome,
    )
    async def sync() -> SyncOutcome:
        snap = await current()
        result = await sync_to_backup(snap.config, snap.path, timeout=state.settings.sync_timeout)  # type: ignore[arg-type]
        return SyncOutcome(ok=result.ok, message=result.message, backup=result.backup,
                           local_sha256=result.local_sha256, remote_sha256=result.remote_sha256)  # fmt: skip

    return api
