"""CONTROL/MONITORING, charts, metrics, APPLY and SYNC TO BACKUP against daemons on real control sockets."""

from __future__ import annotations

import html
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from . import daemondata
from .formbot import Bot
from .support import FakeDaemon, csrf_of, digest_of, make_site

FIVE = (Path(__file__).parent / "data" / "five-node-guide.lvs.cf").read_text()


def daemons(site, lvsd_reload=None, pulse_reload=None, serial_no=0):
    return (
        FakeDaemon(site.settings.lvsd_socket, daemondata.lvsd_handlers(serial_no, lvsd_reload)),
        FakeDaemon(site.settings.pulse_socket, daemondata.pulse_handlers(pulse_reload)),
    )


def test_control_panel_shows_daemons_routing_table_and_health(tmp_path):
    site = make_site(tmp_path, FIVE)
    lvsd, pulse = daemons(site)
    with lvsd, pulse:
        page = site.client().get("/control")
    assert page.status_code == 200
    text = page.text
    assert 'id="pulse-state">Daemon: running' in text and "primary, active" in text
    assert "partner 1.2.3.3: running, last heartbeat 1.5 s ago" in text
    assert 'id="lvsd-state">running: active' in text and "data plane userspace" in text
    listing = re.search(r'<pre id="routing-table">(.*?)</pre>', text, re.S).group(1)  # type: ignore[union-attr]
    assert (
        html.unescape(listing) == daemondata.lvsadm_listing()
    )  # exactly as `lvsadm -L -n` prints it
    assert "TCP  1.2.3.1:80 wlc" in html.unescape(listing)
    health = re.search(r'<table class="list" id="health">(.*?)</table>', text, re.S).group(1)  # type: ignore[union-attr]
    assert health.count("<tr>") == 4 and "rs3" in health and "connect: refused" in health
    assert '<td class="down">down</td>' in health
    assert "lvsd         pid 4242, active, data plane userspace" in text
    assert (
        "lvsadm" in lvsd.ops()
        and {"argv": ["-L", "-n"], "stdin": "", "prog": "lvsadm"}.items()
        <= next(c for c in lvsd.calls if c["op"] == "lvsadm").items()
    )


def test_control_panel_without_daemons_says_they_are_stopped(site):
    text = site.client().get("/control").text
    assert 'id="pulse-state">Daemon: stopped' in text and 'id="lvsd-state">stopped' in text
    assert "(empty: lvsd is not running" in text


def test_auto_update_works_without_javascript_and_with_htmx(site):
    client = site.client()
    off = client.get("/control").text
    assert 'http-equiv="refresh"' not in off and "hx-trigger" not in off
    on = client.get("/control?auto_update=1&rate=30").text
    assert (
        '<noscript><meta http-equiv="refresh" content="30; url=/control?auto_update=1&amp;rate=30"></noscript>'
        in on
    )
    assert 'hx-get="/control/status?rate=30" hx-trigger="every 30s"' in on
    assert 'id="auto-update" checked' in on
    fast = client.get("/control?auto_update=1&rate=1").text  # below the original's minimum of 10
    assert 'content="10; url=' in fast
    default = client.get("/control?auto_update=1").text
    assert 'content="10; url=' in default
    session = next(iter(client.app.state.gui.sessions._sessions.values()))
    session.flash("info", "kept for the next full page")
    fragment = client.get("/control/status?rate=20")
    assert fragment.status_code == 200 and fragment.text.lstrip().startswith('<div id="status"')
    assert "<html" not in fragment.text
    assert (
        "kept for the next full page" in client.get("/control").text
    )  # the fragment did not eat it


def test_update_information_now_keeps_the_auto_update_setting(site):
    bot = Bot(site.client())
    page = bot.get("/control")
    page.form("update-now").fill(**{"auto-update": True, "rate": "15"})
    page = bot.click("update-now")
    assert page.url.endswith("/control?auto_update=1&rate=15") and 'content="15; url=' in page.html


def test_charts_are_svg_per_real_server(tmp_path):
    site = make_site(tmp_path, FIVE)
    lvsd, pulse = daemons(site)
    with lvsd, pulse:
        page = site.client().get("/control/charts")
    text = page.text
    assert text.count("<svg ") == 6  # connections and traffic for rs1, rs2, rs3
    assert "<h2>vs1 / rs1</h2>" in text and "<h2>vs1 / rs3</h2>" in text
    points = re.findall(r'<polyline class="line a" points="([^"]+)"', text)
    assert len(points) == 6 and all(len(p.split()) == 30 for p in points)
    for p in points:  # inside the plot area
        for xy in p.split():
            x, y = map(float, xy.split(","))
            assert 56 <= x <= 452 and 8 <= y <= 100
    assert "<script" not in text.split("</head>")[1]
    assert ("history", 600) in [(c["op"], c.get("seconds")) for c in lvsd.calls]


