"""Direct routing through nftables' ingress hook, real servers set up by `piranha realserver`.

One LAN 10.97.0.0/24: client .2, director .1 with the VIP 10.97.0.100,
real servers .11-.13 holding the VIP on lo with ARP suppressed (guide 3.2,
done by ``piranha realserver --apply`` from tests/realserver/dr.cf).  The
real servers answer the client directly.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from tests.dataplane_nft.lab import VIP_DR, dr_lab

pytestmark = [pytest.mark.netns, pytest.mark.xdist_group("nft-dr")]

LVS_CF = Path(__file__).resolve().parents[1] / "realserver" / "dr.cf"
SVC = f"{VIP_DR}:80"
RS = [f"10.97.0.1{i}:80" for i in (1, 2, 3)]
CLIENTS = [f"10.97.0.{i}" for i in range(40, 56)]


@pytest.fixture(scope="module")
def lab():
    with dr_lab(lvs_cf=LVS_CF) as lab:
        for addr in CLIENTS:
            lab.client.run(["ip", "addr", "add", f"{addr}/24", "dev", "eth0"])
        lab.start_driver({"rebalance_interval": "0.2"})
        yield lab


@pytest.fixture
def fresh(lab):
    lab.lvsadm("-C")
    lab.call("sysctl", expire_nodest_conn=False, expire_quiescent_template=False)
    yield lab


def add_service(lab, scheduler, *flags, weights=(1, 1, 1), proto="-t", svc=SVC):
    lab.lvsadm("-A", proto, svc, "-s", scheduler, *flags)
    for i, w in enumerate(weights, 1):
        lab.lvsadm("-a", proto, svc, "-r", RS[i - 1], "-g", "-w", str(w))


def test_the_director_alone_answers_arp_for_the_vip(fresh):
    fresh.client.run(["ping", "-c1", "-W2", VIP_DR])
    neigh = fresh.client.run(["ip", "neigh", "show", VIP_DR]).stdout
    assert fresh.director.mac("eth0") in neigh


def test_weighted_round_robin_and_keepalive(fresh):
    add_service(fresh, "wrr", weights=(3, 2, 1))
    result = fresh.load(count=60)
    assert result["names"] == {"rs1": 30, "rs2": 20, "rs3": 10} and result["failures"] == 0
    # a connection stays on its server for all its requests (flow entries)
    kept = fresh.load(count=12, keepalive=5)
    assert kept["failures"] == 0 and sum(kept["names"].values()) == 60
    assert all(n % 5 == 0 for n in kept["names"].values())


def test_udp(fresh):
    add_service(fresh, "rr", proto="-u")
    result = fresh.load(count=30, udp=True)
    assert result["names"] == {"rs1": 10, "rs2": 10, "rs3": 10} and result["failures"] == 0


def test_persistence(fresh):
    add_service(fresh, "rr", "-p", "60")
    result = fresh.load(count=len(CLIENTS) * 3, sources=CLIENTS)
    assert result["failures"] == 0
    assert all(len(n) == 1 for n in result["by_source"].values())
    assert len(result["names"]) == 3
    templates = [line for line in fresh.listing("-L", "-n", "-c").splitlines() if " NONE " in line]
    assert len(templates) == len(CLIENTS)


def test_fwmark_groups_ports_at_ingress(fresh):
    fresh.lvsadm("-A", "-f", "21", "-s", "sh")
    # until the service says which packets it groups, direct routing cannot carry it
    refused = fresh.lvsadm("-a", "-f", "21", "-r", "10.97.0.11:0", "-g", expect_failed=True)
    assert "fwmark_ports" in refused["failed"]["FWM 21"]
    for i in (2, 3):
        fresh.lvsadm("-a", "-f", "21", "-r", f"10.97.0.1{i}:0", "-g", expect_failed=True)
    answer = fresh.call("match", fwmark=21, match=[[6, VIP_DR, 80, 80], [6, VIP_DR, 443, 443]])
    assert answer["failed"] == {}
    web = fresh.load(80, count=len(CLIENTS), sources=CLIENTS)
    tls = fresh.load(443, count=len(CLIENTS), sources=CLIENTS)
    assert web["failures"] == tls["failures"] == 0
    assert web["by_source"] == tls["by_source"]  # sh keys on the client: same server on both ports
    assert len(web["names"]) >= 2


def test_flows_listed_counted_and_removed_server_keeps_established_flows(fresh):
    add_service(fresh, "rr")
    assert fresh.load(count=9)["failures"] == 0
    stats = fresh.listing("-L", "-n", "--stats").splitlines()
    line = next(x for x in stats if x.startswith("TCP"))
    assert int(line.split()[2]) == 9 and int(line.split()[3]) > 9 * 3
    assert int(line.split()[4]) == 0  # direct routing: the replies bypass the director
    held = fresh.start_load(path="/hold", count=3, concurrency=3, timeout=10)
    time.sleep(0.5)
    listing = fresh.listing("-L", "-n", "-c")
    assert listing.count("ESTABLISHED") == 3 and "FIN_WAIT" in listing
    fresh.lvsadm("-d", "-t", SVC, "-r", RS[0])
    # the held connection to rs1 finishes: its flow entry keeps being forwarded
    assert json.loads(held.communicate(timeout=20)[0])["failures"] == 0
    again = fresh.load(count=10)
    assert "rs1" not in again["names"] and again["failures"] == 0


REUSE_PORT = """
import socket, struct, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.97.0.2", 45678))
s.settimeout(5)
s.connect((sys.argv[1], 80))
s.sendall(b"GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
print(s.recv(4096).split(b"\\r\\n\\r\\n", 1)[1].decode().strip())
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST: no TIME_WAIT
s.close()
"""


def test_a_new_connection_on_a_closed_flow_is_scheduled_afresh(fresh):
    """The same client port again after a close (IPVS conn_reuse_mode): the old flow
    entry must not send the new connection after a server that left."""
    add_service(fresh, "rr")
    first = fresh.client.run([sys.executable, "-c", REUSE_PORT, VIP_DR]).stdout.strip()
    fresh.lvsadm("-d", "-t", SVC, "-r", RS[int(first[-1]) - 1])
    again = fresh.client.run([sys.executable, "-c", REUSE_PORT, VIP_DR]).stdout.strip()
    assert first in ("rs1", "rs2", "rs3") and again in ("rs1", "rs2", "rs3")
    assert again != first


def test_removed_server_udp_flows_are_rescheduled(fresh):
    add_service(fresh, "rr", proto="-u")
    assert fresh.load(count=3, udp=True)["failures"] == 0
    flows = fresh.call("nft", text="list map netdev piranha flows_udp")["output"]
    assert flows.count(" : 0x") == 3
    fresh.lvsadm("-d", "-u", SVC, "-r", RS[0])
    flows = fresh.call("nft", text="list map netdev piranha flows_udp")["output"]
    assert flows.count(" : 0x") == 2  # rs1's flow went with it


def test_changes_under_load_lose_no_request(fresh):
    add_service(fresh, "wrr")
    load = fresh.start_load(duration=3, concurrency=6)
    changes = 0
    deadline = time.monotonic() + 2.5
    while time.monotonic() < deadline:
        fresh.lvsadm("-e", "-t", SVC, "-r", RS[changes % 3], "-g", "-w", str(1 + changes % 4))
        changes += 1
    result = json.loads(load.communicate(timeout=30)[0])
    assert changes >= 10 and result["requests"] > 300
    assert result["failures"] == 0, result["errors"]
