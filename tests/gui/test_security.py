"""The historical holes (CVE-2000-0248, CVE-2013-6492, injection, CSRF) and the gate around every route."""

from __future__ import annotations

import re

import pytest

from piranha.gui.app import route_table
from piranha.gui.guard import is_public
from piranha.gui.passwords import hash_password, write_entry
from piranha.gui.throttle import LoginThrottle

from .support import PASSWORD, csrf_of, digest_of, log_in, login_token, make_site

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
VIRTUAL = "primary = 10.0.0.1\nvirtual www {\n     address = 10.0.0.100 eth0:1\n     server web1 {\n         address = 10.0.0.2\n     }\n}\n"


def concrete(path: str) -> str:
    return re.sub(r"\{(index|j)\}", "0", path).replace("{name}", "www").replace("{server}", "web1")


def every_route(app) -> list[str]:
    paths = {concrete(p) for p, _ in route_table(app)}
    paths |= {"/static/piranha.css", "/no/such/page", "/api/v1/no/such"}
    return sorted(paths)


def test_the_route_walk_sees_every_panel_api_and_metrics_route(site):
    paths = {p for p, _ in route_table(site.app)}
    for expected in ("/control", "/global", "/virtual/{index}/real/{j}", "/apply", "/sync", "/metrics",
                     "/api/v1/virtuals/{name}/servers/{server}", "/api/v1/openapi.json"):  # fmt: skip
        assert expected in paths
    assert len(paths) > 30


def test_every_route_and_method_without_a_session_is_refused(tmp_path):
    site = make_site(tmp_path, VIRTUAL)
    before = site.config.read_bytes()
    client = site.client(login=False)
    served = []
    for path in every_route(site.app):
        for method in METHODS:
            r = client.request(
                method,
                path,
                data={"csrf_token": "x", "action": "add"}
                if method not in ("GET", "HEAD")
                else None,
            )
            if is_public(path, method):
                served.append((method, path))
                continue
            assert r.status_code in (303, 401), (method, path, r.status_code)
            if r.status_code == 303:
                assert method in ("GET", "HEAD") and r.headers["location"].startswith(
                    "/login?next="
                )
            assert "PIRANHA CONFIGURATION TOOL" not in r.text or path == "/login"
    assert site.config.read_bytes() == before
    assert {p for _, p in served} <= {"/", "/login", "/favicon.ico", "/static/piranha.css"}


def test_api_and_metrics_answer_401_with_bearer_challenge(site):
    client = site.client(login=False)
    for path in ("/api/v1/config", "/metrics", "/api/v1/openapi.json"):
        r = client.get(path)
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
        r = client.get(path, headers={"Authorization": "Bearer pir_wrong"})
        assert r.status_code == 401
    # a token is not a way into the panels
    assert client.get("/control", headers={"Authorization": "Bearer anything"}).status_code == 303


def test_a_form_without_its_csrf_token_is_refused(tmp_path):
    site = make_site(tmp_path, VIRTUAL)
    client = site.client()
    page = client.get("/virtual")
    digest = digest_of(page.text)
    before = site.config.read_bytes()
    for data in ({"action": "add", "config_digest": digest},
                 {"action": "add", "config_digest": digest, "csrf_token": "forged"},
                 {"action": "add", "config_digest": digest, "csrf_token": ""}):  # fmt: skip
        r = client.post("/virtual", data=data)
        assert r.status_code == 403 and "CSRF" in r.text
    # JSON bodies from another site cannot carry it either
    r = client.post("/virtual", json={"action": "add"})
    assert r.status_code == 403
    assert site.config.read_bytes() == before
    r = client.post(
        "/virtual",
        data={"action": "add", "config_digest": digest, "csrf_token": csrf_of(page.text)},
    )
    assert r.status_code == 303 and site.config.read_bytes() != before


def test_the_csrf_token_belongs_to_its_session(tmp_path):
    site = make_site(tmp_path, VIRTUAL)
    alice, mallory = site.client(), site.client()
    token = csrf_of(mallory.get("/virtual").text)
    page = alice.get("/virtual")
    r = alice.post(
        "/virtual",
        data={"action": "add", "config_digest": digest_of(page.text), "csrf_token": token},
    )
    assert r.status_code == 403


