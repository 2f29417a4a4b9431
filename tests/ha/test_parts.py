"""pulse's parts that need no namespaces: key file, address plan, sync commands,
role detection, sockets, the notify socket and the lvsd supervision."""

import asyncio
import logging
import os
import socket
import sys
import textwrap

import pytest

from piranha.config import parse
from piranha.ha import addresses, state, syncd
from piranha.ha.child import LvsdChild
from piranha.ha.heartbeat import BindError, HeartbeatSockets
from piranha.ha.keyfile import KeyFileError, load_key
from piranha.ha.notify import NotifySocket
from piranha.ha.pulse import StartupError, identify

LOG = logging.getLogger("test.pulse")

BASE = """\
primary = 10.0.0.1
backup = 10.0.0.2
backup_active = 1
network = nat
nat_router = 192.168.10.254 eth1:1
nat_nmask = 255.255.255.0
virtual a {
     active = 1
     address = 10.0.0.100 eth0:1
     vip_nmask = 255.255.255.0
     server s { address = 192.168.10.2 active = 1 }
}
virtual b {
     active = 1
     address = 10.0.0.100 eth0:2
     port = 443
     server s { address = 192.168.10.2 active = 1 }
}
virtual c {
     active = 0
     address = 10.0.0.102 eth0:3
}
virtual d {
     active = 1
     address = 10.0.0.103 bond0
     port = 25
     server s { address = 192.168.10.2 active = 1 }
}
"""


def config(text=BASE):
    return parse(
        text.replace("{ address", "{\n address").replace(" active = 1 }", "\n active = 1\n }")
    )


# --- key file ------------------------------------------------------------------------


def test_key_file_rules(tmp_path):
    key = tmp_path / "k"
    key.write_text("0123456789abcdef0123\n")
    key.chmod(0o600)
    assert load_key(str(key)) == b"0123456789abcdef0123"
    key.chmod(0o640)
    with pytest.raises(KeyFileError, match=r"mode 0640\); run `chmod 600 .*k`"):
        load_key(str(key))
    key.chmod(0o600)
    key.write_bytes(b"short\n")
    with pytest.raises(KeyFileError, match="holds 5 bytes; a key needs at least 16"):
        load_key(str(key))
    link = tmp_path / "link"
    link.symlink_to(key)
    with pytest.raises(KeyFileError, match="symbolic link"):
        load_key(str(link))
    with pytest.raises(KeyFileError, match="does not exist: create it with"):
        load_key(str(tmp_path / "missing"))


def test_key_file_owned_by_someone_else_is_refused(tmp_path):
    if os.geteuid() != 0:
        raise AssertionError("this test needs root (it chowns a file)")
    key = tmp_path / "k"
    key.write_bytes(b"x" * 32)
    key.chmod(0o600)
    os.chown(key, 4242, -1)
    with pytest.raises(KeyFileError, match="belongs to uid 4242"):
        load_key(str(key))


# --- the address plan -------------------------------------------------------------------


def test_plan_has_nat_router_then_each_distinct_active_vip_first_device_wins():
    plan = addresses.planned(config())
    assert [(fa.address, fa.prefixlen, fa.device, fa.label, fa.purpose) for fa in plan] == [
        ("192.168.10.254", 24, "eth1", "eth1:1", "nat_router"),
        ("10.0.0.100", 24, "eth0", "eth0:1", "virtual a"),
        ("10.0.0.103", 32, "bond0", "bond0", "virtual d"),
    ]
    assert plan[1].broadcast == "10.0.0.255" and plan[2].broadcast is None


def test_plan_without_nat_and_for_fos():
    direct = config(
        BASE.replace("network = nat", "network = direct").replace(
            "nat_router = 192.168.10.254 eth1:1\nnat_nmask = 255.255.255.0\n", ""
        )
    )
    assert [fa.address for fa in addresses.planned(direct)] == ["10.0.0.100", "10.0.0.103"]
    fos = parse(
        "primary = 10.0.0.1\nservice = fos\nfailover ftp {\n address = 10.0.0.50 eth0:5\n active = 1\n"
        " port = 21\n start_cmd = /bin/true\n stop_cmd = /bin/true\n}\n"
    )
    assert [(fa.address, fa.label, fa.purpose) for fa in addresses.planned(fos)] == [
        ("10.0.0.50", "eth0:5", "failover ftp")
    ]


@pytest.mark.parametrize(
    ("mask", "prefix"),
    [
        (None, 32),
        ("0.0.0.0", 32),
        ("255.255.255.0", 24),
        ("255.255.0.0", 16),
        ("255.255.255.255", 32),
    ],
)
def test_prefix_of(mask, prefix):
    assert addresses.prefix_of(mask) == prefix


# --- sync daemon ------------------------------------------------------------------------------


def test_ipvs_sync_commands_are_the_originals():
    assert syncd.ipvs_sync_commands("/sbin/ipvsadm", "eth1", 300, "master") == [
        ["/sbin/ipvsadm", "--stop-daemon", "backup"],
        ["/sbin/ipvsadm", "--stop-daemon", "master"],
        [
            "/sbin/ipvsadm",
            "--start-daemon",
            "master",
            "--mcast-interface",
            "eth1",
            "--syncid",
            "44",
        ],
    ]


