"""A real lvsd on loopback, with the userspace data plane and real servers of the test's own."""

from __future__ import annotations

import collections
import os
import socket
import stat
from pathlib import Path

import pytest

from .cfg import server, virtual
from .process import LvsdProcess, lvs_cf, random_vip, service, wait_until
from .realservers import LineClient, TcpServer, UdpServer, http_get, rst_close, udp_ask

pytestmark = pytest.mark.slow


@pytest.fixture
def servers() -> list[TcpServer]:
    made = [TcpServer(f"rs{i}") for i in (1, 2, 3)]
    yield made
    for s in made:
        s.stop(drop=True)


def counts(vip: str, port: int, n: int, source: str | None = None) -> collections.Counter[str]:
    return collections.Counter(http_get(vip, port, source=source) for _ in range(n))


def weights(lvsd: LvsdProcess, name: str) -> dict[str, int]:
    for svc in lvsd.call("table")["services"]:
        if svc["name"] == name:
            return {d["name"]: d["weight"] for d in svc["destinations"]}
    raise KeyError(name)


def test_distribution_per_scheduler(tmp_path: Path, servers: list[TcpServer]) -> None:
    vip = random_vip()
    rs = [(s.name, s.port) for s in servers]
    # slow start admits at weight/32: 96/64/32 start at 3/2/1, the ratio of the configured weights
    text = lvs_cf(
        service("rr", vip, 8001, [(n, p, 32) for n, p in rs], "scheduler = rr"),
        service("wrr", vip, 8002, [(n, p, w) for (n, p), w in zip(rs, (96, 64, 32), strict=True)],
                "scheduler = wrr"),
        service("sh", vip, 8003, [(n, p, 32) for n, p in rs], "scheduler = sh"),
    )  # fmt: skip
    with LvsdProcess(tmp_path, text) as lvsd:
        lvsd.wait_ready()
        lvsd.wait_up(9)
        assert counts(vip, 8001, 60) == {"rs1": 20, "rs2": 20, "rs3": 20}
        # wrr: exactly in proportion to the weights (slow start doubles them every
        # ~20 s; a burst that straddles a step is tried again)
        for _ in range(3):
            before = weights(lvsd, "wrr")
            got = counts(vip, 8002, 60)
            if weights(lvsd, "wrr") == before:
                break
        else:
            raise AssertionError("the weights kept changing under the wrr burst")
        assert before == {"rs1": 3, "rs2": 2, "rs3": 1}  # 96/64/32 >> 5, the first step
        assert got == {"rs1": 30, "rs2": 20, "rs3": 10}
        # sh: a client address always reaches the same real server; addresses spread
        chosen = {}
        for last in range(1, 31):
            source = f"127.0.0.{last}"
            answers = set(counts(vip, 8003, 3, source=source))
            assert len(answers) == 1, (source, answers)
            chosen[source] = answers.pop()
        assert len(set(chosen.values())) > 1
        stats = lvsd.lvsadm("-L", "-n", "--stats", "-t", f"{vip}:8001")
        assert stats.returncode == 0 and f"TCP  {vip}:8001" in stats.stdout


