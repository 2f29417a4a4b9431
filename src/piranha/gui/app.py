"""The Configuration Tool as an ASGI application: panels, JSON API, metrics, static files, the guard."""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.staticfiles import StaticFiles

from . import metrics
from .api import create_api
from .guard import Guard
from .panels import apply, control, failover, login, settings, virtual
from .panels.common import render
from .state import GuiSettings, GuiState

STATIC_DIR = Path(__file__).resolve().parent / "static"
log = logging.getLogger("piranha.gui")


def create_app(settings_: GuiSettings) -> FastAPI:
    state = GuiState(settings_)
    app = FastAPI(
        title="Piranha Configuration Tool",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,  # the API's own document is /api/v1/openapi.json
    )
    app.state.gui = state
    for module in (login, control, settings, virtual, failover, apply):
        app.include_router(module.router)

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        return FileResponse(STATIC_DIR / "favicon.png", media_type="image/png")

    @app.get("/metrics")
    async def prometheus_metrics() -> Response:
        return Response(await metrics.scrape(state.daemons), media_type=metrics.CONTENT_TYPE)

    app.mount("/api/v1", create_api(state))
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith(("/api/", "/metrics")):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
        if exc.status_code == 404:
            return render(request, "message.html", {"title": "Not found", "message": f"There is no page {request.url.path}.", "back": "/control"}, status=404)  # fmt: skip
        return PlainTextResponse(str(exc.detail), status_code=exc.status_code)

    app.add_middleware(Guard, state=state)
    return app


def route_table(app: object, prefix: str = "") -> list[tuple[str, frozenset[str] | None]]:
    """Every (path, methods) the app serves, mounted apps included (methods None: any).

    The security tests walk this so that a route added later is tested too.
    """
    out: list[tuple[str, frozenset[str] | None]] = []
    for route in getattr(getattr(app, "router", app), "routes", []):
        inner = getattr(route, "original_router", None)
        if inner is not None:  # FastAPI's included router
            out += route_table(inner, prefix)
            continue
        path = prefix + getattr(route, "path", "")
        methods = getattr(route, "methods", None)
        mounted = getattr(route, "app", None)
        if methods is None and mounted is not None and hasattr(mounted, "router"):
            out += route_table(mounted, path)
        else:
            out.append((path, frozenset(methods) if methods else None))
    return out
