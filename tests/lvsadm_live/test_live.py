"""lvsadm against a running lvsd: ipvsadm's exact layouts, run-time edits that carry traffic."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..lvsd.process import LvsdProcess, lvs_cf, random_vip, service, wait_until
from ..lvsd.realservers import LineClient, TcpServer, UdpServer, http_get

pytestmark = pytest.mark.slow

HEAD = (
    "IP Virtual Server version 1.2.1 (size=4096)\n"
    "Prot LocalAddress:Port Scheduler Flags\n"
    "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
)


def dest_line(address: str, forward: str, weight: int, active: int, inactive: int) -> str:
    # ipvsadm: "  -> %-28s %-7s %-6d %-10u %-10u\n"
    return f"  -> {address:<28} {forward:<7} {weight:<6} {active:<10} {inactive:<10}\n"


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[LvsdProcess, str, list[TcpServer], UdpServer]]:
    vip = random_vip()
    tcp = [TcpServer("rs1"), TcpServer("rs2")]
    udp = UdpServer("ns1")
    ordered = sorted(tcp, key=lambda s: s.port)  # ipvsadm lists destinations sorted
    text = lvs_cf(
        service("www", vip, 8080, [(s.name, s.port, 32) for s in ordered], "scheduler = rr"),
        service("app", vip, 8443, [(ordered[0].name, ordered[0].port, 64)],
                "persistent = 60\npmask = 255.255.255.0"),
        service("dns", vip, 5353, [("ns1", udp.port, 32)],
                "protocol = udp\nscheduler = rr\nsend = x\nexpect = ns1"),
    )  # fmt: skip
    lvsd = LvsdProcess(tmp_path, text)
    try:
        lvsd.wait_ready()
        lvsd.wait_up(4)
        yield lvsd, vip, ordered, udp
    finally:
        lvsd.close()
        for s in tcp:
            s.stop(drop=True)
        udp.stop()


def test_list_save_and_connections_in_ipvsadm_layout(lab) -> None:  # type: ignore[no-untyped-def]
    lvsd, vip, (a, b), udp = lab
    listing = lvsd.lvsadm("-L", "-n")
    assert (listing.returncode, listing.stderr) == (0, "")
    assert listing.stdout == (
        HEAD
        + f"TCP  {vip}:8080 rr\n"
        + dest_line(f"127.0.0.1:{a.port}", "Masq", 1, 0, 0)
        + dest_line(f"127.0.0.1:{b.port}", "Masq", 1, 0, 0)
        + f"TCP  {vip}:8443 wlc persistent 60 mask 255.255.255.0\n"
        + dest_line(f"127.0.0.1:{a.port}", "Masq", 2, 0, 0)
        + f"UDP  {vip}:5353 rr\n"
        + dest_line(f"127.0.0.1:{udp.port}", "Masq", 1, 0, 0)
    )
    saved = lvsd.lvsadm("-S", "-n")
    assert saved.stdout == (
        f"-A -t {vip}:8080 -s rr\n"
        f"-a -t {vip}:8080 -r 127.0.0.1:{a.port} -m -w 1\n"
        f"-a -t {vip}:8080 -r 127.0.0.1:{b.port} -m -w 1\n"
        f"-A -t {vip}:8443 -s wlc -p 60 -M 255.255.255.0\n"
        f"-a -t {vip}:8443 -r 127.0.0.1:{a.port} -m -w 2\n"
        f"-A -u {vip}:5353 -s rr\n"
        f"-a -u {vip}:5353 -r 127.0.0.1:{udp.port} -m -w 1\n"
    )
    client = LineClient(vip, 8080)
    try:
        name = client.ask("hello").split(":")[0]
        server = a if name == a.name else b
        conns = lvsd.lvsadm("-L", "-n", "-c").stdout.splitlines()
        assert conns[:2] == [
            "IPVS connection entries",
            "pro expire state       source             virtual            destination",
        ]
        cport = client.sock.getsockname()[1]
        (line,) = [c for c in conns if f"127.0.0.1:{cport} " in c]
        assert line.startswith("TCP 14:5") and " ESTABLISHED 127.0.0.1:" in line
        assert line.endswith(f"{vip}:8080".ljust(18) + f" 127.0.0.1:{server.port}")
        listing = lvsd.lvsadm("-L", "-n", "-t", f"{vip}:8080").stdout
        assert dest_line(f"127.0.0.1:{server.port}", "Masq", 1, 1, 0) in listing
    finally:
        client.close()


def test_stats_rate_zero_and_names(lab) -> None:  # type: ignore[no-untyped-def]
    lvsd, vip, (a, _b), _ = lab
    for _ in range(4):
        http_get(vip, 8080)
    # one service: no version line, as ipvsadm
    stats = lvsd.lvsadm("-L", "-n", "--stats", "-t", f"{vip}:8080").stdout.splitlines()
    assert (
        stats[0] == "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes"
    )
    # "%-33s %8s %8s %8s %8s %8s": four connections, one request packet each
    name = f"TCP  {vip}:8080"
    assert stats[2].startswith(f"{name:<33} {4:>8} {4:>8}")
    assert lvsd.lvsadm("-Z", "-t", f"{vip}:8080").returncode == 0
    stats = lvsd.lvsadm("-L", "-n", "--stats", "-t", f"{vip}:8080").stdout.splitlines()
    assert stats[2] == f"{name:<33}" + f" {0:>8}" * 5
    rate = lvsd.lvsadm("-L", "-n", "--rate").stdout.splitlines()
    assert (
        rate[1] == "Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS"
    )
    # without -n lvsd looks names up (off its event loop): 127.0.0.1 is localhost
    named = lvsd.lvsadm("-L", "-t", f"{vip}:8080")
    assert named.returncode == 0
    assert f"  -> localhost:{a.port} " in named.stdout
    timeouts = lvsd.lvsadm("-L", "--timeout").stdout
    assert timeouts == "Timeout (tcp tcpfin udp): 900 120 300\n"


def test_run_time_edits_carry_traffic_and_last_until_restart(lab) -> None:  # type: ignore[no-untyped-def]
    lvsd, vip, (a, b), _ = lab
    extra = TcpServer("extra")
    try:
        svc = f"{vip}:9000"
        assert lvsd.lvsadm("-A", "-t", svc, "-s", "wrr").returncode == 0
        assert (
            lvsd.lvsadm(
                "-a", "-t", svc, "-r", f"127.0.0.1:{extra.port}", "-m", "-w", "2"
            ).returncode
            == 0
        )
        assert http_get(vip, 9000) == "extra"
        done = lvsd.lvsadm("-a", "-t", svc, "-r", f"127.0.0.1:{extra.port}", "-m")
        assert (done.returncode, done.stderr) == (255, "Destination already exists\n")
        assert (
            lvsd.lvsadm(
                "-e", "-t", svc, "-r", f"127.0.0.1:{extra.port}", "-m", "-w", "0"
            ).returncode
            == 0
        )
        with pytest.raises(ConnectionError):
            http_get(vip, 9000)  # weight 0: no destination, the client gets a reset
        # a reload applies what changed in lvs.cf: nothing here, the run-time service stays
        assert lvsd.reload()["ok"]
        assert f"TCP  {svc} wrr" in lvsd.lvsadm("-L", "-n").stdout
        assert lvsd.lvsadm("-D", "-t", svc).returncode == 0
        wait_until(lambda: _refused(vip, 9000), "the listener to go")
        # -C empties the table; a reload sets lvs.cf's services up again
        assert lvsd.lvsadm("-C").returncode == 0
        assert lvsd.lvsadm("-S", "-n").stdout == ""
        assert lvsd.reload()["ok"]
        wait_until(
            lambda: f"-A -t {vip}:8080 -s rr" in lvsd.lvsadm("-S", "-n").stdout, "lvs.cf's table"
        )
        wait_until(lambda: http_get(vip, 8080) in {a.name, b.name}, "traffic again")
        restored = lvsd.lvsadm("-R", stdin=f"-A -u {vip}:9053 -s rr\n-A -u {vip}:9053\n")
        assert (restored.returncode, restored.stderr) == (255, "Service already exists\n")
        assert f"UDP  {vip}:9053 rr" in lvsd.lvsadm("-L", "-n").stdout
    finally:
        extra.stop(drop=True)


def test_help_names_lvsd_and_a_stopped_lvsd_is_reported(lab) -> None:  # type: ignore[no-untyped-def]
    lvsd, _, _, _ = lab
    help_text = lvsd.lvsadm("--help")
    assert help_text.returncode == 0
    assert "works on the table of the running lvsd" in help_text.stdout
    assert "run-time only" in help_text.stdout
    assert lvsd.stop() == 0
    gone = lvsd.lvsadm("-L", "-n")
    assert gone.returncode == 255
    assert gone.stderr.startswith("lvsadm: no running lvsd (no control socket at ")
    assert "start one with 'piranha lvsd'" in gone.stderr


def _refused(address: str, port: int) -> bool:
    try:
        socket.create_connection((address, port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def test_deleting_a_destination_is_what_ipvs_does(tmp_path: Path) -> None:
    """-d: its connections stall, and resume if it is added back; with expire_nodest_conn they end."""
    vip = random_vip()
    real = TcpServer("rs1")
    try:
        text = lvs_cf(service("www", vip, 8080, [("rs1", real.port, 32)]))
        with LvsdProcess(tmp_path, text) as lvsd:
            lvsd.wait_ready()
            lvsd.wait_up(1)
            rs = f"127.0.0.1:{real.port}"
            client = LineClient(vip, 8080, timeout=1.5)
            try:
                assert client.ask("one") == "rs1:one"
                assert lvsd.lvsadm("-d", "-t", f"{vip}:8080", "-r", rs).returncode == 0
                with pytest.raises(TimeoutError):
                    client.ask("two")  # its packets are dropped, the connection stays
                assert lvsd.lvsadm("-a", "-t", f"{vip}:8080", "-r", rs, "-m").returncode == 0
                client.sock.settimeout(5)
                assert client.ask("three") == "rs1:two"  # resumed where it stood
            finally:
                client.close()
            lvsd.path.write_text(
                text.replace(
                    "dataplane = userspace", "dataplane = userspace\nexpire_nodest_conn = 1"
                )
            )
            assert lvsd.reload()["ok"]
            client = LineClient(vip, 8080, timeout=5)
            try:
                assert client.ask("four") == "rs1:four"
                assert lvsd.lvsadm("-d", "-t", f"{vip}:8080", "-r", rs).returncode == 0
                with pytest.raises((ConnectionError, OSError)):
                    client.ask("five")  # expired at once: the client's connection ends
            finally:
                client.close()
    finally:
        real.stop(drop=True)
