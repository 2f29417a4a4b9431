"""The gate every request passes before any route sees it.

One ASGI middleware, in this order:

1. the client's address must be on the allow-list (else 403, for every path);
2. the request body is read here and bounded (256 KiB), chunked or not;
3. the welcome page, the login page, the static files and the favicon are
   the only things served without authentication; every other path, with every
   method, needs a session cookie — or, under /api/ and /metrics, the API
   token as ``Authorization: Bearer`` (CVE-2013-6492 protected GET only);
4. a request with a session cookie that may change something (any method
   but GET/HEAD) must carry the session's CSRF token, as the form field
   ``csrf_token`` or the ``X-CSRF-Token`` header;
5. every response gets the security headers (CSP without inline script,
   no framing, no caching of panels).

Because this runs before routing, a route added later cannot forget any of it.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, quote

from .sessions import COOKIE

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SAFE_METHODS = frozenset({"GET", "HEAD"})
PUBLIC = {"/": SAFE_METHODS, "/login": SAFE_METHODS | {"POST"}, "/favicon.ico": SAFE_METHODS}
STATIC_PREFIX = "/static/"
TOKEN_PREFIXES = ("/api/", "/metrics")
MAX_BODY = 256 * 1024

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def security_headers(tls: bool, static: bool) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"content-security-policy", CSP.encode()),
        (b"x-frame-options", b"DENY"),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
        (b"cross-origin-opener-policy", b"same-origin"),
        (b"cross-origin-resource-policy", b"same-origin"),
        (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
        # Panels show live state and secrets-adjacent settings: never cache them (the original's pages were non-cacheable too).
        (b"cache-control", b"private, max-age=3600" if static else b"no-store"),
    ]
    if not static:
        headers.append((b"pragma", b"no-cache"))
    if tls:
        headers.append((b"strict-transport-security", b"max-age=31536000"))
    return headers


def is_public(path: str, method: str) -> bool:
    if path.startswith(STATIC_PREFIX):
        return method in SAFE_METHODS
    return method in PUBLIC.get(path, frozenset())


def cookies_of(scope: Scope) -> dict[str, str]:
    jar: dict[str, str] = {}
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            parsed: SimpleCookie = SimpleCookie()
            try:
                parsed.load(value.decode("latin-1"))
            except Exception:  # a malformed Cookie header is no cookie
                continue
            jar.update({k: m.value for k, m in parsed.items()})
    return jar


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


class Guard:
    """The middleware; `state` is the app's GuiState (allow-list, sessions, password, tokens)."""

    def __init__(self, app: ASGIApp, state: Any) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                await self.app(scope, receive, send)
            return  # no websockets here
        path: str = scope.get("path", "")
        method: str = scope.get("method", "GET").upper()
        static = path.startswith(STATIC_PREFIX)
        send = self._with_headers(send, static)
        client = (scope.get("client") or (None, None))[0]
        if not self.state.allowlist.allows(client):
            await _plain(
                send,
                403,
                f"Access from {client} is not allowed. The Piranha Configuration Tool accepts "
                f"clients from: {self.state.allowlist}. Add the network with "
                "`piranha gui --allow CIDR` on the router.\n",
            )
            return
        length = header(scope, b"content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
            await _plain(send, 413, "Request body too large.\n")
            return
        body = b""
        if method not in SAFE_METHODS:
            # Read the whole body here, bounded (also when it comes chunked, without a length).
            buffered, receive = await _buffer(receive)
            if buffered is None:
                await _plain(send, 413, "Request body too large.\n")
                return
            body = buffered
        if is_public(path, method):
            await self.app(scope, receive, send)
            return

        tokened = path.startswith(TOKEN_PREFIXES)
        authorization = header(scope, b"authorization") or ""
        if tokened and authorization[:7].lower() == "bearer ":
            if self.state.tokens.verify(authorization[7:].strip()):
                scope["piranha.auth"] = "token"
                await self.app(scope, receive, send)
            else:
                await _unauthorized_json(send, "invalid API token")
            return

        entry = self.state.password_entry()
        session = self.state.sessions.lookup(
            cookies_of(scope).get(COOKIE), entry.fingerprint if entry else None
        )
        if session is None:
            await self._refuse(scope, send, path, method, tokened)
            return
        scope["piranha.auth"] = "session"
        scope["piranha.session"] = session
        if method in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        if not _csrf_ok(scope, body, session.csrf):
            await _plain(
                send,
                403,
                "This form has expired or did not come from the Configuration Tool (CSRF token "
                "missing or wrong). Go back, reload the page and submit it again.\n",
            )
            return
        await self.app(scope, receive, send)

    async def _refuse(
        self, scope: Scope, send: Send, path: str, method: str, tokened: bool
    ) -> None:
        if tokened:
            await _unauthorized_json(
                send, "authentication required: log in, or send `Authorization: Bearer <API token>`"
            )
        elif method in SAFE_METHODS and "hx-request" not in {
            k.decode() for k, _ in scope.get("headers", [])
        }:
            target = path + (
                "?" + scope["query_string"].decode("latin-1") if scope.get("query_string") else ""
            )
            await send({
                "type": "http.response.start",
                "status": 303,
                "headers": [(b"location", f"/login?next={quote(target, safe='')}".encode()),
                            (b"content-type", b"text/plain; charset=utf-8")],
            })  # fmt: skip
            await send({"type": "http.response.body", "body": b"Log in first.\n"})
        else:
            await _plain(send, 401, "Log in first: this page needs the piranha password.\n")

    def _with_headers(self, send: Send, static: bool) -> Send:
        extra = security_headers(self.state.settings.tls, static)

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []),
                    *((k, v) for k, v in extra if k not in present),
                ]
            await send(message)

        return sending


async def _buffer(receive: Receive) -> tuple[bytes | None, Receive]:
    """Read the whole body (bounded) and return it with a receive that replays it."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None, receive
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


def _csrf_ok(scope: Scope, body: bytes, expected: str) -> bool:
    sent = header(scope, b"x-csrf-token")
    if sent is None:
        ctype = (header(scope, b"content-type") or "").split(";")[0].strip().lower()
        if ctype != "application/x-www-form-urlencoded":
            return False
        try:
            form = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=1000)
        except (UnicodeDecodeError, ValueError):
            return False
        values = form.get("csrf_token", [])
        sent = values[0] if len(values) == 1 else None
    return sent is not None and secrets.compare_digest(sent.encode(), expected.encode())


async def _plain(send: Send, status: int, text: str) -> None:
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"text/plain; charset=utf-8")],
    })  # fmt: skip
    await send({"type": "http.response.body", "body": text.encode()})


async def _unauthorized_json(send: Send, detail: str) -> None:
    await send({
        "type": "http.response.start",
        "status": 401,
        "headers": [(b"content-type", b"application/json"),
                    (b"www-authenticate", b'Bearer realm="piranha"')],
    })  # fmt: skip
    await send({"type": "http.response.body", "body": json.dumps({"detail": detail}).encode()})
