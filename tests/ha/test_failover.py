"""Two routers, three real servers, a client: pulse failing over for real (netns, root).

pulse and lvsd run as processes with the userspace data plane; heartbeats
are fast (keepalive 0.1 s, deadtime 0.4 s) and the fail-back hold-down is
1 s so that each scenario takes seconds.  Nothing here asserts on speed
(bench/failover.py measures that); the tests check who holds what, what
the client and the real servers see, and what the routers log.
"""

import signal
import sys

import pytest

from piranha.ha.wire import Magic, encode_plain
from piranha.runtime.control import ControlClient
from tests.ha.cluster import (
    CAPTURE,
    NAT_ROUTER,
    PUBLIC,
    REAL_SERVERS,
    SPOOF,
    VIP,
    cluster,
    lvs_cf,
)

pytestmark = [pytest.mark.netns, pytest.mark.slow]


def up(c):
    """Start both routers and wait until the primary serves and the backup is warm."""
    c.start("r1")
    c.start("r2")
    r1, r2 = c.routers["r1"], c.routers["r2"]
    c.wait_for(lambda: r1.status()["state"] == "active", what="r1 active")
    c.wait_for(lambda: c.request() is not None, what="an answer through r1")
    c.wait_for(lambda: r2.status()["lvsd_state"] == "standby", what="warm standby lvsd on r2")
    # a just-started standby knows its real servers after its first round of checks
    c.wait_for(lambda: r2.servers_up() == len(REAL_SERVERS), what="r2's checks admitted the servers")
    c.wait_for(lambda: r2.status()["partner"]["state"] == "running", what="r2 hears r1 running")
    return r1, r2


def served_by(c, name):
    answer = c.request(timeout=0.5)
    return answer is not None and c.router_of(answer[1]) == name


def test_primary_holds_the_addresses_with_their_labels_and_serves():
    with cluster() as c:
        r1, r2 = up(c)
        labels = r1.labels()
        assert labels[VIP] == "eth0:1"
        assert labels[NAT_ROUTER] == "eth1:1"
        assert VIP not in r2.addresses() and NAT_ROUTER not in r2.addresses()
        answers = c.wait_for(
            lambda: len(a := {c.request() for _ in range(3)} - {None}) == 3 and a,
            what="rr over the three real servers (once their checks admitted them)",
        )
        assert {server for server, _ in answers} == {"rs1", "rs2", "rs3"}
        assert {c.router_of(via) for _, via in answers} == {"r1"}
        s1, s2 = r1.status(), r2.status()
        assert (s1["role"], s1["state"], s2["role"], s2["state"]) == (
            "primary",
            "active",
            "backup",
            "inactive",
        )
        assert sorted(s1["vips"]) == sorted([VIP, NAT_ROUTER]) and s2["vips"] == []
        assert s1["heartbeat"]["received"] > 0 and not s1["heartbeat"]["authenticated"]
        assert "STARTING PULSE AS MASTER" in r1.log()
        assert "STARTING PULSE AS BACKUP" in r2.log()
        assert "primary inactive: activating lvs" not in r2.log()  # no start-up bounce
        # the standby's lvsd listens on the VIP it does not hold (IP_FREEBIND): no failure
        assert "data plane failed" not in r2.log() and "cannot listen" not in r2.log()
        assert "standby: data plane programmed" in r2.log()


def test_crash_moves_vip_arp_and_gateway_to_the_backup_then_fails_back_after_hold_down():
    with cluster() as c:
        r1, r2 = up(c)
        assert c.neighbour_mac(c.client, VIP) == r1.public_mac
        c.kill("r1")  # every process of the router, as a crash would
        c.wait_for(lambda: served_by(c, "r2"), what="r2 answers on the VIP")
        assert "partner dead: activating lvs" in r2.log()
        # the client's neighbour entry for the VIP now holds the backup's MAC ...
        assert c.neighbour_mac(c.client, VIP) == r2.public_mac
        # ... and the real servers' gateway (the NAT router address) moved too
        for rs in c.real_servers.values():
            c.wait_for(
                lambda rs=rs: c.neighbour_mac(rs, NAT_ROUTER) == r2.private_mac,
                what="real server's gateway entry -> r2",
            )
        c.wait_for(lambda: "gratuitous lvs arps finished" in r2.log(), what="ARP burst done")
        # the primary returns: it waits out the hold-down while the backup serves
        c.start("r1")
        c.wait_for(lambda: "fail-back hold-down" in r1.log(), what="r1 hold-down started")
        assert c.holder() == {"r2"}
        assert "removed 10.77.0.100/32 on eth0:1 left by an earlier run of pulse" in r1.log()
        c.wait_for(lambda: c.holder() == {"r1"}, what="fail-back to r1")
        c.wait_for(lambda: served_by(c, "r1"), what="r1 answers again")
        assert "primary back for 1 s (fail-back hold-down): activating lvs" in r1.log()
        assert "partner active: deactivating LVS" in r2.log()
        assert c.neighbour_mac(c.client, VIP) == r1.public_mac