def test_login_form_has_its_own_csrf_token(site):
    client = site.client(login=False)
    client.get("/login")
    r = client.post(
        "/login", data={"login_token": "forged", "username": "piranha", "password": PASSWORD}
    )
    assert r.status_code == 403 and "piranha_session" not in r.headers.get("set-cookie", "")


def test_script_in_a_name_comes_back_escaped(tmp_path):
    site = make_site(tmp_path, VIRTUAL)
    client = site.client()
    page = client.get("/virtual/0")
    evil = "<script>alert(1)</script>"
    r = client.post("/virtual/0", data={"csrf_token": csrf_of(page.text), "config_digest": digest_of(page.text),
                                         "name": evil, "action": "accept"})  # fmt: skip
    # `<` and `>` are allowed in a name (lvs.cf can hold them), so it was saved ...
    assert r.status_code == 303
    for url in ("/virtual", "/virtual/0", "/virtual/0/real", "/virtual/0/scripts"):
        html = client.get(url).text
        assert "<script>alert" not in html, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, url
    # ... and an attribute cannot be broken out of either
    page = client.get("/virtual/0")
    r = client.post("/virtual/0", data={"csrf_token": csrf_of(page.text), "config_digest": digest_of(page.text),
                                         "sorry_server": '"><img src=x onerror=alert(1)>', "action": "accept"})  # fmt: skip
    assert r.status_code == 422
    assert "<img src=x" not in r.text and "&#34;&gt;&lt;img src=x" in r.text


def test_no_inline_script_and_the_security_headers(site):
    client = site.client()
    for path in ("/", "/control", "/global", "/virtual", "/apply"):
        r = client.get(path)
        csp = r.headers["content-security-policy"]
        assert (
            "script-src 'self'" in csp
            and "unsafe-inline" not in csp
            and "frame-ancestors 'none'" in csp
        )
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["cache-control"] == "no-store"
        assert r.headers["x-content-type-options"] == "nosniff"
        for script in re.findall(r"<script([^>]*)>(.*?)</script>", r.text, re.S):
            assert 'src="/static/' in script[0] and script[1].strip() == "", path
        assert not re.search(r"\son[a-z]+=", r.text), path  # no inline event handlers
        assert " style=" not in r.text, path


def test_session_cookie_flags(tmp_path):
    site = make_site(tmp_path, VIRTUAL)
    client = site.client(login=False)
    r = log_in(client)
    cookie = r.headers["set-cookie"]
    assert (
        "piranha_session=" in cookie
        and "HttpOnly" in cookie
        and "SameSite=strict" in cookie.replace("Strict", "strict")
    )
    assert "Secure" not in cookie
    tls = make_site(tmp_path / "tls", VIRTUAL, tls=True)
    r = log_in(tls.client(login=False))
    assert "Secure" in r.headers["set-cookie"]
    assert "strict-transport-security" in tls.client(login=False).get("/").headers


def test_a_request_from_outside_the_allow_list_is_refused(tmp_path):
    site = make_site(tmp_path, VIRTUAL)
    outsider = site.client(address="192.0.2.7", login=False)
    for path in ("/", "/login", "/static/piranha.css", "/control", "/api/v1/config"):
        r = outsider.get(path)
        assert r.status_code == 403 and "192.0.2.7 is not allowed" in r.text, path
    # even with a valid session cookie from an allowed address
    insider = site.client()
    outsider.cookies.update(insider.cookies)
    assert outsider.get("/control").status_code == 403
    # the guide's example: one host and a partial network
    allowed = make_site(tmp_path / "b", VIRTUAL, allow=["192.168.1.100", "172.16.57"])
    assert allowed.client(address="172.16.57.9", login=False).get("/").status_code == 200
    assert allowed.client(address="192.168.1.100", login=False).get("/").status_code == 200
    assert allowed.client(address="192.168.1.101", login=False).get("/").status_code == 403
    assert allowed.client(address="127.0.0.1", login=False).get("/").status_code == 403
    assert allowed.client(address="::ffff:172.16.57.1", login=False).get("/").status_code == 200


