"""The guide's five-node example built in headless Chromium, clicking like an administrator.

One browser for the module.  Every panel is photographed into
tests/artifacts/screenshots/ on every run; `make screenshots` (which sets
PIRANHA_PUBLISH_SCREENSHOTS=1) copies the set to docs/screenshots/, so a
plain test run never dirties the working tree.
The browser's console must stay clean: a Content-Security-Policy violation
(an inline script or style slipping in) would show there.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from . import daemondata, fivenode
from .support import ARTIFACTS, PASSWORD, ROOT, FakeDaemon, live_gui

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
SHOTS = ARTIFACTS / "screenshots"
DOCS_SHOTS = ROOT / "docs" / "screenshots"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not os.path.exists(CHROMIUM):
        raise AssertionError(
            f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


class Admin:
    """A browser tab with the habits of an administrator following the guide."""

    def __init__(self, browser, url: str, javascript: bool = True) -> None:
        self.context = browser.new_context(
            viewport={"width": 1024, "height": 720}, java_script_enabled=javascript
        )
        self.page = self.context.new_page()
        self.url = url
        self.console: list[str] = []
        self.page.on(
            "console",
            lambda m: (
                self.console.append(f"{m.type}: {m.text}")
                if m.type in ("error", "warning")
                else None
            ),
        )
        self.page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}"))

    def go(self, path: str) -> None:
        self.page.goto(self.url + path)

    def click(self, selector: str) -> None:
        with self.page.expect_navigation():
            self.page.click(selector)

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

    def saved(self) -> None:
        assert self.page.locator(".flash.saved").count() == 1, self.page.content()

    def close(self) -> None:
        self.context.close()


def _login(admin: Admin) -> None:
    admin.go("/")
    admin.shot("01-welcome")
    admin.click("#login-link")
    admin.page.fill("#username", "piranha")
    admin.page.fill("#password", PASSWORD)
    admin.shot("02-login")
    admin.click("#go")
    assert admin.page.url.endswith("/control"), admin.page.inner_text("main")


def test_five_node_example_in_chromium(browser, tmp_path):
    with live_gui(tmp_path) as url:
        admin = Admin(browser, url)
        try:
            _login(admin)
            page = admin.page
            # Step 2: GLOBAL SETTINGS
            admin.click("#tab-global")
            page.fill("#f-primary", fivenode.GLOBAL["primary"])
            page.fill("#f-nat_router", fivenode.GLOBAL["nat_router"])
            page.fill("#f-nat_router_device", fivenode.GLOBAL["nat_router_device"])
            page.select_option("#f-rsh_command", fivenode.GLOBAL["rsh_command"])
            admin.click("#accept")
            admin.saved()
            admin.shot("04-global-settings")
            # Step 3: REDUNDANCY
            admin.click("#tab-redundancy")
            assert page.inner_text("#backup-state") == "inactive"
            admin.click("#enable")
            for field, value in fivenode.REDUNDANCY.items():
                page.fill(f"#f-{field}", value)
            admin.click("#accept")
            admin.saved()
            admin.shot("05-redundancy")
            # Step 4: VIRTUAL SERVERS: Add, then Edit
            admin.click("#tab-virtual")
            admin.click("#add")
            page.check("#vs-0")
            admin.click("#edit")
            for field in ("name", "port", "address", "device", "reentry", "timeout"):
                page.fill(f"#f-{field}", fivenode.VIRTUAL[field])
            page.select_option("#f-load_monitor", fivenode.VIRTUAL["load_monitor"])
            page.select_option("#f-scheduler", fivenode.VIRTUAL["scheduler"])
            admin.click("#accept")
            admin.saved()
            admin.shot("07-virtual-server")
            # Steps 5-6: REAL SERVER: Add, then Edit, for rs1, rs2, rs3
            admin.click("#sub-real")
            for j, server in enumerate(fivenode.SERVERS):
                admin.click("#add")
                page.check(f"#rs-{j}")
                admin.click("#edit")
                for field, value in server.items():
                    page.fill(f"#f-{field}", value)
                if j == 0:
                    admin.shot("09-edit-real-server")
                admin.click("#accept")
                admin.saved()
            # Step 7: select each real server and Activate it
            for j in range(3):
                page.check(f"#rs-{j}")
                admin.click("#toggle")
                admin.saved()
            admin.shot("08-real-server")
            admin.click("#sub-scripts")
            admin.shot("10-monitoring-scripts")
            # Step 8: Close, select vs1, Activate
            admin.click("#close")
            page.check("#vs-0")
            admin.click("#toggle")
            admin.saved()
            assert page.locator("#virtuals td.up").inner_text() == "up"
            admin.shot("06-virtual-servers")
            fivenode.assert_matches_guide(tmp_path / "lvs.cf")

            # The review page before APPLY, the change-password help, help
            admin.go("/apply")
            assert "+primary = 1.2.3.2" in page.inner_text("#pending-diff")
            admin.shot("11-apply")
            admin.go("/password")
            admin.shot("13-change-password")

            # CONTROL/MONITORING and charts with daemons answering on the control sockets
            run = tmp_path / "run"
            with FakeDaemon(run / "lvsd.sock", daemondata.lvsd_handlers(serial_no=14)), \
                 FakeDaemon(run / "pulse.sock", daemondata.pulse_handlers()):  # fmt: skip
                admin.go("/control?auto_update=1&rate=10")
                assert "TCP  1.2.3.1:80 wlc" in page.inner_text("#routing-table")
                assert page.locator("#health tbody tr").count() == 3
                # with JavaScript, htmx refreshes the status in place (and the CSP lets it)
                assert page.evaluate("typeof htmx") == "object"
                page.evaluate("document.querySelector('#lvsd-state').textContent = 'stale'")
                with page.expect_response(lambda r: "/control/status" in r.url):
                    page.evaluate(
                        "htmx.ajax('GET', '/control/status?rate=10', {target: '#status', swap: 'outerHTML'})"
                    )
                page.wait_for_function(
                    "document.querySelector('#lvsd-state').textContent.startsWith('running')"
                )
                admin.shot("03-control-monitoring")
                admin.click("#charts-link")
                assert page.locator("svg polyline").count() == 12
                admin.shot("12-charts")
            assert admin.console == [], admin.console
        finally:
            admin.close()
    _publish_screenshots()


def test_panels_work_with_javascript_off(browser, tmp_path):
    with live_gui(tmp_path, "primary = 10.0.0.1\nservice = fos\n") as url:
        admin = Admin(browser, url, javascript=False)
        try:
            admin.go("/login")
            admin.page.fill("#password", PASSWORD)
            admin.click("#go")
            admin.click("#tab-failover")
            admin.click("#add")
            admin.page.check("#fo-0")
            admin.click("#edit")
            admin.page.fill("#f-name", "ftp")
            admin.page.fill("#f-address", "10.0.0.50")
            admin.page.fill("#f-start_cmd", "/etc/init.d/vsftpd start")
            admin.page.fill("#f-stop_cmd", "/etc/init.d/vsftpd stop")
            admin.click("#accept")
            admin.saved()
            admin.shot("14-failover-service")
            admin.go("/control?auto_update=1&rate=10")
            assert admin.page.locator("#auto-update").is_checked()
            # Enter in a text field means ACCEPT, not the first network-type button
            admin.go("/global")
            admin.click("#network-direct")
            admin.page.fill("#f-primary", "10.0.0.2")
            with admin.page.expect_navigation():
                admin.page.press("#f-primary", "Enter")
            admin.saved()
            assert admin.page.inner_text("#current-network") == "Direct Routing"
        finally:
            admin.close()
    text = (tmp_path / "lvs.cf").read_text()
    assert (
        "failover ftp {" in text and "primary = 10.0.0.2\n" in text and "network = direct\n" in text
    )
    _publish_screenshots()


def _publish_screenshots() -> None:
    """Check the screenshots; copy them into docs/screenshots when asked to publish."""
    shots = sorted(SHOTS.glob("*.png"))
    assert shots, "the browser run wrote no screenshots"
    for shot in shots:
        assert shot.stat().st_size < 400_000, f"{shot} is too big for the repository"
    if os.environ.get("PIRANHA_PUBLISH_SCREENSHOTS") == "1":
        DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
        for shot in shots:
            shutil.copyfile(shot, DOCS_SHOTS / shot.name)