def test_clean_stop_hands_over_and_exits_zero():
    with cluster() as c:
        r1, r2 = up(c)
        c.kill("r1", signal.SIGTERM)
        assert c.wait_exit("r1") == 0
        assert "Terminating due to signal 15" in r1.log()
        assert r2.status()["state"] == "active"
        assert "primary inactive: activating lvs" in r2.log()  # "stopped" said at once
        assert VIP not in r1.addresses() and NAT_ROUTER not in r1.addresses()
        assert r1.lvsd_pids() == []
        assert served_by(c, "r2")


def test_partition_makes_both_active_and_healing_leaves_exactly_the_primary():
    drop = (
        "table inet cut { chain i { type filter hook input priority 0; udp dport 539 drop; }; "
        "chain o { type filter hook output priority 0; udp dport 539 drop; }; }"
    )
    with cluster() as c:
        r1, r2 = up(c)
        r2.host.run(["nft", drop])
        c.wait_for(lambda: r2.status()["state"] == "active", what="r2 active during the partition")
        assert r1.status()["state"] == "active"
        assert "partner dead: activating lvs" in r2.log()
        r2.host.run(["nft", "delete", "table", "inet", "cut"])
        c.wait_for(lambda: r2.status()["state"] == "inactive", what="r2 yields")
        c.wait_for(lambda: c.holder() == {"r1"}, what="only r1 holds the VIP")
        assert r1.status()["state"] == "active"
        assert "partner active: deactivating LVS" in r2.log()
        assert "partner active: resending arps" in r1.log()
        c.wait_for(
            lambda: c.neighbour_mac(c.client, VIP) == r1.public_mac, what="client back on r1"
        )


def test_spoofed_heartbeats_from_a_third_host_change_nothing():
    with cluster(spoofer=True) as c:
        r1, r2 = up(c)
        before = r2.status()["heartbeat"]["rejected"]["spoofed"]
        for magic in (Magic.LVS_STOPPED, Magic.LVS_RUNNING):
            for target in (r1.address, r2.address):
                c.spoofer.run(
                    [
                        sys.executable,
                        "-c",
                        SPOOF,
                        f"{PUBLIC}.66",
                        target,
                        "539",
                        encode_plain(magic).hex(),
                    ]
                )
        c.wait_for(
            lambda: r2.status()["heartbeat"]["rejected"]["spoofed"] >= before + 2,
            what="spoofed counted",
        )
        assert r1.status()["state"] == "active" and r2.status()["state"] == "inactive"
        assert c.holder() == {"r1"}


def test_authenticated_heartbeats_reject_forgery_and_replay(tmp_path):
    key = tmp_path / "heartbeat.key"
    key.write_text("0123456789abcdef0123456789abcdef\n")
    key.chmod(0o600)
    with cluster(lvs_cf(extra=f"heartbeat_key_file = {key}\n"), spoofer=True) as c:
        r1, r2 = up(c)
        assert r2.status()["heartbeat"]["authenticated"]
        # one genuine heartbeat of r1, recorded on its way to r2
        captured = r2.host.run(
            [sys.executable, "-c", CAPTURE, "eth0", r1.address, "539"], timeout=20
        ).stdout.strip()
        assert len(bytes.fromhex(captured)) == 100
        forged_key = bytearray(bytes.fromhex(captured))
        forged_key[8:12] = encode_plain(Magic.LVS_STOPPED)  # "r1 stopped", MAC now wrong

        def spoof(payload: bytes) -> None:
            c.spoofer.run(
                [sys.executable, "-c", SPOOF, r1.address, r2.address, "539", payload.hex()]
            )

        spoof(encode_plain(Magic.LVS_STOPPED))  # the original's format, forged source
        spoof(bytes(forged_key))
        seen = r2.status()["heartbeat"]["received"]
        c.wait_for(lambda: r2.status()["heartbeat"]["received"] > seen + 2, what="newer heartbeats")
        spoof(bytes.fromhex(captured))  # a replay of an older one
        rejected = c.wait_for(
            lambda: (
                (r := r2.status()["heartbeat"]["rejected"])["unauthenticated"] >= 1
                and r["spoofed"] >= 1
                and r["replayed"] >= 1
                and r
            ),
            what="each forgery rejected and counted",
        )
        assert rejected["bad"] == 0
        assert r1.status()["state"] == "active" and r2.status()["state"] == "inactive"
        assert not r2.status()["heartbeat"]["config_mismatch"]