def test_charts_without_lvsd(site):
    assert "(no data: lvsd is not running" in site.client().get("/control/charts").text


def test_metrics_ask_the_daemons_at_each_scrape(tmp_path):
    site = make_site(tmp_path, FIVE)
    client = site.client()
    down = client.get("/metrics").text
    assert "piranha_lvsd_up 0.0" in down and "piranha_pulse_up 0.0" in down
    lvsd, pulse = daemons(site)
    with lvsd, pulse:
        r = client.get("/metrics")
    assert r.headers["content-type"].startswith("text/plain; version=")
    text = r.text
    got = {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }

    def value(name: str, **labels: str) -> float:
        return got[(name, frozenset(labels.items()))]

    svc = {"service": "tcp:1.2.3.1:80", "virtual": "vs1"}
    rs1 = {**svc, "server": "rs1", "address": "192.168.1.3:80"}
    rs3 = {**svc, "server": "rs3", "address": "192.168.1.5:80"}
    assert value("piranha_lvsd_up") == value("piranha_pulse_up") == 1
    assert value("piranha_service_connections_total", **svc) == 312
    assert value("piranha_service_out_bytes_per_second", **svc) == 54000
    assert value("piranha_realserver_active_connections", **rs1) == 7
    assert value("piranha_realserver_in_bytes_total", **rs1) == 50000
    assert value("piranha_realserver_out_packets_total", **rs1) == 900
    assert value("piranha_realserver_weight", **rs1) == 2000
    assert (
        value("piranha_realserver_weight", **rs3) == 0
        and value("piranha_realserver_configured_weight", **rs3) == 1000
    )
    assert value("piranha_realserver_up", **rs1) == 1 and value("piranha_realserver_up", **rs3) == 0
    assert value("piranha_realserver_health", **rs3, state="down") == 1
    assert value("piranha_realserver_health", **rs3, state="up") == 0
    assert (
        value("piranha_pulse_role", role="primary") == 1
        and value("piranha_pulse_role", role="backup") == 0
    )
    assert value("piranha_pulse_active") == 1
    assert value("piranha_pulse_heartbeat_age_seconds") == 1.5
    assert value("piranha_pulse_heartbeats_rejected_total", reason="spoofed") == 1
    assert "_created" not in text


