"""`piranha realserver`: the steps printed, done in a real server's namespace, and undone."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.dataplane_nft.lab import realserver
from tests.support.netns import Topology

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DR = HERE / "dr.cf"
NAT = HERE / "nat.cf"


def piranha(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "piranha.cli.main", "realserver", *args],
        capture_output=True,
        text=True,
        cwd=str(ROOT),
        env=dict(os.environ, PIRANHA_RUN_DIR="/nonexistent-run-dir"),
    )


def test_prints_the_direct_routing_steps_for_a_server():
    res = piranha("-c", str(DR), "--server", "web1")
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "Real server web1 (10.97.0.11) for direct routing" in out
    assert "www (10.97.0.100:80 tcp), dns (10.97.0.101:53 udp)" in out
    assert "ip addr add 10.97.0.100/32 dev lo" in out and "ip addr add 10.97.0.101/32 dev lo" in out
    assert "sysctl -w net.ipv4.conf.all.arp_ignore=1" in out
    assert "sysctl -w net.ipv4.conf.all.arp_announce=2" in out
    assert "arptables -A OUT -s 10.97.0.100 -j mangle --mangle-ip-s 10.97.0.11" in out
    only = piranha("-c", str(DR), "--server", "10.97.0.11", "--virtual", "www", "--arp", "nft").stdout
    assert "10.97.0.101" not in only and "arp saddr ip 10.97.0.100 arp saddr ip set 10.97.0.11" in only


def test_prints_the_nat_route_step():
    out = piranha("-c", str(NAT), "--server", "web1").stdout
    assert "ip route replace default via 10.97.0.254" in out


def test_bad_input_says_what_and_exits_2():
    res = piranha("-c", str(DR), "--server", "nope")
    assert res.returncode == 2
    assert "no active real server named or addressed 'nope'" in res.stderr
    assert "web1 10.97.0.11" in res.stderr and "Traceback" not in res.stderr
    res = piranha("-c", str(DR), "--server", "web1", "--virtual", "mail")
    assert res.returncode == 2 and "virtual servers: www, dns" in res.stderr
    res = piranha("-c", "/nonexistent/lvs.cf", "--server", "web1")
    assert res.returncode == 2 and "cannot read /nonexistent/lvs.cf" in res.stderr
    res = piranha("-c", str(DR), "--server", "web2", "--apply")
    assert res.returncode == 1 and "run --apply on the real server web2 itself" in res.stderr


@pytest.fixture
def topo():
    """A topology whose real servers' `realserver` state directories go with it."""
    with Topology() as topo:
        try:
            yield topo
        finally:
            for host in topo.hosts:
                shutil.rmtree(f"/tmp/piranha-test-{host.name}", ignore_errors=True)


@pytest.mark.netns
def test_apply_is_idempotent_and_undo_restores(topo):
    rs = topo.host("rs")
    topo.link(rs, topo.host("lan"), "10.97.0.11/24")
    sysctl = lambda name: rs.run(["sysctl", "-n", name]).stdout.strip()  # noqa: E731
    rs.sysctl("net.ipv4.conf.all.arp_announce", "1")  # something to restore later
    out = realserver(rs, DR, "web1", "--apply").stdout
    assert "added 10.97.0.100/32 to lo" in out
    addrs = rs.run(["ip", "-4", "addr", "show", "dev", "lo"]).stdout
    assert "10.97.0.100/32" in addrs and "10.97.0.101/32" in addrs
    for name in ("all.arp_ignore", "eth0.arp_ignore"):
        assert sysctl(f"net.ipv4.conf.{name}") == "1"
    for name in ("all.arp_announce", "eth0.arp_announce"):
        assert sysctl(f"net.ipv4.conf.{name}") == "2"
    again = realserver(rs, DR, "web1", "--apply").stdout
    assert again.count("already done") == 2
    realserver(rs, DR, "web1", "--undo")
    assert "10.97.0.100" not in rs.run(["ip", "-4", "addr", "show", "dev", "lo"]).stdout
    assert sysctl("net.ipv4.conf.all.arp_announce") == "1"
    assert sysctl("net.ipv4.conf.all.arp_ignore") == "0"


@pytest.mark.netns
def test_apply_with_nft_arp_rules_and_nat_route(topo):
    rs = topo.host("rs")
    topo.link(rs, topo.host("lan"), "10.97.0.11/24")
    realserver(rs, DR, "web1", "--apply", "--arp", "nft")
    table = rs.run(["nft", "list", "table", "arp", "piranha_realserver"]).stdout
    assert "arp saddr ip 10.97.0.100 arp saddr ip set 10.97.0.11" in table
    assert rs.run(["sysctl", "-n", "net.ipv4.conf.all.arp_ignore"]).stdout.strip() == "0"
    realserver(rs, DR, "web1", "--undo", "--arp", "nft")
    assert rs.run(["nft", "list", "tables"]).stdout.strip() == ""
    rs.run(["ip", "route", "add", "default", "via", "10.97.0.1"])
    realserver(rs, NAT, "web1", "--apply")
    assert "default via 10.97.0.254" in rs.run(["ip", "route"]).stdout
    realserver(rs, NAT, "web1", "--undo")
    assert "default via 10.97.0.1 " in rs.run(["ip", "route"]).stdout
