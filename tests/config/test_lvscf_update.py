"""update(): edit lvs.cf text in place, keeping everything that did not change."""

from __future__ import annotations

import copy
import difflib

import pytest
from lvscf_helpers import env, seed_text

from piranha.config import Config, ConfigError, Failover, Server, Virtual, parse, update

HAND = (
    "# hand-written, with comments\n"
    "primary  =  10.0.0.1\n"
    "network = direct\n"
    "\n"
    "keepalive = 3\t\n"
    "# the web farm\n"
    "virtual www {\n"
    "\tactive = 1\n"
    "\taddress = 10.0.0.100 eth0:1\n"
    "\t# the scheduler we like\n"
    "\tscheduler = wlc\n"
    "\n"
    "\tserver a {\n"
    "\t\taddress = 10.1.0.1\n"
    "\t\tactive = 1\n"
    "\t}\n"
    "\tserver b {\n"
    "\t\taddress = 10.1.0.2\n"
    "\t\tactive = 1\n"
    "\t\tweight = 2\n"
    "\t}\n"
    "}\n"
    "\n"
    "virtual mail {\n"
    "\tactive = 0\n"
    "\taddress = 10.0.0.101 eth0:2\n"
    "\tport = smtp\n"
    "}\n"
)


def read(text: str = HAND) -> Config:
    return parse(text, environment=env())


def edit(c: Config, text: str = HAND) -> str:
    new = update(text, c, env())
    assert parse(new, environment=env()) == c
    return new


def changes(old: str, new: str) -> list[str]:
    return [
        d
        for d in difflib.ndiff(old.splitlines(keepends=True), new.splitlines(keepends=True))
        if d[:1] in "+-"
    ]


def test_no_change_is_no_change():
    assert update(HAND, read(), env()) == HAND
    for name in ("five-node.lvs.cf", "piranha-sample.lvs.cf", "ldirectord-howto.lvs.cf"):
        text = seed_text(name)
        assert update(text, read(text), env()) == text


@pytest.mark.parametrize(
    "text",
    [
        HAND.replace("\n", "\r\n"),
        HAND.replace("\n", "\r"),
        HAND.rstrip("\n"),
        "\ufeff" + HAND,
        HAND.replace("primary  =  10.0.0.1", "primary = 10.1\nprimary = 012.0.0.1"),
    ],
)
def test_no_change_keeps_bytes_whatever_the_style(text):
    assert update(text, read(text), env()) == text


def test_a_changed_value_rewrites_only_its_token():
    c = read()
    c.keepalive = 4
    assert changes(HAND, edit(c)) == ["- keepalive = 3\t\n", "+ keepalive = 4\t\n"]
    c = read()
    c.primary = "10.0.0.9"
    assert changes(HAND, edit(c)) == ["- primary  =  10.0.0.1\n", "+ primary  =  10.0.0.9\n"]
    c = read()
    c.virtuals[0].servers[1].weight = 5
    assert changes(HAND, edit(c)) == ["- \t\tweight = 2\n", "+ \t\tweight = 5\n"]


def test_equal_values_in_another_spelling_are_kept():
    c = read()
    assert c.virtuals[1].port == 25
    c.virtuals[1].active = True
    assert changes(HAND, edit(c)) == ["- \tactive = 0\n", "+ \tactive = 1\n"]  # `port = smtp` stays


def test_ip_and_device_are_one_line():
    c = read()
    c.virtuals[0].device = "eth0:7"
    assert changes(HAND, edit(c)) == [
        "- \taddress = 10.0.0.100 eth0:1\n",
        "+ \taddress = 10.0.0.100 eth0:7\n",
    ]


def test_an_unset_key_loses_its_lines_all_of_them():
    text = HAND.replace(
        "keepalive = 3\t\n",
        "keepalive = 3\t\nprimary_private = 10.9.0.1\nprimary_private = 10.9.0.2\n",
    )
    c = read(text)
    assert c.primary_private == "10.9.0.2"
    c.primary_private = None
    assert edit(c, text) == HAND


def test_a_duplicate_key_changes_its_last_line():
    text = HAND.replace("keepalive = 3\t\n", "keepalive = 3\t\nkeepalive = 8\n")
    c = read(text)
    c.keepalive = 9
    assert changes(text, edit(c, text)) == ["- keepalive = 8\n", "+ keepalive = 9\n"]


def test_a_new_key_goes_to_its_canonical_place_with_its_neighbours_indent():
    c = read()
    c.virtuals[0].persistent = 300  # canonical: after address (and fwmark, port), before scheduler
    new = edit(c)
    assert changes(HAND, new) == ["+ \tpersistent = 300\n"]
    assert "\taddress = 10.0.0.100 eth0:1\n\tpersistent = 300\n\t# the scheduler" in new
    c = read()
    c.virtuals[0].servers[0].weight = 7  # after `active`, the last present key before it
    assert "\t\tactive = 1\n\t\tweight = 7\n\t}\n\tserver b" in edit(c)
    c = read()
    c.serial_no = 5  # before every present key: before the first one
    assert edit(c).startswith(
        "# hand-written, with comments\nserial_no = 5\nprimary  =  10.0.0.1\n"
    )


def test_several_new_keys_keep_canonical_order():
    c = read()
    c.virtuals[1].sorry_server = "127.0.0.1"
    c.virtuals[1].vip_nmask = "255.255.255.0"
    c.virtuals[1].quiesce_server = True
    c.virtuals[1].proxy_protocol = True
    new = edit(c)
    block = new[new.index("virtual mail") :]
    assert block == (
        "virtual mail {\n\tactive = 0\n\taddress = 10.0.0.101 eth0:2\n\tsorry_server = 127.0.0.1\n"
        "\tvip_nmask = 255.255.255.0\n\tport = smtp\n\tquiesce_server = 1\n\tproxy_protocol = 1\n}\n"
    )


