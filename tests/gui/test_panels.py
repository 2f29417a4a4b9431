"""The panels with JavaScript off: the guide's five-node example click by click, validation, safe writes."""

from __future__ import annotations

import os

from piranha.config import Environment, load, parse

from . import fivenode
from .formbot import Bot
from .support import digest_of, make_site


def build_five_node(bot: Bot) -> None:
    """Guide: 'Implementing the Example with Piranha', steps 2-8, with the panels' buttons."""
    page = bot.get("/global")
    page.form("accept").fill(**fivenode.GLOBAL)
    page = bot.click("accept")
    assert page.status == 200 and "saved" in page.html, page.html

    bot.get("/redundancy")
    page = bot.link("enable")
    page.form("accept").fill(**fivenode.REDUNDANCY)
    page = bot.click("accept")
    assert "saved" in page.html and 'id="backup-state">active' in page.html, page.html

    bot.get("/virtual")
    page = bot.click("add")
    assert "[server_name]" in page.html
    page.form("edit").choose("vs-0")
    page = bot.click("edit")
    assert page.url.endswith("/virtual/0")
    page.form("accept").fill(**fivenode.VIRTUAL)
    page = bot.click("accept")
    assert "saved" in page.html, page.html

    bot.link("sub-real")
    for j, server in enumerate(fivenode.SERVERS):
        page = bot.click("add")
        page.form("edit").choose(f"rs-{j}")
        page = bot.click("edit")
        page.form("accept").fill(**server)
        page = bot.click("accept")  # back to the REAL SERVER list
        assert server["name"] in page.html and "saved" in page.html, page.html
    for j in range(len(fivenode.SERVERS)):  # step 7: select each real server, Activate
        bot.page.form("toggle").choose(f"rs-{j}")  # type: ignore[union-attr]
        page = bot.click("toggle")
        assert "ACTIVATE real server" in page.html
    page = bot.link("close")  # step 8: back to VIRTUAL SERVERS, activate vs1
    page.form("toggle").choose("vs-0")
    page = bot.click("toggle")
    assert "ACTIVATE virtual server" in page.html and '<td class="up">up</td>' in page.html


def test_five_node_example_through_the_panels_without_javascript(tmp_path):
    site = make_site(tmp_path)
    bot = Bot(site.client())
    build_five_node(bot)
    written = fivenode.assert_matches_guide(site.config)
    assert written.serial_no == 14  # one per ACCEPT, ADD and ACTIVATE, as the original counted
    # a panel view never writes
    before = site.config.read_bytes(), os.stat(site.config).st_mtime_ns
    for url in ("/control", "/global", "/redundancy", "/virtual", "/virtual/0", "/virtual/0/real",
                "/virtual/0/real/1", "/virtual/0/scripts", "/apply", "/failover", "/help", "/password"):  # fmt: skip
        assert bot.get(url).status == 200, url
    assert (site.config.read_bytes(), os.stat(site.config).st_mtime_ns) == before


def test_accept_shows_the_diff_of_what_was_written_and_keeps_comments(tmp_path):
    original = "# our cluster\nprimary = 10.0.0.1   \nservice = lvs\n\n# the web farm\nvirtual www {\n  address = 10.0.0.100 eth0:1\n  active = 0\n}\n"
    site = make_site(tmp_path, original)
    bot = Bot(site.client())
    page = bot.get("/virtual/0")
    page.form("accept").fill(port="8080")
    page = bot.click("accept")
    text = site.config.read_text()
    assert (
        "# our cluster\n" in text
        and "# the web farm\n" in text
        and "primary = 10.0.0.1   \n" in text
    )
    assert "  port = 8080\n" in text and "serial_no = 1\n" in text
    assert "+  port = 8080" in page.html  # the diff, shown after the save
    assert (tmp_path / "lvs.cf.bak").read_text() == original


def test_field_errors_appear_next_to_their_fields_and_nothing_is_written(tmp_path):
    site = make_site(tmp_path, "virtual www {\n     address = 10.0.0.100 eth0:1\n}\n")
    before = site.config.read_text()
    bot = Bot(site.client())
    page = bot.get("/virtual/0")
    page.form("accept").fill(port="70000", address="10.0.0.300", timeout="ten")
    page = bot.click("accept")
    assert page.status == 422
    assert 'id="error-address"' in page.html and "is not an IPv4 address" in page.html
    assert 'id="error-timeout"' in page.html and "not a whole number" in page.html
    # the typed values stay in the form
    assert 'value="10.0.0.300"' in page.html
    assert site.config.read_text() == before
    # a value that only `piranha check` refuses: port out of range, shown at the port field
    page = bot.get("/virtual/0")
    page.form("accept").fill(port="70000")
    page = bot.click("accept")
    assert (
        page.status == 422
        and 'id="error-port"' in page.html
        and "out of range 1-65535" in page.html
    )
    assert site.config.read_text() == before


def test_cross_block_errors_are_shown_and_block_the_save(tmp_path):
    text = (
        "virtual a {\n     address = 10.0.0.100 eth0:1\n     active = 1\n}\n"
        "virtual b {\n     address = 10.0.0.101 eth0:1\n     active = 1\n}\n"
    )
    site = make_site(tmp_path, text)
    bot = Bot(site.client())
    page = bot.get("/virtual/1")
    page.form("accept").fill(address="10.0.0.100")
    page = bot.click("accept")
    assert page.status == 422 and "is the same service as virtual `a`" in page.html
    assert site.config.read_text() == text


