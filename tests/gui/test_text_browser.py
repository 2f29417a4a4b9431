"""The guide says a text-only browser is enough: every panel of the five-node flow, dumped by w3m.

The forms are submitted exactly as a browser without JavaScript submits them
(tests/gui/formbot.py) against a live `piranha gui`; w3m then renders each
panel with the session cookie, and the dump must read like the panel.
"""

from __future__ import annotations

import shutil
import subprocess

import httpx

from .formbot import Bot
from .support import ARTIFACTS, live_gui, log_in
from .test_panels import build_five_node


def w3m_dump(url: str, cookie: str) -> str:
    if shutil.which("w3m") is None:
        raise AssertionError("this test needs w3m (apt-get install w3m)")
    result = subprocess.run(
        ["w3m", "-dump", "-cols", "110", "-o", "display_charset=UTF-8", "-header", f"Cookie: piranha_session={cookie}", url],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


EXPECTED = {
    "/control": ["PIRANHA CONFIGURATION TOOL", "[ CONTROL/MONITORING ]", "Auto update", "Update information now",
                 "CURRENT LVS ROUTING TABLE", "REAL SERVER HEALTH", "CHANGE PASSWORD", "serial_no 14"],
    "/global": ["[ GLOBAL SETTINGS ]", "Primary server public IP:", "[1.2.3.2", "(Current type is: NAT)",
                "NAT Router IP:", "[192.168.1.254", "NAT Router device:", "[eth1:1", "[rsh]", "ACCEPT"],
    "/redundancy": ["[ REDUNDANCY ]", "Backup: active", "Redundant server public IP:", "[1.2.3.3",
                    "Heartbeat interval (seconds):", "Assume dead after (seconds):", "[10", "[1050", "DISABLE"],
    "/virtual": ["[ VIRTUAL SERVERS ]", "STATUS", "NAME", "VIP", "NETMASK", "PORT", "PROTOCOL", "INTERFACE",
                 "up", "vs1", "1.2.3.1", "eth0:1", "ADD", "DELETE", "EDIT", "(DE)ACTIVATE"],
    "/virtual/0": ["[ VIRTUAL SERVER ] | REAL SERVER | MONITORING SCRIPTS", "Application port:", "[80",
                   "Re-entry Time:", "[180", "Service Timeout:", "[ruptime]", "[Weighted least-connections"],
    "/virtual/0/real": ["[ REAL SERVER ]", "rs1", "192.168.1.3", "2000", "rs3", "192.168.1.5", "1000"],
    "/virtual/0/real/0": ["EDIT REAL SERVER", "Name:", "[rs1", "Address:", "[192.168.1.3", "Weight:", "[2000"],
    "/virtual/0/scripts": ["EDIT MONITORING SCRIPTS", "Current text", "Replacement text", "Sending Program",
                           "NO SEND PROGRAM", "BLANK SEND", "BLANK EXPECT", "Treat expect string as a regular expression"],
    "/apply": ["REVIEW, APPLY, SYNC TO BACKUP", "+primary = 1.2.3.2", "APPLY", "SYNC TO BACKUP", "1.2.3.3"],
    "/password": ["CHANGE PASSWORD", "piranha passwd", "New Password:"],
}  # fmt: skip


def test_every_panel_reads_well_in_w3m_after_the_five_node_flow(tmp_path):
    with live_gui(tmp_path) as url, httpx.Client(base_url=url) as client:
        assert log_in(client).status_code == 303
        build_five_node(Bot(client))
        cookie = client.cookies.get("piranha_session")
        assert cookie
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        dumps = []
        for path, expected in EXPECTED.items():
            text = w3m_dump(url + path, cookie)
            dumps.append(f"===== {path}\n{text}")
            for snippet in expected:
                assert snippet in text, (path, snippet, text)
            assert "<" not in text.replace("<-", ""), (path, text)  # no markup leaks into the text
        (ARTIFACTS / "w3m-panels.txt").write_text("\n".join(dumps))
        welcome = w3m_dump(url + "/", "")
        assert "Welcome to the Piranha Configuration Tool" in welcome and "Login" in welcome
