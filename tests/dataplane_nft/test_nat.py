"""NAT through nftables, with real HTTP servers in network namespaces.

Client 10.98.0.2 (+ 32 more addresses) -> director (VIP 10.98.0.100) ->
real servers rs1..rs3 (10.97.0.11-13), routed back through the director
as in the guide's NAT topology.  The director's table is edited with
ipvsadm's language, as lvsd's control socket does.
"""

from __future__ import annotations

import json
import time
from collections import Counter

import pytest

from tests.dataplane_nft.lab import CLIENTS, VIP_NAT, nat_lab

pytestmark = [pytest.mark.netns, pytest.mark.xdist_group("nft-nat")]

SVC = f"{VIP_NAT}:80"
RS = [f"10.97.0.1{i}:8080" for i in (1, 2, 3)]


@pytest.fixture(scope="module")
def lab():
    with nat_lab() as lab:
        lab.start_driver({"rebalance_interval": "0.2"})
        yield lab


@pytest.fixture
def fresh(lab):
    lab.lvsadm("-C")
    lab.director.run(["conntrack", "-F"], check=False)  # (the kernel would revive old counts)
    lab.call("sysctl", expire_nodest_conn=False, expire_quiescent_template=False)
    yield lab


def add_service(lab, scheduler, *flags, weights=(1, 1, 1), port=8080, svc=SVC, proto="-t"):
    lab.lvsadm("-A", proto, svc, "-s", scheduler, *flags)
    for i, w in enumerate(weights, 1):
        lab.lvsadm("-a", proto, svc, "-r", f"10.97.0.1{i}:{port}", "-m", "-w", str(w))


def conntrack(lab) -> list[str]:
    return lab.director.run(["cat", "/proc/net/nf_conntrack"]).stdout.splitlines()


def test_round_robin_and_weighted_round_robin(fresh):
    add_service(fresh, "rr")
    assert fresh.load(count=30)["names"] == {"rs1": 10, "rs2": 10, "rs3": 10}
    fresh.lvsadm("-E", "-t", SVC, "-s", "wrr")
    for i, w in ((1, 3), (2, 2), (3, 1)):
        fresh.lvsadm("-e", "-t", SVC, "-r", RS[i - 1], "-m", "-w", str(w))
    result = fresh.load(count=60)
    assert result["names"] == {"rs1": 30, "rs2": 20, "rs3": 10} and result["failures"] == 0


@pytest.mark.parametrize("scheduler", ["sh", "mh", "dh"])
def test_hashing_schedulers_keep_each_client_on_one_server(fresh, scheduler):
    add_service(fresh, scheduler)
    result = fresh.load(count=len(CLIENTS) * 3, sources=CLIENTS)
    assert result["failures"] == 0
    for source, names in result["by_source"].items():
        assert len(names) == 1, (source, names)
    used = Counter(next(iter(n)) for n in result["by_source"].values())
    if scheduler == "dh":  # one destination address: one bucket, one server
        assert len(used) == 1
    else:
        assert len(used) == 3, used


def test_weighted_least_connection_avoids_the_busy_server(fresh):
    add_service(fresh, "wlc")
    # six held connections pile up on whoever wlc picks first...
    held = fresh.start_load(path="/hold", count=6, concurrency=6, timeout=10)
    time.sleep(1.0)  # a few re-weightings (every 0.2 s) see the counts
    counts = fresh.call("counts")["counts"]
    active = {k.rsplit("|", 1)[1]: c["active"] for k, c in counts.items()}
    assert sum(active.values()) == 6 and max(active.values()) - min(active.values()) <= 1
    # ...and then new short connections go to the least loaded, as wlc would
    busy = max(active, key=active.get)
    quiet = [k for k in active if active[k] == min(active.values())]
    result = fresh.load(count=len(quiet) * 3)
    names = {f"10.97.0.1{n[-1]}:8080": c for n, c in result["names"].items()}
    assert result["failures"] == 0
    if active[busy] > min(active.values()):
        assert names.get(busy, 0) < max(names.values())
    assert json.loads(held.communicate(timeout=20)[0])["failures"] == 0


