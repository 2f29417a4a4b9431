"""The welcome page, logging in and out."""

from __future__ import annotations

import asyncio
import logging
import math

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from .. import passwords
from ..sessions import COOKIE, LOGIN_COOKIE
from .common import form_of, redirect, render, session_of, state_of

router = APIRouter()
log = logging.getLogger("piranha.gui")


def _safe_next(target: str | None) -> str:
    # Only paths on this site: no open redirect to another host.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/control"


def _set_cookie(
    request: Request, response: Response, name: str, value: str, max_age: int | None = None
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="strict",
        secure=state_of(request).settings.tls,
    )


@router.get("/")
async def welcome(request: Request) -> Response:
    return render(request, "welcome.html", {"title": "Welcome"})


def _login_page(
    request: Request, message: str | None, status: int, next_url: str, retry_after: float = 0
) -> Response:
    state = state_of(request)
    token, cookie = state.sessions.login_token(request.cookies.get(LOGIN_COOKIE))
    headers = {"Retry-After": str(math.ceil(retry_after))} if retry_after > 0 else None
    response = render(
        request,
        "login.html",
        {"title": "Login", "login_token": token, "message": message, "next": next_url,
         "no_password": state.passwords.error if state.password_entry() is None else None},
        status=status,
    )  # fmt: skip
    if headers:
        response.headers.update(headers)
    _set_cookie(request, response, LOGIN_COOKIE, cookie, max_age=3600)
    return response


@router.get("/login")
async def login_form(request: Request) -> Response:
    next_url = _safe_next(request.query_params.get("next"))
    if session_of(request) is None:
        # the guard passed this public page without looking at cookies: check here
        state = state_of(request)
        entry = state.password_entry()
        if state.sessions.lookup(request.cookies.get(COOKIE), entry.fingerprint if entry else None):
            return redirect(next_url)
    return _login_page(request, None, 200, next_url)


@router.post("/login")
async def login(request: Request) -> Response:
    state = state_of(request)
    form = await form_of(request)
    next_url = _safe_next(form.get("next"))
    client = request.client.host if request.client else "?"
    if not state.sessions.check_login_token(
        request.cookies.get(LOGIN_COOKIE), form.get("login_token")
    ):
        return _login_page(request, "The login form expired; please log in again.", 403, next_url)
    wait = state.throttle.retry_after(client)
    if wait > 0:
        log.warning(
            "login from %s refused: too many failed attempts (retry in %.0f s)", client, wait
        )
        return _login_page(
            request,
            f"Too many failed logins. Wait {math.ceil(wait)} seconds before trying again.",
            429,
            next_url,
            wait,
        )
    entry = state.password_entry()
    if entry is None:
        return _login_page(request, state.passwords.error, 503, next_url)
    user = form.get("username", "")
    password = form.get("password", "")
    # argon2 takes ~0.1 s of CPU on purpose: not on the event loop.
    good = user == passwords.USER and await asyncio.to_thread(
        passwords.verify, entry.hash, password
    )
    if not good:
        wait = state.throttle.failed(client)
        log.warning("failed login from %s as %r", client, user[:40])
        message = "Wrong user name or password."
        if wait > 0:
            message += f" Wait {math.ceil(wait)} seconds before the next try."
        return _login_page(request, message, 401, next_url, wait)
    state.throttle.succeeded(client)
    fingerprint = entry.fingerprint
    if passwords.needs_upgrade(entry.hash):
        fingerprint = await asyncio.to_thread(_upgrade, state, password)
    _session, cookie = state.sessions.create(fingerprint)
    log.info("login from %s", client)
    response = redirect(next_url)
    _set_cookie(request, response, COOKIE, cookie)
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


def _upgrade(state, password: str) -> str:
    """Replace a legacy (htpasswd) hash with argon2 after a successful login."""
    path = state.settings.passwd_file
    new_hash = passwords.hash_password(password)
    try:
        passwords.write_entry(path, new_hash)
    except OSError as exc:
        log.warning(
            "cannot upgrade the password hash in %s to argon2: %s", path, exc.strerror or exc
        )
        entry = state.password_entry()
        return entry.fingerprint if entry else ""
    log.info("password hash in %s upgraded to argon2", path)
    state.passwords.forget()
    return passwords.fingerprint(new_hash)


@router.post("/logout")
async def logout(request: Request) -> Response:
    session = session_of(request)
    if session is not None:
        state_of(request).sessions.destroy(session)
    response = redirect("/login")
    response.delete_cookie(COOKIE, path="/")
    return response