def test_persistence_sticks_and_fwmark_groups_ports(
    tmp_path: Path, servers: list[TcpServer]
) -> None:
    vip = random_vip()
    rs = [(s.name, s.port, 32) for s in servers]
    # a fwmark service keeps the port the client used (as IPVS does): its real
    # servers listen on both grouped ports, each on an address of its own
    hosts = [random_vip() for _ in range(3)]
    marked = [
        TcpServer(f"m{i}", host, port) for i, host in enumerate(hosts, 1) for port in (8020, 8021)
    ]
    try:
        shop = virtual(
            "shop", vip, *(server(f"m{i}", host) for i, host in enumerate(hosts, 1)), port=8020,
            extra="timeout = 1\nreentry = 1\nscheduler = rr\nfwmark = 20\n"
            "fwmark_ports = 8020,8021\npersistent = 300",
        )  # fmt: skip
        text = lvs_cf(service("sticky", vip, 8010, rs, "scheduler = rr\npersistent = 300"), shop)
        with LvsdProcess(tmp_path, text) as lvsd:
            lvsd.wait_ready()
            lvsd.wait_up(6)
            chosen = set()
            for source in ("127.0.0.2", "127.0.0.3", "127.0.0.4"):
                got = counts(vip, 8010, 5, source=source)
                assert len(got) == 1, (source, got)
                chosen |= set(got)
            # without persistence rr would have cycled; with it each client kept one server
            assert len(chosen) == 3
            # fwmark: 8020 and 8021 are one service; persistence spans both ports
            spread = set()
            for source in ("127.0.0.5", "127.0.0.6", "127.0.0.7"):
                first = counts(vip, 8020, 2, source=source)
                second = counts(vip, 8021, 2, source=source)
                assert len(first) == 1 and first.keys() == second.keys(), (source, first, second)
                spread |= set(first)
            assert len(spread) == 3
            listing = lvsd.lvsadm("-L", "-n", "-c").stdout
            assert "0.0.0.20:0" in listing  # the fwmark template: the mark as an address
    finally:
        for s in marked:
            s.stop(drop=True)


def test_udp_flows_and_persistence_expiry(tmp_path: Path) -> None:
    vip = random_vip()
    udp = [UdpServer("u1"), UdpServer("u2")]
    try:
        rs = [(s.name, s.port, 32) for s in udp]
        text = lvs_cf(
            service("dns", vip, 5353, rs, "protocol = udp\nscheduler = rr\nsend = ping\nexpect = u"),
            service("sticky", vip, 5354, rs,
                    "protocol = udp\nscheduler = rr\npersistent = 2\nsend = ping\nexpect = u"),
            globals_="udp_timeout = 1",
        )  # fmt: skip
        with LvsdProcess(tmp_path, text) as lvsd:
            lvsd.wait_ready()
            lvsd.wait_up(4)
            flows = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(4)]
            try:
                names = [udp_ask(vip, 5353, "hello", s).split(":")[0] for s in flows]
                assert names == ["u1", "u2", "u1", "u2"] or names == ["u2", "u1", "u2", "u1"]
                # one flow stays on its real server
                assert {udp_ask(vip, 5353, "again", flows[0]).split(":")[0] for _ in range(3)} == {
                    names[0]
                }
            finally:
                for s in flows:
                    s.close()
            first = udp_ask(vip, 5354, "a").split(":")[0]
            assert {udp_ask(vip, 5354, "b").split(":")[0] for _ in range(4)} == {first}
            # flows expire after udp_timeout (1 s), then the template after persistent (2 s)
            wait_until(
                lambda: not any(c["vport"] == 5354 for c in lvsd.call("connections")),
                "the template to expire",
                timeout=15,
            )
            assert udp_ask(vip, 5354, "c").split(":")[0] != first  # rr moved on meanwhile
    finally:
        for s in udp:
            s.stop()


def test_sorry_server(tmp_path: Path) -> None:
    vip = random_vip()
    sorry = TcpServer("sorry")  # listens on 127.0.0.1:<vport>
    real = TcpServer("real")
    real_port = real.port
    real.stop()
    try:
        text = lvs_cf(
            service("www", vip, sorry.port, [("real", real_port, 1)], "sorry_server = 127.0.0.1")
        )
        with LvsdProcess(tmp_path, text) as lvsd:
            lvsd.wait_ready()
            wait_until(lambda: http_get(vip, sorry.port) == "sorry", "the sorry server", 15)
            assert (
                "Virtual Server www: No real servers; activate sorry_server 127.0.0.1" in lvsd.log()
            )
            real.start()
            wait_until(lambda: http_get(vip, sorry.port) == "real", "the real server", 15)
            assert (
                "Virtual Server www: 1 real servers; deactivate sorry_server 127.0.0.1"
                in lvsd.log()
            )
    finally:
        sorry.stop(drop=True)
        real.stop(drop=True)


