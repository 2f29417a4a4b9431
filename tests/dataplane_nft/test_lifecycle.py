"""The backend's life in one namespace: every rule shape accepted, changes in place, clean up."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.dataplane_nft.lab import HERE, Lab
from tests.support.netns import Topology

pytestmark = [pytest.mark.netns]

VIP = "10.96.0.100"
SCHEDULERS = ["rr", "wrr", "lc", "wlc", "sed", "nq", "fo", "ovf", "twos", "sh", "dh", "mh"]


@pytest.fixture
def ns():
    with Topology() as topo:
        host = topo.host("dir")
        topo.link(host, topo.host("peer"), "10.96.0.1/24")  # eth0: the real servers' segment
        host.run(["ip", "addr", "add", f"{VIP}/32", "dev", "eth0"])
        lab = Lab(topo, host, host, [], VIP, 80)
        lab.start_driver()
        yield lab


def nft(lab: Lab, text: str) -> str:
    return lab.call("nft", text=text)["output"]


def objects(lab: Lab) -> set[str]:
    out = set()
    for line in nft(lab, "list ruleset").splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] in ("chain", "map", "set", "table") and words[-1] == "{":
            out.add(f"{words[0]} {words[-2]}")
    return out


def test_every_scheduler_forwarding_and_persistence_shape_is_accepted(ns):
    port = 1000
    lines = []  # one ipvsadm-restore: one converge
    for scheduler in SCHEDULERS:
        for forward in ("-m", "-g"):
            for persistent in ((), ("-p", "120", "-M", "255.255.0.0")):
                for proto in ("-t", "-u"):
                    port += 1
                    svc = f"{VIP}:{port}"
                    flags = ["-b", "sh-fallback,sh-port"] if scheduler == "sh" else []
                    flags = ["-b", "mh-fallback,mh-port"] if scheduler == "mh" else flags
                    lines.append(" ".join(["-A", proto, svc, "-s", scheduler, *persistent, *flags]))
                    for i in (1, 2):
                        lines.append(" ".join(["-a", proto, svc, "-r", f"10.96.0.{10 + i}:{port}", forward,
                                               "-w", str(i), "-x", "50" if i == 2 else "0"]))
    ns.lvsadm("-R", stdin="\n".join(lines) + "\n")
    # fwmark services, NAT and direct routing, with their match rules
    ns.lvsadm("-A", "-f", "7", "-s", "rr", "-p", "60")
    ns.lvsadm("-a", "-f", "7", "-r", "10.96.0.11:0", "-m")
    ns.call("match", fwmark=7, match=[[6, VIP, 80, 80], [6, VIP, 443, 443], [17, VIP, 10000, 20000]])
    ns.lvsadm("-A", "-f", "8", "-s", "wrr")
    ns.lvsadm("-a", "-f", "8", "-r", "10.96.0.12:0", "-g", expect_failed=True)
    assert ns.call("match", fwmark=8, match=[[6, VIP, 21, 21], [6, VIP, 30000, 30999]])["failed"] == {}
    ns.lvsadm("-A", "-t", f"{VIP}:0", "-s", "rr", "-p", "300")  # all ports
    ns.lvsadm("-a", "-t", f"{VIP}:0", "-r", "10.96.0.11", "-m")
    assert ns.call("converge")["failed"] == {}
    names = objects(ns)
    assert {"table piranha", "chain nat_pre", "chain ingress_eth0", "chain fwd_eth0", "map flows_tcp"} <= names
    listing = ns.listing("-L", "-n")
    assert listing.count("\nTCP") + listing.count("\nUDP") + listing.count("\nFWM") == len(SCHEDULERS) * 8 + 3


def test_element_changes_keep_chains_rule_changes_make_new_ones(ns):
    ns.lvsadm("-A", "-t", f"{VIP}:80", "-s", "wrr")
    for i in (1, 2):
        ns.lvsadm("-a", "-t", f"{VIP}:80", "-r", f"10.96.0.{10 + i}:80", "-m", "-w", "1")
    before = objects(ns)
    ns.lvsadm("-e", "-t", f"{VIP}:80", "-r", "10.96.0.11:80", "-m", "-w", "1")  # nothing changes
    assert objects(ns) == before
    ns.lvsadm("-a", "-t", f"{VIP}:80", "-r", "10.96.0.13:80", "-m", "-w", "1")  # cycle 2 -> 3
    after = objects(ns)
    assert len([n for n in after if n.startswith("chain svc_")]) == 1
    assert after != before  # a new chain version replaced the old one
    ns.lvsadm("-C")
    assert not any(n.startswith(("chain svc_", "chain new_", "map persist_")) for n in objects(ns))
    assert "table piranha" in objects(ns)


def test_start_removes_leftovers_and_stop_removes_everything(ns):
    ns.lvsadm("-A", "-t", f"{VIP}:80", "-s", "rr")
    ns.lvsadm("-a", "-t", f"{VIP}:80", "-r", "10.96.0.11:80", "-g")
    # a second lvsd after a crash finds the tables of the first one
    argv = [sys.executable, str(HERE / "driver.py")]
    second = ns.director.spawn(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first, ns.proc = ns.proc, second
    ns.call("start")
    assert not any(n.startswith("chain svc_") for n in objects(ns))
    ns.call("stop")
    assert ns.director.run(["nft", "list", "tables"]).stdout.strip() == ""
    ns.proc = first


def test_nft_program_fallback_applies_the_same_language(ns):
    script = (
        "from piranha.dataplane.kernel.libnft import NftCommand, Nft\n"
        "for nft in (NftCommand(), Nft()):\n"
        "    nft.run('add table ip t\\nadd chain ip t c\\nadd rule ip t c ct mark 1 accept\\n')\n"
        "    assert 'ct mark 0x00000001 accept' in nft.run('list table ip t')\n"
        "    nft.run('delete table ip t\\n')\n"
        "    try:\n"
        "        nft.run('add rule ip t nosuchchain accept\\n')\n"
        "    except Exception as exc:\n"
        "        assert 'No such file or directory' in str(exc), exc\n"
        "    else:\n"
        "        raise AssertionError('accepted a rule for a missing table')\n"
        "print('ok')\n"
    )
    assert ns.director.run([sys.executable, "-c", script], cwd=str(HERE.parents[1])).stdout.strip() == "ok"