def test_a_file_changed_since_the_form_was_shown_is_not_overwritten(tmp_path):
    site = make_site(tmp_path, "primary = 10.0.0.1\n")
    bot = Bot(site.client())
    page = bot.get("/global")
    form = page.form("accept").fill(primary="10.0.0.2")
    site.config.write_text("primary = 10.0.0.9\n# edited by hand meanwhile\n")
    page = bot.click("accept", form)
    assert "changed since this page was shown" in page.html
    assert site.config.read_text() == "primary = 10.0.0.9\n# edited by hand meanwhile\n"
    assert 'value="10.0.0.9"' in page.html  # the page now shows the current file


def test_send_program_newline_and_quotes_are_refused(tmp_path):
    site = make_site(tmp_path, "virtual www {\n     address = 10.0.0.100 eth0:1\n}\n")
    client = site.client()
    page = client.get("/virtual/0/scripts")
    base = {
        "csrf_token": _csrf(page.text),
        "config_digest": digest_of(page.text),
        "action": "accept",
    }
    for evil in (
        "/bin/check %h\n     active = 1",
        "/bin/check\r%h",
        '/bin/sh -c "reboot"',
        "/bin/x `id`",
    ):
        r = client.post("/virtual/0/scripts", data={**base, "send_program": evil})
        assert r.status_code == 422, evil
        assert 'id="error-send_program"' in r.text
    assert "send_program" not in site.config.read_text()
    # the escapes nanny knows go in as text
    r = client.post(
        "/virtual/0/scripts", data={**base, "send": "GET / HTTP/1.0\\r\\n\\r\\n", "expect": "HTTP"}
    )
    assert r.status_code == 303
    assert 'send = "GET / HTTP/1.0\\r\\n\\r\\n"' in site.config.read_text()


def test_names_with_blanks_become_underscores_as_in_the_original(tmp_path):
    site = make_site(tmp_path, "virtual www {\n     address = 10.0.0.100 eth0:1\n}\n")
    bot = Bot(site.client())
    bot.get("/virtual/0").form("accept").fill(name="web farm")
    bot.click("accept")
    assert load(site.config, Environment.hermetic()).virtuals[0].name == "web_farm"


def test_a_file_with_errors_is_shown_not_edited(tmp_path):
    site = make_site(tmp_path, "primary = 10.0.0.1\nport = 80 # no trailing comments\n")
    client = site.client()
    r = client.get("/global")
    assert r.status_code == 409 and "piranha check" in r.text and "lvs.cf:2" in r.text
    assert client.get("/control").status_code == 200  # monitoring still works


def test_network_type_buttons_and_nat_fields(tmp_path):
    site = make_site(tmp_path, "primary = 10.0.0.1\nnat_router = 10.1.0.254 eth1:1\n")
    bot = Bot(site.client())
    page = bot.get("/global")
    assert 'id="current-network">NAT' in page.html and 'id="f-nat_router"' in page.html
    page = bot.click("network-direct")
    assert (
        'id="current-network">Direct Routing' in page.html and 'id="f-nat_router"' not in page.html
    )
    config = load(site.config, Environment.hermetic())
    assert (config.network, config.nat_router) == (
        "direct",
        None,
    )  # as the original: the NAT router goes


def test_redundancy_disable_and_reset(tmp_path):
    site = make_site(
        tmp_path, "primary = 10.0.0.1\nbackup_active = 1\nbackup = 10.0.0.2\nkeepalive = 6\n"
    )
    bot = Bot(site.client())
    page = bot.get("/redundancy?reset=1")
    assert 'value="2"' in page.html  # the defaults are shown, not saved
    assert load(site.config, Environment.hermetic()).keepalive == 6
    page = bot.get("/redundancy")
    page = bot.click("disable")
    config = load(site.config, Environment.hermetic())
    assert config.backup_active is False and config.backup == "10.0.0.2"
    assert 'id="enable"' in page.html


def test_failover_services_panel_when_service_is_fos(tmp_path):
    site = make_site(tmp_path, "primary = 10.0.0.1\nservice = fos\n")
    bot = Bot(site.client())
    page = bot.get("/control")
    assert 'id="tab-failover"' in page.html and 'id="tab-virtual"' not in page.html
    bot.get("/failover")
    page = bot.click("add")
    page.form("edit").choose("fo-0")
    page = bot.click("edit")
    page.form("accept").fill(name="ftp", address="10.0.0.50", device="eth0:2", port="21",
                             start_cmd="/etc/init.d/vsftpd start", stop_cmd="/etc/init.d/vsftpd stop")  # fmt: skip
    bot.click("accept")
    bot.get("/failover").form("toggle").choose("fo-0")
    bot.click("toggle")
    failover = load(site.config, Environment.hermetic()).failovers[0]
    assert (failover.name, failover.address, failover.device, failover.port, failover.active) == (
        "ftp", "10.0.0.50", "eth0:2", 21, True,
    )  # fmt: skip
    assert failover.start_cmd == "/etc/init.d/vsftpd start"


def test_delete_needs_a_selection_and_removes_only_that_block(tmp_path):
    text = "virtual a {\n     address = 10.0.0.100 eth0:1\n}\nvirtual b {\n     address = 10.0.0.101 eth0:1\n}\n"
    site = make_site(tmp_path, text)
    bot = Bot(site.client())
    page = bot.get("/virtual")
    page = bot.click("delete")
    assert "Select a virtual server first" in page.html
    page.form("delete").choose("vs-0")
    bot.click("delete")
    assert [
        v.name for v in parse(site.config.read_text(), environment=Environment.hermetic()).virtuals
    ] == ["b"]


def _csrf(html: str) -> str:
    from .support import csrf_of

    return csrf_of(html)
