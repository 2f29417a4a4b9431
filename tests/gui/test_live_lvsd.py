"""The tool against a real `piranha lvsd` (userspace data plane on loopback), not a fake."""

from __future__ import annotations

import html
import re

from prometheus_client.parser import text_string_to_metric_families

from tests.lvsd.process import LvsdProcess, lvs_cf, random_vip, service, wait_until
from tests.lvsd.realservers import TcpServer

from .formbot import Bot
from .support import free_port, make_site


def test_monitoring_metrics_and_apply_with_a_real_lvsd(tmp_path):
    web = TcpServer("web1")
    vip, port = random_vip(), free_port()
    text = lvs_cf(service("www", vip, port, [("web1", web.port, 3)]))
    try:
        (tmp_path / "lvsd").mkdir()
        with LvsdProcess(tmp_path / "lvsd", text) as lvsd:
            lvsd.wait_ready()
            lvsd.wait_up(1)
            site = make_site(tmp_path / "gui", config_path=lvsd.path, lvsd_socket=lvsd.socket,
                             pulse_socket=lvsd.run_dir / "pulse.sock")  # fmt: skip
            bot = Bot(site.client())

            page = bot.get("/control")
            table = html.unescape(
                re.search(r'<pre id="routing-table">(.*?)</pre>', page.html, re.S).group(1)
            )  # type: ignore[union-attr]
            assert table == lvsd.lvsadm("-L", "-n").stdout  # what `lvsadm -L -n` prints, exactly
            assert f"TCP  {vip}:{port} wlc" in table and f"-> 127.0.0.1:{web.port}" in table
            assert re.search(
                r"<td>www</td><td>web1</td><td>127\.0\.0\.1:\d+</td>\s*<td class=\"up\">up",
                page.html,
            )
            assert (
                "running: active" in page.html and 'id="pulse-state">Daemon: stopped' in page.html
            )

            metrics = bot.client.get("/metrics").text
            up = [
                s
                for f in text_string_to_metric_families(metrics)
                for s in f.samples
                if s.name == "piranha_realserver_up"
            ]
            assert [(s.labels["virtual"], s.labels["server"], s.value) for s in up] == [
                ("www", "web1", 1.0)
            ]

            assert bot.get("/control/charts").status == 200

            # ACCEPT a new weight, then APPLY: lvsd reloads and the table follows
            bot.get("/virtual/0/real/0").form("accept").fill(weight="7")
            bot.click("accept")
            bot.get("/apply")
            page = bot.click("apply")
            assert "lvsd reloaded lvs.cf" in page.html and "pulse is not running" in page.html
            wait_until(  # (the weight in the table ramps up to it: slow start)
                lambda: (
                    lvsd.call("table")["services"][0]["destinations"][0]["configured_weight"] == 7
                ),
                "the new weight",
            )
            assert lvsd.call("status")["serial_no"] == 2
    finally:
        web.stop(drop=True)