def test_sync_daemon_switches_only_when_enabled_and_reports_userspace(caplog):
    cfg = config(BASE + "syncdaemon = 1\nsyncd_iface = eth1\nsyncd_id = 7\n")
    sd = syncd.SyncDaemon(cfg, "ipvs", LOG, dry_run=True)
    with caplog.at_level(logging.INFO, logger="test.pulse"):
        asyncio.run(sd.become("backup"))
    assert [r.getMessage() for r in caplog.records] == [
        "test-start: would run /sbin/ipvsadm --stop-daemon backup",
        "test-start: would run /sbin/ipvsadm --stop-daemon master",
        "test-start: would run /sbin/ipvsadm --start-daemon backup --mcast-interface eth1 --syncid 7",
    ]
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="test.pulse"):
        asyncio.run(syncd.SyncDaemon(cfg, "userspace", LOG).become("master"))
        asyncio.run(syncd.SyncDaemon(config(), "ipvs", LOG, dry_run=True).become("master"))
    assert [r.getMessage() for r in caplog.records] == [
        "syncdaemon = 1: the userspace data plane keeps no kernel connection state to synchronise; ignored"
    ]


# --- role --------------------------------------------------------------------------------------


def test_role_from_any_local_address():
    cfg = config(BASE + "primary_private = 192.168.10.1\nbackup_private = 192.168.10.2\n")
    ident = identify(cfg, {"127.0.0.1", "10.0.0.1"})
    assert (
        ident.role,
        ident.own_public,
        ident.partner_public,
        ident.own_private,
        ident.partner_private,
    ) == (
        state.PRIMARY,
        "10.0.0.1",
        "10.0.0.2",
        "192.168.10.1",
        "192.168.10.2",
    )
    ident = identify(cfg, {"10.0.0.2"})
    assert (ident.role, ident.own_private, ident.partner_private) == (
        state.BACKUP,
        "192.168.10.2",
        "192.168.10.1",
    )
    with pytest.raises(StartupError, match=r"neither primary \(10.0.0.1\) nor backup \(10.0.0.2\)"):
        identify(cfg, {"10.9.9.9"})


def test_heartbeat_bind_failure_says_where_and_why():
    with pytest.raises(
        BindError,
        match=r"cannot bind the heartbeat socket to 10.255.0.1:5399: .*address of this machine",
    ):
        HeartbeatSockets.bind(5399, "10.255.0.1", "10.255.0.2", None, None)


def test_heartbeat_sockets_send_on_both_paths():
    a = HeartbeatSockets.bind(0, "127.0.0.1", "127.0.0.1", None, None)
    port = a.paths[0].sock.getsockname()[1]
    b = HeartbeatSockets.bind(
        port + 1 if port < 65000 else port - 1, "127.0.0.2", "127.0.0.1", "127.0.0.3", "127.0.0.1"
    )
    try:
        assert [p.name for p in b.paths] == ["public", "private"]
        b.port = port
        assert b.send(b"\x01\x02\x03\x04") == 2
        got = {a.paths[0].sock.recvfrom(64)[1][0] for _ in range(2)}
        assert got == {"127.0.0.2", "127.0.0.3"}
        assert b.partners() == {"127.0.0.1"}
    finally:
        a.close()
        b.close()


# --- notify socket and lvsd supervision --------------------------------------------------------

FAKE_LVSD = textwrap.dedent(
    """
    import os, socket, sys, time
    mode = os.environ["FAKE_MODE"]
    if mode == "exit":
        sys.exit(3)
    with open(os.environ["FAKE_ARGV"], "w") as f:
        f.write(" ".join(sys.argv[1:]))
    if mode == "ready":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.sendto(b"READY=1", os.environ["NOTIFY_SOCKET"])
    time.sleep(60)
    """
)


def run_child(tmp_path, mode, **kw):
    script = tmp_path / "fake-lvsd"
    script.write_text(f"#!{sys.executable}\n{FAKE_LVSD}")
    script.chmod(0o755)
    os.environ["FAKE_MODE"] = mode
    os.environ["FAKE_ARGV"] = str(tmp_path / "argv")
    exits = []

    async def go():
        ns = NotifySocket(tmp_path / "notify.sock")
        ns.open()
        # a READY from some other process must not count
        other = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        other.sendto(b"READY=1", str(tmp_path / "notify.sock"))
        child = LvsdChild(
            [str(script)],
            tmp_path / "lvs.cf",
            ns,
            tmp_path / "lvsd.sock",
            daemon=True,
            verbose=True,
            log=LOG,
            on_exit=lambda pid, code: exits.append(code),
        )
        try:
            why = await child.start(standby=True, **kw)
            pid = child.pid
            await child.stop()
            return why, pid
        finally:
            ns.close()

    try:
        return asyncio.run(go()), exits
    finally:
        del os.environ["FAKE_MODE"], os.environ["FAKE_ARGV"]