def test_a_connection_survives_five_reloads(tmp_path: Path, servers: list[TcpServer]) -> None:
    vip = random_vip()
    rs = [(s.name, s.port) for s in servers]
    variants = [("rr", (32, 32, 32)), ("wlc", (64, 32, 32)), ("wrr", (32, 96, 32)),
                ("lc", (32, 32, 64)), ("sh", (96, 32, 32)), ("wlc", (32, 32, 32))]  # fmt: skip

    def text(i: int) -> str:
        scheduler, ws = variants[i]
        return lvs_cf(
            service("www", vip, 8030, [(n, p, w) for (n, p), w in zip(rs, ws, strict=True)],
                    f"scheduler = {scheduler}")
        )  # fmt: skip

    with LvsdProcess(tmp_path, text(0)) as lvsd:
        lvsd.wait_ready()
        lvsd.wait_up(3)
        client = LineClient(vip, 8030)
        try:
            name = client.ask("hello").split(":")[0]
            for i in range(1, 6):
                lvsd.path.write_text(text(i))
                assert lvsd.reload() | {"at": 0} == {"at": 0, "ok": True, "errors": []}
                svc = lvsd.call("table")["services"][0]
                assert svc["scheduler"] == variants[i][0]
                assert client.ask(f"still there {i}") == f"{name}:still there {i}"
        finally:
            client.close()
        assert lvsd.log().count("rereading configuration file") == 5


def test_a_bad_reload_leaves_the_table_as_it_was(tmp_path: Path, servers: list[TcpServer]) -> None:
    vip = random_vip()
    good = lvs_cf(service("www", vip, 8040, [(s.name, s.port, 32) for s in servers]))
    with LvsdProcess(tmp_path, good) as lvsd:
        lvsd.wait_ready()
        lvsd.wait_up(3)
        before = lvsd.lvsadm("-S", "-n").stdout
        lvsd.path.write_text(
            good.replace("scheduler", "schedular").replace("port = 8040", "port = x")
        )
        lvsd.path.write_text(good.replace("weight = 32", "weight = 70000", 1))
        result = lvsd.reload()
        assert result["ok"] is False
        (error,) = result["errors"]
        assert error.startswith(f"{lvsd.path}:") and ": error: " in error
        assert lvsd.lvsadm("-S", "-n").stdout == before
        assert http_get(vip, 8040) in {"rs1", "rs2", "rs3"}
        log = lvsd.log()
        assert error in log
        assert "the running configuration stays" in log


def test_drain_lets_connections_finish(tmp_path: Path, servers: list[TcpServer]) -> None:
    vip = random_vip()
    text = lvs_cf(service("www", vip, 8050, [(s.name, s.port, 32) for s in servers[:2]],
                          "scheduler = rr"))  # fmt: skip
    with LvsdProcess(tmp_path, text) as lvsd:
        lvsd.wait_ready()
        lvsd.wait_up(2)
        clients = [LineClient(vip, 8050) for _ in range(2)]
        names = [c.ask("hi").split(":")[0] for c in clients]
        held = clients[names.index("rs1")]
        entry = lvsd.call("drain", virtual="www", server="rs1", deadline=None)
        assert entry["draining"] is True
        assert counts(vip, 8050, 4) == {"rs2": 4}  # no new connections to rs1
        assert held.ask("working") == "rs1:working"  # the old one goes on
        health = {e["server"]: e for e in lvsd.call("health")}
        assert health["rs1"]["draining"] and health["rs1"]["state"] == "up"
        for c in clients:
            rst_close(c.sock)
        wait_until(
            lambda: not any(d["name"] == "rs1" and d["in_table"]
                            for d in lvsd.call("table")["services"][0]["destinations"]),
            "rs1 to leave the table",
        )  # fmt: skip
        assert "real server www/rs1 (127.0.0.1:" in lvsd.log()
        lvsd.call("undrain", virtual="www", server="rs1")
        wait_until(lambda: weights(lvsd, "www")["rs1"] > 0, "rs1 back")