def test_different_lvs_cf_on_the_partner_is_reported(tmp_path):
    key = tmp_path / "heartbeat.key"
    key.write_bytes(b"k" * 32)
    key.chmod(0o600)
    with cluster(lvs_cf(extra=f"heartbeat_key_file = {key}\n")) as c:
        other = c.workdir / "other.cf"
        other.write_text(
            c.config_path.read_text().replace("serial_no = 1", "serial_no = 2"), encoding="utf-8"
        )
        c.start("r1")
        c.start("r2", config=other)
        r1, r2 = c.routers["r1"], c.routers["r2"]
        c.wait_for(lambda: r1.status()["heartbeat"]["config_mismatch"], what="mismatch on r1")
        c.wait_for(lambda: r2.status()["heartbeat"]["config_mismatch"], what="mismatch on r2")
        assert "lvs.cf differs between the routers" in r1.log()
        # reported loudly, not fatal
        c.wait_for(lambda: r1.status()["state"] == "active", what="r1 active all the same")


def test_lvsd_dying_gives_the_role_to_the_partner_and_restarts_nothing():
    with cluster(lvs_cf(failback=0)) as c:
        r1, r2 = up(c)
        (lvsd,) = r1.lvsd_pids()
        r1.host.run(["kill", "-9", str(lvsd)])
        c.wait_for(lambda: served_by(c, "r2"), what="r2 takes over")
        assert f"Child process {lvsd} terminated with signal 9" in r1.log()
        assert "primary inactive: activating lvs" in r2.log()
        s = r1.status()
        assert s["state"] == "inactive" and VIP not in r1.addresses()
        # r1 does not take the service back by itself (fail-back is off here)
        c.wait_for(lambda: r1.status()["partner"]["state"] == "running", what="r1 hears r2")
        assert c.holder() == {"r2"}
        assert r1.log().count("activating lvs") == 1


def test_sighup_plumbs_new_vips_and_removes_old_ones():
    second = (
        "virtual mail {\n     active = 1\n     address = 10.77.0.101 eth0:2\n     port = 25\n"
        "     scheduler = rr\n     timeout = 1\n"
        "     server rs1 {\n         address = 10.78.0.11\n         active = 1\n     }\n}\n"
    )
    with cluster() as c:
        r1, r2 = up(c)
        c.write_config(lvs_cf(virtuals=second))
        c.kill("r1", signal.SIGHUP)
        c.kill("r2", signal.SIGHUP)
        c.wait_for(lambda: r1.labels().get("10.77.0.101") == "eth0:2", what="new VIP on r1")
        c.wait_for(
            lambda: "10.77.0.101/32 on eth0:2 (virtual mail) is new in lvs.cf: added" in r1.log(),
            what="the reload logged",
        )
        assert "10.77.0.101" not in r2.addresses()  # the inactive router plumbs nothing
        assert "10.77.0.101" in r1.status()["vips"]
        c.write_config(lvs_cf())
        c.kill("r1", signal.SIGHUP)
        c.wait_for(lambda: "10.77.0.101" not in r1.addresses(), what="VIP removed again")
        assert VIP in r1.addresses()


def test_bad_lvs_cf_on_sighup_keeps_the_running_configuration():
    with cluster() as c:
        r1, _ = up(c)
        c.write_config("keepalive = x\n" + lvs_cf())
        c.kill("r1", signal.SIGHUP)
        c.wait_for(lambda: "keeping the running configuration" in r1.log(), what="refused")
        assert f"{c.config_path}:1:13: error: integer expected for `keepalive`" in r1.log()
        assert r1.status()["state"] == "active" and VIP in r1.addresses()
        with ControlClient(r1.run_dir / "pulse.sock") as client:  # the control op does the same
            answer = client.call("reload")
        assert answer["ok"] is False
        assert answer["errors"] == [
            f"{c.config_path}:1:13: error: integer expected for `keepalive`, found `x`"
        ]
        assert c.request() is not None


def test_link_loss_on_a_heartbeat_interface_steps_down_and_recovery_fails_back():
    with cluster(lvs_cf(extra="monitor_links = 1\n")) as c:
        r1, r2 = up(c)
        r1.host.run(["ip", "link", "set", "eth1", "down"])
        c.wait_for(lambda: r2.status()["state"] == "active", what="r2 takes over")
        log = r1.log()
        assert "Private NIC: link down" in log
        assert "Local NIC link failure: Pulse disabled" in log
        assert "local link failure: deactivating LVS" in log
        assert r1.status()["link_failure"]
        r1.host.run(["ip", "link", "set", "eth1", "up"])
        c.wait_for(lambda: "Local NIC link(s) restored: Pulse enabled" in r1.log(), what="restored")
        c.wait_for(lambda: c.holder() == {"r1"}, what="fail-back after the link returns")
