"""The JSON API: token authentication, the same validation and gate as the panels, OpenAPI."""

from __future__ import annotations

from pathlib import Path

from piranha.config import Environment, load
from piranha.gui.apitoken import TokenFile, create_token

from . import daemondata, fivenode
from .support import FakeDaemon, csrf_of, make_site

FIVE = (Path(__file__).parent / "data" / "five-node-guide.lvs.cf").read_text()


def api_client(site):
    token = create_token(site.settings.token_file)
    client = site.client(login=False)
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def test_token_file_holds_only_a_digest_and_a_new_token_replaces_the_old(tmp_path):
    path = tmp_path / "api.token"
    first = create_token(path)
    assert first not in path.read_text() and path.read_text().startswith("sha256:")
    tokens = TokenFile(path)
    assert tokens.verify(first) and not tokens.verify(first + "x") and not tokens.verify("")
    second = create_token(path)
    assert tokens.verify(second) and not tokens.verify(first)
    assert (path.stat().st_mode & 0o777) == 0o600


def test_build_the_five_node_example_through_the_api(tmp_path):
    site = make_site(tmp_path)
    api = api_client(site)
    r = api.patch(
        "/api/v1/config/global",
        json={**fivenode.GLOBAL, "backup_active": True, **fivenode.REDUNDANCY},
    )
    assert r.status_code == 200, r.text
    assert r.json()["saved"] and r.json()["serial_no"] == 1
    virtual = {**fivenode.VIRTUAL, "active": True, "port": 80, "timeout": 10, "reentry": 180}
    r = api.post("/api/v1/virtuals", json=virtual)
    assert r.status_code == 201, r.text
    for server in fivenode.SERVERS:
        r = api.post(
            "/api/v1/virtuals/vs1/servers",
            json={**server, "weight": int(server["weight"]), "active": True},
        )
        assert r.status_code == 201, r.text
    fivenode.assert_matches_guide(site.config)
    config = api.get("/api/v1/config").json()
    assert config["virtuals"][0]["name"] == "vs1" and len(config["virtuals"][0]["servers"]) == 3
    assert config["global"]["nat_router_device"] == "eth1:1"


def test_api_validation_is_the_panels(tmp_path):
    site = make_site(tmp_path, FIVE)
    api = api_client(site)
    before = site.config.read_text()
    r = api.patch("/api/v1/virtuals/vs1", json={"send_program": "/bin/check %h\n     active = 0"})
    assert r.status_code == 422 and "send_program" in r.json()["detail"]["errors"]
    r = api.patch("/api/v1/virtuals/vs1", json={"port": 70000})
    assert r.status_code == 422 and "out of range" in r.json()["detail"]["errors"]["port"][0]
    r = api.patch("/api/v1/virtuals/vs1", json={"colour": "red"})
    assert r.status_code == 422  # unknown fields are refused, not ignored
    r = api.post(
        "/api/v1/virtuals/vs1/servers",
        json={"name": "rs4", "address": "192.168.1.3", "active": True},
    )
    assert r.status_code == 422 and "same real server" in str(r.json())
    assert site.config.read_text() == before
    assert api.patch("/api/v1/virtuals/nope", json={"port": 81}).status_code == 404


def test_if_match_guards_against_lost_updates(tmp_path):
    site = make_site(tmp_path, FIVE)
    api = api_client(site)
    digest = api.get("/api/v1/config").json()["digest"]
    r = api.patch(
        "/api/v1/virtuals/vs1/servers/rs3", json={"weight": 1500}, headers={"If-Match": digest}
    )
    assert r.status_code == 200 and r.json()["diff"]
    r = api.patch(
        "/api/v1/virtuals/vs1/servers/rs3", json={"weight": 1600}, headers={"If-Match": digest}
    )
    assert r.status_code == 412
    assert load(site.config, Environment.hermetic()).virtuals[0].servers[2].weight == 1500
    r = api.delete("/api/v1/virtuals/vs1/servers/rs3")
    assert r.status_code == 200
    assert [s.name for s in load(site.config, Environment.hermetic()).virtuals[0].servers] == [
        "rs1",
        "rs2",
    ]


def test_status_table_apply_through_the_api(tmp_path):
    site = make_site(tmp_path, FIVE)
    api = api_client(site)
    with FakeDaemon(site.settings.lvsd_socket, daemondata.lvsd_handlers()) as lvsd, \
         FakeDaemon(site.settings.pulse_socket, daemondata.pulse_handlers()):  # fmt: skip
        status = api.get("/api/v1/status").json()
        assert status["lvsd"]["state"] == "active" and status["pulse"]["role"] == "primary"
        assert status["file"]["pending"] is False
        assert api.get("/api/v1/table").json()["services"][0]["name"] == "vs1"
        assert api.get("/api/v1/health").json()[2]["state"] == "down"
        api.patch("/api/v1/virtuals/vs1", json={"scheduler": "wrr"})
        assert "scheduler = wrr" in api.get("/api/v1/diff").json()["diff"]
        outcomes = api.post("/api/v1/apply").json()
        assert [o["daemon"] for o in outcomes] == ["pulse", "lvsd"] and all(
            o["ok"] for o in outcomes
        )
        assert "reload" in lvsd.ops()
        assert api.get("/api/v1/diff").json()["diff"] == ""
    assert api.get("/api/v1/table").status_code == 503


def test_session_users_need_the_csrf_header_for_changes(tmp_path):
    site = make_site(tmp_path, FIVE)
    client = site.client()
    assert client.get("/api/v1/config").status_code == 200
    assert client.patch("/api/v1/virtuals/vs1", json={"timeout": 12}).status_code == 403
    token = csrf_of(client.get("/control").text)
    r = client.patch("/api/v1/virtuals/vs1", json={"timeout": 12}, headers={"X-CSRF-Token": token})
    assert r.status_code == 200


def test_openapi_document(tmp_path):
    site = make_site(tmp_path, FIVE)
    doc = api_client(site).get("/api/v1/openapi.json").json()
    assert doc["info"]["title"] == "Piranha Configuration Tool API"
    for path in ("/config", "/config/global", "/virtuals", "/virtuals/{name}", "/virtuals/{name}/servers/{server}",
                 "/status", "/apply", "/sync", "/diff"):  # fmt: skip
        assert path in doc["paths"], path
    fields = doc["components"]["schemas"]["VirtualFields"]["properties"]
    assert {"scheduler", "send_program", "address", "device", "active"} <= set(fields)