def test_a_burst_of_wrong_passwords_is_slowed(tmp_path):
    site = make_site(tmp_path, VIRTUAL)
    client = site.client(login=False)
    throttle = site.app.state.gui.throttle
    # time stands still: the outcome cannot depend on the machine's speed
    throttle.clock = lambda: 1000.0
    statuses = [log_in(client, password=f"guess{i}").status_code for i in range(6)]
    assert statuses[: LoginThrottle.FREE_FAILURES] == [401] * LoginThrottle.FREE_FAILURES
    assert 429 in statuses
    r = log_in(client, password=PASSWORD)  # even the right password waits: it is not checked
    assert r.status_code == 429
    assert int(r.headers["retry-after"]) >= 1
    assert throttle.retry_after("127.0.0.1") > 0
    assert "piranha_session" not in r.headers.get("set-cookie", "")
    # another address is not held up by this one's failures (below the global threshold)
    other = site.client(address="127.0.0.2", login=False)
    assert log_in(other).status_code == 303


def test_throttle_backoff_is_exponential_per_client_and_global():
    now = [1000.0]
    t = LoginThrottle(clock=lambda: now[0])
    waits = [t.failed("a") for _ in range(6)]
    assert waits == [0, 0, 1, 2, 4, 8]
    assert t.retry_after("b") == 0
    now[0] += 8
    assert t.retry_after("a") == 0
    t.succeeded("a")
    assert t.failures("a") == 0
    now[0] += 100
    for i in range(LoginThrottle.GLOBAL_FREE + 3):  # many addresses, one failure each
        t.failed(f"10.0.0.{i}")
    assert t.retry_after("fresh") > 0  # everyone waits now
    assert t.retry_after("fresh") <= LoginThrottle.GLOBAL_CAP
    now[0] += LoginThrottle.GLOBAL_CAP
    assert t.retry_after("fresh") == 0
    for _ in range(40):
        t.failed("z")
    assert t.retry_after("z") <= LoginThrottle.CLIENT_CAP
    now[0] += LoginThrottle.FORGET_AFTER + 1
    assert t.failures("z") == 0


def test_logout_ends_the_session_for_good(tmp_path):
    site = make_site(tmp_path, VIRTUAL)
    client = site.client()
    cookie = client.cookies.get("piranha_session")
    page = client.get("/control")
    r = client.post("/logout", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 303
    thief = site.client(login=False)
    thief.cookies.set("piranha_session", cookie)
    assert thief.get("/control").status_code == 303


def test_a_new_password_ends_every_session(tmp_path):
    site = make_site(tmp_path, VIRTUAL)
    client = site.client()
    assert client.get("/control").status_code == 200
    write_entry(site.settings.passwd_file, hash_password("a new one"))
    assert client.get("/control").status_code == 303
    assert log_in(client, password="a new one").status_code == 303
    assert client.get("/control").status_code == 200


def test_no_open_redirect_after_login(site):
    client = site.client(login=False)
    page = client.get("/login?next=//evil.example/")
    r = client.post("/login", data={"login_token": login_token(page.text), "username": "piranha",
                                    "password": PASSWORD, "next": "https://evil.example/"})  # fmt: skip
    assert r.status_code == 303 and r.headers["location"] == "/control"


def test_wrong_user_is_refused(site):
    assert log_in(site.client(login=False), user="root").status_code == 401


@pytest.mark.parametrize("field", ["send_program", "send", "expect"])
def test_control_characters_never_reach_the_file(tmp_path, field):
    site = make_site(tmp_path, VIRTUAL)
    client = site.client()
    page = client.get("/virtual/0/scripts")
    for bad in ("a\nb", "a\rb", "a\x00b", "a\x1b[2Jb", "a\u2028b", "a\tb"):
        r = client.post("/virtual/0/scripts", data={"csrf_token": csrf_of(page.text), "config_digest": digest_of(page.text),
                                                     field: bad, "action": "accept"})  # fmt: skip
        assert r.status_code == 422, (field, bad)
    assert site.config.read_text() == VIRTUAL


def test_body_size_is_bounded(site):
    client = site.client()
    page = client.get("/global")
    r = client.post("/global", data={"csrf_token": csrf_of(page.text), "primary": "x" * 300_000})
    assert r.status_code == 413

    def chunks():  # no Content-Length: the limit must hold anyway, also before login
        for _ in range(40):
            yield b"x" * 10_000

    r = site.client(login=False).post(
        "/login", content=chunks(), headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert r.status_code == 413