def test_lvsd_started_with_the_original_flags_and_ready_through_notify(tmp_path):
    (why, pid), exits = run_child(tmp_path, "ready")
    assert why is None and pid is not None
    assert (tmp_path / "argv").read_text() == f"--nofork -c {tmp_path / 'lvs.cf'} -v --standby"
    assert exits == []  # stopped on purpose: not a failure


def test_lvsd_that_never_reports_ready_is_killed(tmp_path):
    (why, _), exits = run_child(tmp_path, "silent", timeout=1.0)
    assert why == "lvsd did not report ready within 1 s; killed it"
    assert exits == []


def test_lvsd_that_exits_at_start_is_reported_once(tmp_path):
    (why, pid), exits = run_child(tmp_path, "exit")
    assert why == "lvsd exited with status 3 before it was ready"
    assert pid is None and exits == []


# --- the ARP burst ---------------------------------------------------------------------------


def test_announcer_sends_at_once_then_repeats_and_says_when_done(caplog):
    from piranha.ha.addresses import FloatingAddress
    from piranha.ha.announce import Announcer

    sent = []
    vip = FloatingAddress("10.0.0.100", 32, "eth0", "eth0:1", "virtual www")
    nat = FloatingAddress("10.1.0.254", 32, "eth1", "eth1:1", "nat_router")

    async def go():
        a = Announcer(LOG, sender=lambda dev, ip: sent.append((dev, ip)))
        a.start([vip, nat], 3, 0.01)
        assert sent == [("eth0", "10.0.0.100"), ("eth1", "10.1.0.254")]  # before any await
        await a.wait()
        a.start([vip], 5, 10.0)
        a.cancel()  # deactivation stops a burst
        await a.wait()
        a.close()

    with caplog.at_level(logging.INFO, logger="test.pulse"):
        asyncio.run(go())
    assert len(sent) == 3 * 2 + 1
    assert [r.getMessage() for r in caplog.records] == ["gratuitous lvs arps finished"]


def test_a_floating_address_is_the_same_whatever_the_virtual_server_is_called():
    """A reload that renames a virtual server must not take its VIP down and up."""
    from piranha.ha.addresses import FloatingAddress

    old = FloatingAddress("10.0.0.100", 24, "eth0", "eth0:1", "virtual www")
    renamed = FloatingAddress("10.0.0.100", 24, "eth0", "eth0:1", "virtual web")
    relabelled = FloatingAddress("10.0.0.100", 24, "eth0", "eth0:2", "virtual www")
    assert old == renamed and hash(old) == hash(renamed) and renamed in [old]
    assert old != relabelled  # the kernel's label changes: the address is re-added


def test_a_heartbeat_that_cannot_be_sent_is_counted_with_its_reason():
    # the broadcast address from loopback: the kernel refuses at once
    hs = HeartbeatSockets.bind(0, "127.0.0.1", "255.255.255.255", None, None)
    try:
        assert hs.send(b"x") == 0
        (path,) = hs.paths
        assert path.errors == 1 and path.last_error in ("Invalid argument", "Permission denied")
    finally:
        hs.close()


class _Recorder:
    """Fakes for LvsService's collaborators, writing what is done, in order, to one list."""

    def __init__(self, child_state, activate_error=None):
        self.events = []
        self.child_state = child_state
        self.activate_error = activate_error

    # Floating
    async def bring_up(self, wanted):
        self.events.append("addresses")
        return wanted

    # LvsdChild
    @property
    def state(self):
        return self.child_state

    @property
    def pid(self):
        return None if self.child_state is None else 4242

    async def activate(self):
        self.events.append("lvsd activate")
        return self.activate_error

    async def start(self, *, standby):
        self.events.append(f"lvsd start standby={standby}")
        return None

    # SyncDaemon
    async def become(self, role):
        self.events.append(f"sync {role}")

    # Announcer
    def start_announcer(self, addresses, count, interval):
        self.events.append(f"arp {len(addresses)}")

    # CommandRunner
    def start_hook(self, key, command):
        pass


def _lvs_service(rec):
    from types import SimpleNamespace

    from piranha.ha.services import LvsService

    return LvsService(
        config(),
        floating=rec,
        child=rec,
        announcer=SimpleNamespace(start=rec.start_announcer, cancel=lambda: None),
        syncd=rec,
        hooks=SimpleNamespace(start=rec.start_hook),
        log=LOG,
    )


@pytest.mark.parametrize(
    ("child_state", "order"),
    [
        # warm standby: its data plane serves already, so the ARPs go before lvsd is told
        ("standby", ["addresses", "sync master", "arp 3", "lvsd activate"]),
        # no standby: lvsd is started and must be ready before anything is announced
        (None, ["addresses", "lvsd start standby=False", "sync master", "arp 3"]),
    ],
)
def test_activation_order(child_state, order):
    rec = _Recorder(child_state)
    assert asyncio.run(_lvs_service(rec).activate(lambda: True)) is None
    assert rec.events == order


def test_a_standby_that_refuses_fails_the_activation():
    rec = _Recorder("standby", activate_error="lvsd refused to activate: gone")
    why = asyncio.run(_lvs_service(rec).activate(lambda: True))
    assert why == "lvsd refused to activate: gone"