def test_new_key_in_an_empty_block_and_an_empty_global_section():
    text = "virtual v {\n}\n"
    c = read(text)
    c.virtuals[0].timeout = 3
    c.keepalive = 4
    assert edit(c, text) == "keepalive = 4\nvirtual v {\n     timeout = 3\n}\n"


def test_new_blocks_go_after_the_last_of_their_kind():
    c = read()
    c.virtuals.append(Virtual("ftp", address="10.0.0.102", device="eth0:3"))
    c.virtuals[0].servers.append(Server("c", address="10.1.0.3", active=True))
    new = edit(c)
    # the mail block was followed by nothing; a blank line separated www from mail
    assert new.endswith(
        "\tport = smtp\n}\nvirtual ftp {\n     active = 0\n     address = 10.0.0.102 eth0:3\n"
        "     port = 80\n     use_regex = 0\n     scheduler = wlc\n     protocol = tcp\n"
        "     timeout = 10\n     reentry = 180\n     quiesce_server = 0\n}\n"
    )
    assert (
        "\t\tweight = 2\n\t}\n\tserver c {\n\t\taddress = 10.1.0.3\n\t\tactive = 1\n\t\tweight = 1\n\t}\n}\n"
        in new
    )


def test_a_new_block_after_a_block_followed_by_a_blank_line_gets_one_too():
    c = read()
    c.virtuals.insert(1, Virtual("new"))
    new = edit(c)
    assert "\t}\n}\n\nvirtual new {\n" in new
    assert "}\n\nvirtual mail {" in new


def test_first_failover_goes_before_the_virtuals_first_server_before_the_closer():
    c = read()
    c.failovers.append(Failover("f", address="10.0.0.50", device="eth0:9"))
    c.virtuals[1].servers.append(Server("m", address="10.2.0.1"))
    new = edit(c)
    assert "# the web farm\nfailover f {\n     address = 10.0.0.50 eth0:9\n" in new
    assert "\tport = smtp\n\tserver m {\n\t\taddress = 10.2.0.1\n" in new


def test_blocks_are_deleted_with_their_lines_and_nothing_else():
    c = read()
    del c.virtuals[0].servers[0]
    new = edit(c)
    assert changes(HAND, new) == [
        "- \tserver a {\n",
        "- \t\taddress = 10.1.0.1\n",
        "- \t\tactive = 1\n",
        "- \t}\n",
    ]
    c = read()
    del c.virtuals[0]
    new = edit(c)
    assert new == HAND[: HAND.index("virtual www")] + HAND[HAND.index("\nvirtual mail") :]


def test_a_renamed_block_changes_its_header_only():
    c = read()
    c.virtuals[0].name = "web farm"
    assert changes(HAND, edit(c)) == ["- virtual www {\n", '+ virtual "web farm" {\n']


def test_reordered_blocks_move_with_their_text():
    c = read()
    c.virtuals.reverse()
    new = edit(c)
    assert new.index("virtual mail") < new.index("virtual www")
    assert new.count("# the scheduler we like") == 1
    c = read()
    c.virtuals[0].servers.reverse()
    new = edit(c)
    assert new.index("server b") < new.index("server a")


def test_blocks_without_a_known_origin_are_new():
    c = read()
    twin = copy.deepcopy(c.virtuals[1])  # same origin as the original
    twin.name = "mail2"
    twin.address = "10.0.0.103"
    c.virtuals.append(twin)
    new = edit(c)
    assert new.count("virtual mail {") == 1 and "virtual mail2 {" in new
    c = read()
    c.virtuals[0].origin = None
    new = edit(c)
    assert new.count("virtual www {") == 1


def test_new_lines_use_the_files_line_ends():
    text = HAND.replace("\n", "\r\n")
    c = read(text)
    c.virtuals[0].persistent = 60
    c.virtuals.append(Virtual("x"))
    new = edit(c, text)
    assert "\n" not in new.replace("\r\n", "")
    text = HAND.rstrip("\n")
    c = read(text)
    c.virtuals.append(Virtual("x"))
    new = edit(c, text)
    assert new.endswith("}") and "\tport = smtp\n}\nvirtual x {\n" in new


def test_update_from_an_empty_file():
    c = Config(virtuals=[Virtual("v")])
    assert (
        update("", c, env())
        == "virtual v {\n     active = 0\n     port = 80\n     use_regex = 0\n     scheduler = wlc\n     protocol = tcp\n     timeout = 10\n     reentry = 180\n     quiesce_server = 0\n}\n"
    )


def test_update_refuses_broken_text_and_unwritable_configs():
    with pytest.raises(ConfigError):
        update("virtual x {\n", Config(), env())
    c = read()
    c.virtuals[0].send = "a\r\nb"
    with pytest.raises(ConfigError):
        update(HAND, c, env())


def test_a_text_with_semantic_errors_can_still_be_fixed():
    text = HAND.replace("scheduler = wlc", "scheduler = wlcc")
    with pytest.raises(ConfigError):
        read(text)
    # The GUI can still repair it: the syntax is fine.
    c = read()
    assert changes(text, update(text, c, env())) == [
        "- \tscheduler = wlcc\n",
        "+ \tscheduler = wlc\n",
    ]