def test_sigterm_leaves_nothing_behind(tmp_path: Path, servers: list[TcpServer]) -> None:
    vip = random_vip()
    text = lvs_cf(service("www", vip, 8060, [(s.name, s.port, 32) for s in servers]))
    lvsd = LvsdProcess(tmp_path, text)
    try:
        lvsd.wait_ready()
        lvsd.wait_up(3)
        assert stat.S_IMODE(os.stat(lvsd.socket).st_mode) == 0o600
        assert http_get(vip, 8060) in {"rs1", "rs2", "rs3"}
        assert lvsd.stop() == 0
        assert "STOPPING=1" in lvsd.read_notes()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((vip, 8060), timeout=2).close()
        assert not lvsd.socket.exists()
        log = lvsd.log()
        assert "shutting down due to signal 15" in log
        assert "shutting down virtual service www" in log
    finally:
        lvsd.close()


def test_startup_log_and_checks(tmp_path: Path, servers: list[TcpServer]) -> None:
    vip = random_vip()
    text = lvs_cf(
        service("www", vip, 8070, [(s.name, s.port, 32) for s in servers]),
        service("away", "203.0.113.7", 8071, [(servers[0].name, servers[0].port, 32)]),
    )
    with LvsdProcess(tmp_path, text) as lvsd:
        lvsd.wait_ready()
        log = lvsd.log()
        assert "lvs: using data plane userspace" in log
        assert "lvs: starting virtual service www active: 8070" in log
        assert "lvs: create_monitor for www/rs1" in log
        assert (
            "lvs: virtual server away: 203.0.113.7 is not an address of this machine, so the "
            "userspace data plane cannot listen on it" in log
        )
        assert "ip addr add 203.0.113.7/32 dev eth0 label eth0:1" in log
        assert "lvs: data plane failed for virtual server away: " in log
        status = lvsd.call("status")
        assert status["state"] == "active" and status["dataplane"] == "userspace"
        assert any("203.0.113.7" in w for w in status["warnings"])
        # the other service works regardless
        lvsd.wait_up(3)
        assert http_get(vip, 8070) in {"rs1", "rs2", "rs3"}


def _listening(address: str, port: int) -> bool:
    """A TCP listener on address:port in this namespace (/proc/net/tcp, no traffic)."""
    packed = socket.inet_aton(address)[::-1].hex().upper()  # the kernel prints host order
    want = f"{packed}:{port:04X}"
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return any(line.split()[1] == want and line.split()[3] == "0A" for line in lines)


def test_warm_standby_then_activate(tmp_path: Path, servers: list[TcpServer]) -> None:
    # the standby's VIP is on the other router: an address not on this machine (TEST-NET-3;
    # bound with IP_FREEBIND, never sent to)
    vip = "203.0.113.9"
    text = lvs_cf(service("www", vip, 8080, [(s.name, s.port, 32) for s in servers]))
    with LvsdProcess(tmp_path, text, "--standby") as lvsd:
        lvsd.wait_ready()
        assert lvsd.call("status")["state"] == "standby"
        # checks run and the data plane is programmed before the VIP arrives
        lvsd.wait_up(3)
        assert _listening(vip, 8080)
        log = lvsd.log()
        assert "data plane failed" not in log and "cannot listen" not in log
        assert "lvs: standby: data plane programmed" in log
        assert "not an address of this machine" not in log  # start-up checks wait for activate
        assert lvsd.call("activate") == {"state": "active", "changed": True}
        assert lvsd.call("status")["state"] == "active"
        # the start-up checks run after the takeover; here the VIP never arrived: they say so
        wait_until(
            lambda: "203.0.113.9 is not an address of this machine" in lvsd.log(),
            "the VIP warning",
            10,
        )
        assert lvsd.call("activate") == {"state": "active", "changed": False}


def test_standby_with_a_local_vip_serves(tmp_path: Path, servers: list[TcpServer]) -> None:
    """A standby's data plane is programmed: what reaches the VIP is balanced (pulse keeps
    the VIP off the standby router; here it is a loopback address, so it is local)."""
    vip = random_vip()
    text = lvs_cf(service("www", vip, 8080, [(s.name, s.port, 32) for s in servers]))
    with LvsdProcess(tmp_path, text, "--standby") as lvsd:
        lvsd.wait_ready()
        lvsd.wait_up(3)
        assert http_get(vip, 8080) in {"rs1", "rs2", "rs3"}
        assert lvsd.call("status")["state"] == "standby"