def test_upper_threshold_caps_a_server(fresh):
    fresh.lvsadm("-A", "-t", SVC, "-s", "wrr")
    fresh.lvsadm("-a", "-t", SVC, "-r", RS[0], "-m", "-w", "100", "-x", "2")
    fresh.lvsadm("-a", "-t", SVC, "-r", RS[1], "-m", "-w", "1")
    held = []
    for _ in range(6):  # arrivals spread over a few re-weightings (every 0.2 s)
        held.append(fresh.start_load(path="/hold", count=1, timeout=10))
        time.sleep(0.3)
    counts = {k.rsplit("|", 1)[1]: c for k, c in fresh.call("counts")["counts"].items()}
    # wrr 100:1 alone would send all six to rs1; its threshold of 2 sends the rest on
    assert counts[RS[0]]["active"] + counts[RS[0]]["inactive"] <= 3
    assert counts[RS[1]]["active"] >= 3
    assert counts[RS[0]]["overloaded"]
    for proc in held:
        assert json.loads(proc.communicate(timeout=20)[0])["failures"] == 0


def test_persistence_sticks_clients_and_lists_templates(fresh):
    add_service(fresh, "rr", "-p", "60")
    result = fresh.load(count=len(CLIENTS) * 3, sources=CLIENTS)
    assert result["failures"] == 0
    assert all(len(names) == 1 for names in result["by_source"].values())
    assert len({next(iter(n)) for n in result["by_source"].values()}) == 3
    listing = fresh.listing("-L", "-n", "-c")
    templates = [line for line in listing.splitlines() if " NONE " in line]
    assert len(templates) == len(CLIENTS)
    assert all(line.split()[4] == f"{VIP_NAT}:80" and ":8080" in line.split()[5] for line in templates)
    # a /24 netmask groups all the clients on one server
    fresh.lvsadm("-C")
    add_service(fresh, "rr", "-p", "60", "-M", "255.255.255.0")
    grouped = fresh.load(count=len(CLIENTS), sources=CLIENTS)
    assert len(grouped["names"]) == 1


def test_fwmark_groups_http_and_https_on_one_server(fresh):
    fresh.lvsadm("-A", "-f", "80", "-s", "rr", "-p", "60")
    for i in (1, 2, 3):
        fresh.lvsadm("-a", "-f", "80", "-r", f"10.97.0.1{i}:0", "-m")
    fresh.call("match", fwmark=80, match=[[6, VIP_NAT, 80, 80], [6, VIP_NAT, 443, 443]])
    first = fresh.load(80, count=len(CLIENTS), sources=CLIENTS)
    second = fresh.load(443, count=len(CLIENTS), sources=CLIENTS)
    assert first["failures"] == second["failures"] == 0
    assert first["by_source"] == second["by_source"]  # each client: the same server on both ports
    assert len(first["names"]) == 3


def test_quiesced_server_keeps_its_connections_and_its_persistent_clients(fresh):
    add_service(fresh, "rr", "-p", "60")
    sticky = fresh.load(count=len(CLIENTS), sources=CLIENTS)["by_source"]
    on_rs1 = [src for src, names in sticky.items() if "rs1" in names]
    held = fresh.start_load(path="/hold", count=3, concurrency=3, sources=on_rs1[:1], timeout=10)
    time.sleep(0.5)
    fresh.lvsadm("-e", "-t", SVC, "-r", RS[0], "-m", "-w", "0")
    # a returning client with a live template still goes to the quiesced server (peers.md (c))
    assert fresh.load(count=3, sources=on_rs1)["names"] == {"rs1": 3}
    # new clients never do
    new = fresh.load(count=30, sources=[f"10.98.0.{i}" for i in range(10, 42) if f"10.98.0.{i}" not in on_rs1])
    assert "rs1" not in new["names"]
    # expire_quiescent_template: returning clients are scheduled afresh
    fresh.call("sysctl", expire_quiescent_template=True)
    moved = fresh.load(count=len(on_rs1), sources=on_rs1)
    assert "rs1" not in moved["names"] and moved["failures"] == 0
    assert json.loads(held.communicate(timeout=20)[0])["failures"] == 0  # established went on


