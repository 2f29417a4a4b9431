"""`piranha gui` as a command: refuses to start without a password, serves HTTP and HTTPS."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest

from piranha.cli import gui as gui_cli
from piranha.gui.apitoken import TokenFile

from .support import PASSWORD, live_gui, login_token


def run_gui(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "piranha.cli.main", "gui", *args],
        capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})},
    )  # fmt: skip


def test_refuses_to_start_without_a_password_and_says_how_to_set_one(tmp_path):
    r = run_gui("-c", str(tmp_path / "lvs.cf"), "--passwd-file", str(tmp_path / "none"))
    assert r.returncode == 1
    assert (
        f"no password is set (no file {tmp_path / 'none'}); set one with `piranha passwd`"
        in r.stderr
    )
    assert r.stdout == ""


def test_refuses_a_password_file_others_can_read(tmp_path, capsys):
    path = tmp_path / "piranha.passwd"
    path.write_text("piranha:$apr1$saltsalt$11QAx5Oiaores.cTy1Ple.\n")
    path.chmod(0o644)
    assert gui_cli.main(["--passwd-file", str(path), "--api-token-file", str(tmp_path / "t")]) == 1
    assert f"run `chmod 600 {path}`" in capsys.readouterr().err


def test_new_api_token(tmp_path, capsys):
    token_path = tmp_path / "tok"
    assert gui_cli.main(["--new-api-token", "--api-token-file", str(token_path)]) == 0
    token = capsys.readouterr().out.strip()
    assert token.startswith("pir_") and TokenFile(token_path).verify(token)


def test_bad_command_lines(tmp_path, capsys):
    assert gui_cli.main(["--listen", "nowhere:3636", "--passwd-file", str(tmp_path / "x")]) == 2
    assert gui_cli.main(["--allow", "not-a-net", "--passwd-file", str(tmp_path / "x")]) == 2
    assert gui_cli.main(["--cert", "/etc/hostname", "--passwd-file", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "`nowhere` is not an IP address" in err and "`not-a-net` is not a network" in err
    assert "--cert and --key go together" in err


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0.0.0.0:3636", ("0.0.0.0", 3636)), ("127.0.0.1:8080", ("127.0.0.1", 8080)), (":3636", ("0.0.0.0", 3636)),
     ("3636", ("0.0.0.0", 3636)), ("[::1]:3636", ("::1", 3636))],
)  # fmt: skip
def test_parse_listen(text, expected):
    assert gui_cli.parse_listen(text) == expected


def test_serves_http_with_the_security_headers(tmp_path):
    with live_gui(tmp_path, "primary = 10.0.0.1\n") as url:
        r = httpx.get(url + "/")
        assert r.status_code == 200 and "Welcome to the Piranha Configuration Tool" in r.text
        assert "server" not in r.headers and r.headers["x-frame-options"] == "DENY"
        with httpx.Client(base_url=url) as client:
            page = client.get("/login")
            r = client.post(
                "/login",
                data={
                    "login_token": login_token(page.text),
                    "username": "piranha",
                    "password": PASSWORD,
                },
            )
            assert r.status_code == 303
            assert client.get("/control").status_code == 200


def test_serves_https_with_a_certificate(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    tls = ["--cert", str(cert), "--key", str(key)]
    with (
        live_gui(tmp_path, "primary = 10.0.0.1\n", tls, scheme="https") as url,
        httpx.Client(base_url=url, verify=False) as client,
    ):
        page = client.get("/login")
        r = client.post(
            "/login",
            data={
                "login_token": login_token(page.text),
                "username": "piranha",
                "password": PASSWORD,
            },
        )
        assert r.status_code == 303 and "Secure" in r.headers["set-cookie"]
        assert "max-age" in client.get("/control").headers["strict-transport-security"]
