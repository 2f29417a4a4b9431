"""An established NAT connection survives a router failover, with conntrackd syncing conntrack.

Two routers run the nftables data plane with the same table and a
conntrackd each (FT-FW over UDP on a dedicated link, the configuration
from piranha.dataplane.kernel.conntrackd).  A client holds a keep-alive
connection through r1; the VIP and the NAT router address move to r2
(what pulse does), r2 becomes primary (conntrackd -c -f -R -B), and the
client's next request on the same connection is answered.  r2 does not
pick up mid-stream TCP on its own (nf_conntrack_tcp_loose=0), so only the
synchronised entry can carry it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from piranha.dataplane.kernel import conntrackd
from tests.dataplane_nft.lab import Lab, _serve
from tests.support.netns import Host, Topology

pytestmark = [pytest.mark.netns]

VIP = "10.98.0.100"
NAT_ROUTER = "10.97.0.254"

CLIENT = rf"""
import socket, sys
s = socket.create_connection(("{VIP}", 80), timeout=10)
def ask():
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    data = b""
    while not data.endswith(b"\n") or b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            raise SystemExit("connection closed")
        data += chunk
    return data.split(b"\r\n\r\n", 1)[1].decode().strip()
print(ask(), flush=True)
sys.stdin.readline()
try:
    print(ask(), flush=True)
except OSError as exc:
    print("failed:", exc, flush=True)
"""


def _conntrackd(host: Host, interface: str, local: str, peer: str) -> conntrackd.SyncSettings:
    settings = conntrackd.SyncSettings(
        interface=interface, local_address=local, peer_address=peer, run_dir=f"/tmp/piranha-test-{host.name}"
    )
    conntrackd.write_config(settings)
    host.spawn(conntrackd.daemon_argv(settings))
    return settings


def _driver(topo: Topology, host: Host) -> Lab:
    lab = Lab(topo, host, host, [], VIP, 8080)
    lab.start_driver()
    lab.lvsadm("-A", "-t", f"{VIP}:80", "-s", "rr")
    for rs in ("10.97.0.11", "10.97.0.12"):
        lab.lvsadm("-a", "-t", f"{VIP}:80", "-r", f"{rs}:8080", "-m")
    return lab


def test_established_connection_survives_failover():
    if shutil.which("conntrackd") is None:
        raise AssertionError("this test needs conntrackd: apt-get install conntrackd")
    with Topology() as topo:
        client = topo.host("client")
        r1, r2 = topo.host("r1", forwarding=True), topo.host("r2", forwarding=True)
        pub, lan = topo.segment("pub"), topo.segment("lan")
        topo.attach(client, pub, "10.98.0.2/24")
        for i, r in ((1, r1), (2, r2)):
            topo.attach(r, pub, f"10.98.0.1{i}/24")
            topo.attach(r, lan, f"10.97.0.{i + 1}/24")
        sync1, sync2 = topo.link(r1, r2, "10.99.0.1/30", "10.99.0.2/30")  # the dedicated sync link
        servers = []
        for i in (1, 2):
            rs = topo.host(f"rs{i}")
            topo.attach(rs, lan, f"10.97.0.1{i}/24")
            rs.run(["ip", "route", "add", "default", "via", NAT_ROUTER])
            _serve(rs, f"rs{i}", 8080)
            servers.append(rs)
        # r1 is active: it holds the VIP and the NAT router address
        r1.run(["ip", "addr", "add", f"{VIP}/24", "dev", "eth0"])
        r1.run(["ip", "addr", "add", f"{NAT_ROUTER}/24", "dev", "eth1"])
        r2.sysctl("net.netfilter.nf_conntrack_tcp_loose", "0")
        _conntrackd(r1, sync1, "10.99.0.1", "10.99.0.2")
        s2 = _conntrackd(r2, sync2, "10.99.0.2", "10.99.0.1")
        d1, d2 = _driver(topo, r1), _driver(topo, r2)
        try:
            held = client.spawn([sys.executable, "-c", CLIENT], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            first = held.stdout.readline().strip()
            assert first in ("rs1", "rs2")
            # the entry reaches r2's external cache
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                external = r2.run([*conntrackd.primary_argvs(s2)[0][:3], "-e"], check=False).stdout
                if f"dst={VIP}" in external and "ESTABLISHED" in external:
                    break
                time.sleep(0.3)
            else:
                raise AssertionError(f"conntrackd did not replicate the connection to r2: {external!r}")
            # failover: the addresses move (pulse's job), r2 becomes primary
            r1.run(["ip", "addr", "del", f"{VIP}/24", "dev", "eth0"])
            r1.run(["ip", "addr", "del", f"{NAT_ROUTER}/24", "dev", "eth1"])
            r2.run(["ip", "addr", "add", f"{VIP}/24", "dev", "eth0"])
            r2.run(["ip", "addr", "add", f"{NAT_ROUTER}/24", "dev", "eth1"])
            for host in (client, *servers):  # gratuitous ARP's effect
                host.run(["ip", "neigh", "flush", "all"])
            for argv in conntrackd.primary_argvs(s2):
                r2.run(argv)
            table = r2.run(["conntrack", "-L"], check=False).stdout
            assert f"dst={VIP}" in table and "mark=" in table, table
            held.stdin.write("go\n")
            held.stdin.flush()
            second = held.stdout.readline().strip()
            assert second == first, f"after the failover the connection answered {second!r}"
            assert held.wait(timeout=10) == 0
        finally:
            for lab in (d1, d2):
                lab.proc and lab.proc.poll() is None and lab.call("stop")
            for host in (r1, r2):
                shutil.rmtree(f"/tmp/piranha-test-{host.name}", ignore_errors=True)


def test_config_text_is_what_conntrackd_reads(tmp_path: Path):
    settings = conntrackd.SyncSettings(interface="eth9", local_address="10.99.0.1", peer_address="10.99.0.2", run_dir=str(tmp_path))
    text = conntrackd.render_config(settings)
    assert "Mode FTFW" in text and "IPv4_Destination_Address 10.99.0.2" in text
    assert f"Path {tmp_path}/conntrackd.ctl" in text and "IPv4_address 10.98.0.100" not in text
    multicast = conntrackd.render_config(conntrackd.SyncSettings(interface="eth9", local_address="10.99.0.1", run_dir=str(tmp_path)))
    assert "Multicast {" in multicast and "IPv4_interface 10.99.0.1" in multicast
    assert [a[-1] for a in conntrackd.primary_argvs(settings)] == ["-c", "-f", "-R", "-B"]
    assert [a[-1] for a in conntrackd.backup_argvs(settings)] == ["-t", "-n"]
    assert "-d" not in conntrackd.daemon_argv(settings)  # foreground: pulse supervises it