def test_removed_server_udp_flows_go_tcp_flows_stay_unless_expire_nodest_conn(fresh):
    add_service(fresh, "rr")
    fresh.lvsadm("-A", "-u", SVC, "-s", "rr")
    for i in (1, 2, 3):
        fresh.lvsadm("-a", "-u", SVC, "-r", f"10.97.0.1{i}:8080", "-m")
    assert fresh.load(count=9, udp=True)["failures"] == 0
    held = fresh.start_load(path="/hold", count=3, concurrency=3, timeout=10)
    time.sleep(0.5)
    marked = [line for line in conntrack(fresh) if "src=10.97.0.11 " in line]
    assert any(" udp " in line for line in marked) and any(" tcp " in line for line in marked)
    fresh.lvsadm("-d", "-u", SVC, "-r", RS[0])
    fresh.lvsadm("-d", "-t", SVC, "-r", RS[0])
    left = [line for line in conntrack(fresh) if "src=10.97.0.11 " in line]
    assert not any(" udp " in line for line in left), "UDP entries of a removed server must go"
    assert any("ESTABLISHED" in line for line in left), "established TCP keeps running by default"
    assert json.loads(held.communicate(timeout=20)[0])["failures"] == 0
    # expire_nodest_conn: the connections of a removed server are dropped at once
    fresh.call("sysctl", expire_nodest_conn=True)
    held = fresh.start_load(path="/hold", count=2, concurrency=2, timeout=10)
    time.sleep(0.5)
    assert any("src=10.97.0.12 " in line and "ESTABLISHED" in line for line in conntrack(fresh))
    fresh.lvsadm("-d", "-t", SVC, "-r", RS[1])
    assert not any("src=10.97.0.12 " in line and " tcp " in line for line in conntrack(fresh))
    assert any("src=10.97.0.12 " in line and " udp " in line for line in conntrack(fresh))  # still in the UDP service
    held.communicate(timeout=20)


def test_changes_under_load_lose_no_request(fresh):
    add_service(fresh, "wrr")
    load = fresh.start_load(duration=4, concurrency=8)
    changes = 0
    deadline = time.monotonic() + 3.5
    while time.monotonic() < deadline:
        for i, w in ((1, 5), (2, 1), (3, 2)):
            fresh.lvsadm("-e", "-t", SVC, "-r", RS[i - 1], "-m", "-w", str(w + changes % 3))
        fresh.lvsadm("-E", "-t", SVC, "-s", "rr" if changes % 2 else "wrr")
        changes += 1
    result = json.loads(load.communicate(timeout=30)[0])
    assert changes >= 10
    assert result["requests"] > 500 and result["failures"] == 0, result["errors"]
    fresh.call("refresh")
    stats = fresh.listing("-L", "-n", "--stats")
    total = next(line for line in stats.splitlines() if line.startswith("TCP"))
    assert int(total.split()[2]) == result["requests"]  # Conns counts every connection


def test_counters_rates_and_listing_look_like_ipvsadm(fresh):
    add_service(fresh, "rr")
    load = fresh.start_load(duration=5, concurrency=4)
    time.sleep(1)
    for _ in range(3):  # the estimator ticks every 2 s of refreshes
        fresh.call("refresh")
        time.sleep(1.1)
    json.loads(load.communicate(timeout=30)[0])
    fresh.call("refresh")
    listing = fresh.listing("-L", "-n")
    assert f"TCP  {VIP_NAT}:80 rr" in listing
    assert "  -> 10.97.0.11:8080              Masq    1      0" in listing
    stats = fresh.listing("-L", "-n", "--stats").splitlines()
    svc_line = next(line for line in stats if line.startswith("TCP"))
    conns, inpkts, outpkts, inbytes, outbytes = (int(x) for x in svc_line.split()[2:7])
    assert conns > 100 and inpkts > conns * 4 and outpkts > conns * 3 and outbytes > inbytes > 0
    dest_lines = [line for line in stats if line.startswith("  ->") and ":8080" in line]
    assert sum(int(line.split()[2]) for line in dest_lines) == conns
    rates = fresh.listing("-L", "-n", "--rate").splitlines()
    assert int(next(line for line in rates if line.startswith("TCP")).split()[2]) > 0  # CPS


def test_no_real_server_refuses_at_once(fresh):
    fresh.lvsadm("-A", "-t", SVC, "-s", "wlc")
    result = fresh.load(count=3)
    assert result["failures"] == 3
    assert all("Connection refused" in e or "ConnectionRefused" in e for e in result["errors"])


def test_local_client_on_the_director(fresh):
    add_service(fresh, "rr")
    script = f"for i in 1 2 3; do curl -s -m 3 http://{VIP_NAT}/; done"
    out = fresh.director.run(["sh", "-c", script])  # the output hook's DNAT
    assert sorted(out.stdout.split()) == ["rs1", "rs2", "rs3"]


def test_connections_get_ipvs_timeouts_not_conntrack_defaults(fresh):
    add_service(fresh, "rr")
    fresh.lvsadm("--set", "600", "30", "100")
    held = fresh.start_load(path="/hold", count=1, concurrency=1, timeout=10)
    time.sleep(0.5)
    line = next(line for line in conntrack(fresh) if "ESTABLISHED" in line and "mark=0 " not in line)
    assert 500 < int(line.split()[4]) <= 600  # not conntrack's 432000
    held.communicate(timeout=20)
    listing = fresh.listing("-L", "-n", "-c")
    assert "ESTABLISHED" in listing or "TIME_WAIT" in listing
