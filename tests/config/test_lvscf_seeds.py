"""The three example configurations from the seed documents (tests/config/data/)."""

from __future__ import annotations

import pytest
from lvscf_helpers import DATA, SEEDS, env, seed_text

from piranha.config import ConfigError, dumps, load, parse, update


def test_five_node_cluster_example():
    c = load(DATA / "five-node.lvs.cf", env())
    assert c.warnings == []
    assert (c.primary, c.backup, c.backup_active) == ("1.2.3.2", "1.2.3.3", True)
    assert (c.keepalive, c.deadtime, c.heartbeat_port, c.rsh_command) == (2, 10, 1050, "rsh")
    assert (c.network, c.nat_router, c.nat_router_device) == ("nat", "192.168.1.254", "eth1:1")
    (vs1,) = c.virtuals
    assert (vs1.name, vs1.address, vs1.device, vs1.active) == ("vs1", "1.2.3.1", "eth0:1", True)
    assert (vs1.scheduler, vs1.load_monitor, vs1.port, vs1.timeout, vs1.reentry) == (
        "wlc",
        "ruptime",
        80,
        5,
        180,
    )
    assert [(s.name, s.address, s.weight, s.active) for s in vs1.servers] == [
        ("rs1", "192.168.1.3", 2000, True),
        ("rs2", "192.168.1.4", 1000, True),
        ("rs3", "192.168.1.5", 1000, True),
    ]


def test_the_five_node_listing_as_printed_is_not_valid_and_says_why():
    printed = (
        "primary = 1.2.3.2                    3\n"
        "virtual server vs1 {                 8\n"
        " address = 1.2.3.1                   1\n"
        "}\n"
    )
    with pytest.raises(ConfigError) as info:
        parse(printed, environment=env())
    messages = [str(e) for e in info.value.errors]
    assert messages == [
        "lvs.cf:1:38: error: too many values for `primary`: unexpected `3`",
        'lvs.cf:2:9: error: the name `server vs1` has blanks; write `virtual vs1 {`, or quote the name: `virtual "server vs1" {`',
        "lvs.cf:2:38: error: unexpected `8` after `{`; a block opens with `virtual NAME {` and nothing else on the line",
        # `address = 1.2.3.1 1` reads as address 1.2.3.1 on device "1": no syntax error there.
    ]


def test_piranha_sample():
    c = load(DATA / "piranha-sample.lvs.cf", env())
    assert [str(w) for w in c.warnings] == [
        f"{DATA / 'piranha-sample.lvs.cf'}:32:13: warning: `heartbeat` has no effect: heartbeats follow `backup_active` (the GUI always wrote 1)"
    ]
    assert (c.service, c.primary, c.backup, c.backup_active, c.heartbeat) == (
        "lvs",
        "207.175.44.150",
        "207.175.44.196",
        True,
        True,
    )
    assert (c.heartbeat_port, c.keepalive, c.deadtime, c.rsh_command, c.network) == (
        1050,
        6,
        18,
        "rsh",
        "nat",
    )
    assert (c.nat_router, c.nat_router_device) == ("192.168.10.100", "eth1:1")
    server1, server2 = c.virtuals
    assert (server1.port, server1.send, server1.expect) == (
        80,
        "GET / HTTP/1.0\\r\\n\\r\\n",
        "HTTP",
    )  # port = http
    assert (server1.persistent, server1.pmask, server1.load_monitor, server1.reentry) == (
        60,
        "255.255.255.255",
        "uptime",
        10,
    )
    assert [s.name for s in server1.servers] == ["Real1", "Real2"]
    assert (server2.active, server2.port, server2.send) == (False, 21, "\\n")
    assert [s.weight for s in server2.servers] == [1, 1]
    web1, ftp = c.failovers
    assert (web1.name, web1.active, web1.address, web1.device, web1.port) == (
        "web1",
        True,
        "207.175.44.242",
        "eth0:1",
        1010,
    )
    assert (web1.start_cmd, web1.stop_cmd) == (
        "/etc/rc.d/init.d/httpd start",
        "/etc/rc.d/init.d/httpd stop",
    )
    assert (ftp.active, ftp.send, ftp.timeout) == (False, "\\n", 10)


def test_ldirectord_howto_equivalent():
    c = load(DATA / "ldirectord-howto.lvs.cf", env())
    assert c.warnings == []
    assert (c.primary, c.backup_active, c.network) == ("10.10.10.52", False, "direct")
    (www,) = c.virtuals
    assert (www.address, www.device, www.port, www.protocol) == ("10.10.10.53", "eth0:0", 80, "tcp")
    assert (www.persistent, www.sorry_server, www.scheduler, www.timeout) == (
        100,
        "127.0.0.1",
        "lblc",
        2,
    )
    assert (www.send, www.expect, www.use_regex) == (
        "GET /check.txt HTTP/1.0\\r\\n\\r\\n",
        "webserverisworking",
        True,
    )
    assert [(s.address, s.active, s.weight) for s in www.servers] == [
        ("192.168.200.102", True, 1),
        ("192.168.200.103", True, 1),
    ]
    assert "lbrc, a typo for lblc" in (DATA / "ldirectord-howto.lvs.cf").read_text()


@pytest.mark.parametrize("name", SEEDS)
def test_seed_files_round_trip(name):
    text = seed_text(name)
    c = parse(text, environment=env())
    assert update(text, c, env()) == text
    assert parse(dumps(c), environment=env()) == c