def test_metrics_with_the_api_token(tmp_path):
    from piranha.gui.apitoken import create_token

    site = make_site(tmp_path, FIVE)
    token = create_token(site.settings.token_file)
    client = site.client(login=False)
    assert client.get("/metrics", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert client.get("/metrics").status_code == 401


def test_apply_shows_the_pending_diff_then_reloads_both_daemons(tmp_path):
    site = make_site(tmp_path, FIVE)
    bot = Bot(site.client())
    page = bot.get("/apply")
    assert 'id="no-pending"' in page.html
    bot.get("/virtual/0/real/2").form("accept").fill(weight="1500")
    page = bot.click("accept")
    assert (
        "+                weight = 1500" in html.unescape(page.html) or "weight = 1500" in page.html
    )
    page = bot.get("/apply")
    diff = html.unescape(
        re.search(r'<pre class="diff" id="pending-diff">(.*?)</pre>', page.html, re.S).group(1)
    )  # type: ignore[union-attr]
    assert (
        "-                weight = 1000\n+                weight = 1500" in diff
        and "+serial_no = 1" in diff
    )
    assert "/control" in bot.get("/control").html and 'id="pending"' in bot.page.html  # type: ignore[union-attr]
    lvsd, pulse = daemons(site, serial_no=1)
    with lvsd, pulse:
        bot.get("/apply")
        page = bot.click("apply")
    assert lvsd.ops().count("reload") == 1 and pulse.ops().count("reload") == 1
    assert "pulse reloaded lvs.cf" in page.html and "lvsd reloaded lvs.cf" in page.html
    assert 'id="no-pending"' in page.html


def test_apply_reports_a_refused_reload_and_keeps_it_pending(tmp_path):
    site = make_site(tmp_path, FIVE)
    bot = Bot(site.client())
    bot.get("/global").form("accept").fill(primary="1.2.3.9")
    bot.click("accept")
    refused = {"ok": False, "errors": ["lvs.cf:3:1: error: something lvsd did not like"]}
    lvsd, pulse = daemons(site, lvsd_reload=refused)
    with lvsd, pulse:
        bot.get("/apply")
        page = bot.click("apply")
    assert "lvsd refused the new lvs.cf and keeps running the previous one" in page.html
    assert "something lvsd did not like" in page.html
    assert 'id="pending-diff"' in page.html


def test_apply_refuses_when_the_file_changed_after_review(tmp_path):
    site = make_site(tmp_path, FIVE)
    bot = Bot(site.client())
    page = bot.get("/apply")
    form = page.form("apply")
    site.config.write_text(FIVE + "# changed after the review\n")
    lvsd, pulse = daemons(site)
    with lvsd, pulse:
        page = bot.click("apply", form)
    assert "changed since you reviewed it" in page.html and "reload" not in lvsd.ops()


def test_apply_signals_a_daemon_without_control_socket(tmp_path):
    site = make_site(tmp_path, FIVE)
    marker = tmp_path / "got-hup"
    code = textwrap.dedent(f"""
        import signal, sys, time
        signal.signal(signal.SIGHUP, lambda *a: open({str(marker)!r}, "w").write("hup"))
        print("ready", flush=True)
        time.sleep(30)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code, "lvsd"], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        site.settings.lvsd_pidfile.write_text(f"{proc.pid}\n")
        site.settings.pulse_pidfile.write_text(
            f"{os.getpid()}\n"
        )  # alive, but not pulse: never signalled
        bot = Bot(site.client())
        bot.get("/apply")
        page = bot.click("apply")
        deadline = time.monotonic() + 10
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.read_text() == "hup"
        assert f"lvsd (pid {proc.pid}) has no control socket; sent SIGHUP" in page.html
        assert "pulse is not running: nothing to reload" in page.html
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


FAKE_SCP = """#!/bin/sh
# fake scp: record the command line, "copy" FILE to HOST:PATH under $FAKE_REMOTE
echo "scp $*" >> "$FAKE_LOG"
[ -n "$FAKE_FAIL_COPY" ] && exit 1
src=""
for a in "$@"; do case "$a" in /*) src="$a";; esac; done
mkdir -p "$FAKE_REMOTE$(dirname "$src")"
cp "$src" "$FAKE_REMOTE$src"
[ -n "$FAKE_CORRUPT" ] && echo "# corrupted" >> "$FAKE_REMOTE$src"
exit 0
"""
FAKE_SSH = """#!/bin/sh
# fake ssh: HOST sha256sum PATH runs sha256sum on the "remote" copy
echo "ssh $*" >> "$FAKE_LOG"
while [ "$1" != "sha256sum" ]; do shift; done
exec sha256sum "$FAKE_REMOTE$2"
"""


def _fake_tools(tmp_path: Path, monkeypatch) -> tuple[Path, Path]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in (("scp", FAKE_SCP), ("ssh", FAKE_SSH), ("rcp", FAKE_SCP), ("rsh", FAKE_SSH)):
        tool = bin_dir / name
        tool.write_text(body)
        tool.chmod(0o755)
    remote, log = tmp_path / "remote", tmp_path / "tools.log"
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_REMOTE", str(remote))
    monkeypatch.setenv("FAKE_LOG", str(log))
    return remote, log


def test_sync_to_backup_copies_and_verifies_with_the_ssh_family(tmp_path, monkeypatch):
    remote, log = _fake_tools(tmp_path, monkeypatch)
    site = make_site(tmp_path / "router", FIVE.replace("rsh_command = rsh", "rsh_command = ssh"))
    bot = Bot(site.client())
    page = bot.get("/apply")
    assert "backup router 1.2.3.3 with scp" in page.html
    page = bot.click("sync")
    path = str(site.config)
    assert "SYNC TO BACKUP: 1.2.3.3 now holds the same" in page.html, page.html
    assert (remote / path.lstrip("/")).read_bytes() == site.config.read_bytes()
    assert log.read_text().splitlines() == [
        f"scp -q -p -o BatchMode=yes -- {path} 1.2.3.3:{path}",
        f"ssh -o BatchMode=yes -- 1.2.3.3 sha256sum {path}",
    ]


def test_sync_to_backup_with_rsh_and_the_failures_it_reports(tmp_path, monkeypatch):
    _remote, log = _fake_tools(tmp_path, monkeypatch)
    site = make_site(tmp_path / "router", FIVE)  # rsh_command = rsh, as in the guide
    bot = Bot(site.client())
    bot.get("/apply")
    page = bot.click("sync")
    assert "now holds the same" in page.html
    assert (
        log.read_text().splitlines()[0] == f"scp -p {site.config} 1.2.3.3:{site.config}"
    )  # our fake rcp logs as scp
    monkeypatch.setenv("FAKE_CORRUPT", "1")
    page = bot.click("sync")
    assert "holds a different" in page.html
    monkeypatch.setenv("FAKE_FAIL_COPY", "1")
    page = bot.click("sync")
    assert "copying to 1.2.3.3 failed: rcp exited with status 1" in page.html


def test_sync_without_backup_router(tmp_path):
    site = make_site(tmp_path, "primary = 10.0.0.1\n")
    client = site.client()
    page = client.get("/apply")
    assert "No backup router is configured" in page.text
    r = client.post(
        "/sync",
        data={"csrf_token": csrf_of(page.text), "config_digest": digest_of(page.text)},
        follow_redirects=True,
    )
    assert "no backup router is configured" in r.text
