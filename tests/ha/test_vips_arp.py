"""Floating addresses and gratuitous ARP on real interfaces (netns, root), no lvsd needed."""

import json
import sys
import textwrap

import pytest

from piranha.ha.arp import send_arp_frame
from tests.support.netns import Topology

pytestmark = pytest.mark.netns

KEEPER = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from piranha.ha.addresses import AddressKeeper, FloatingAddress
    keeper = AddressKeeper(Path(sys.argv[1]))
    op = sys.argv[2]
    if op == "add":
        for spec in json.loads(sys.argv[3]):
            print(keeper.add(FloatingAddress(**spec)))
    elif op == "add_all":
        specs = [FloatingAddress(**spec) for spec in json.loads(sys.argv[3])]
        print(json.dumps([str(o) for o in keeper.add_all(specs)]))
    elif op == "remove_all":
        print(json.dumps([fa.address for fa in keeper.remove_all()]))
    """
)

# Capture `count` ARP frames on `ifname` and print them in hex, one per line.
CAPTURE_ARP = textwrap.dedent(
    """
    import socket, sys
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
    s.bind((sys.argv[1], 0)); s.settimeout(10)
    print("ready", flush=True)
    for _ in range(int(sys.argv[2])):
        print(s.recv(2048).hex(), flush=True)
    """
)


def addresses(host):
    out = json.loads(host.run(["ip", "-4", "-j", "addr", "show", "dev", "eth0"]).stdout)
    return {a["local"]: a for a in out[0]["addr_info"]}, out[0]


def keeper(host, state, op, *args):
    return host.run([sys.executable, "-c", KEEPER, str(state), op, *args]).stdout.split()


def test_addresses_come_up_with_label_mask_broadcast_and_only_ours_go(tmp_path):
    state = tmp_path / "pulse-addresses.json"
    with Topology() as topo:
        router, peer = topo.host("r"), topo.host("p")
        topo.link(router, peer, "10.66.0.1/24", "10.66.0.2/24")
        router.run(["ip", "addr", "add", "10.66.0.50/32", "dev", "eth0"])  # the admin's
        specs = [
            dict(
                address="10.66.0.100",
                prefixlen=24,
                device="eth0",
                label="eth0:1",
                purpose="virtual a",
            ),
            dict(
                address="10.66.0.101",
                prefixlen=32,
                device="eth0",
                label="eth0:2",
                purpose="virtual b",
            ),
            dict(
                address="10.66.0.50",
                prefixlen=32,
                device="eth0",
                label="eth0:3",
                purpose="virtual c",
            ),
        ]
        assert keeper(router, state, "add", json.dumps(specs)) == ["added", "added", "present"]
        found, link = addresses(router)
        assert found["10.66.0.100"]["label"] == "eth0:1"
        assert found["10.66.0.100"]["prefixlen"] == 24
        assert found["10.66.0.100"]["broadcast"] == "10.66.0.255"
        assert found["10.66.0.101"]["label"] == "eth0:2" and found["10.66.0.101"]["prefixlen"] == 32
        recorded = {a["address"] for a in json.loads(state.read_text())}
        assert recorded == {"10.66.0.100", "10.66.0.101"}
        # a second pulse (after a crash) finds the leftovers and removes exactly those
        removed = json.loads("".join(keeper(router, state, "remove_all")))
        assert sorted(removed) == ["10.66.0.100", "10.66.0.101"]
        found, link = addresses(router)
        assert set(found) == {"10.66.0.1", "10.66.0.50"}
        assert "UP" in link["flags"]  # the interface itself is never taken down
        assert not state.exists()
        peer.run(["ping", "-c1", "-W2", "10.66.0.1"])


def test_missing_interface_is_a_clear_error(tmp_path):
    with Topology() as topo:
        router = topo.host("r")
        spec = dict(
            address="10.66.0.100",
            prefixlen=32,
            device="eth9",
            label="eth9:1",
            purpose="virtual www",
        )
        res = router.run(
            [sys.executable, "-c", KEEPER, str(tmp_path / "s.json"), "add", json.dumps([spec])],
            check=False,
        )
        assert res.returncode != 0
        assert (
            "cannot add 10.66.0.100/32 on eth9:1 (virtual www): there is no interface eth9"
            in res.stderr
        )


def test_add_all_is_one_batch_with_each_outcome_in_place(tmp_path):
    """A takeover's addresses: an unknown interface, one already there and two new ones,
    answered in the order asked; the good ones are up whatever the others did."""
    with Topology() as topo:
        router, peer = topo.host("r"), topo.host("p")
        topo.link(router, peer, "10.66.0.1/24", "10.66.0.2/24")
        router.run(["ip", "addr", "add", "10.66.0.50/32", "dev", "eth0"])

        def spec(address, device="eth0", prefixlen=32):
            return dict(address=address, prefixlen=prefixlen, device=device,
                        label=f"{device}:1", purpose="virtual v")

        specs = [spec("10.66.0.100"), spec("10.66.0.101", "eth9"), spec("10.66.0.50"),
                 spec("10.66.1.254", prefixlen=24)]
        def add_all():
            argv = [sys.executable, "-c", KEEPER, str(tmp_path / "s.json"), "add_all"]
            return json.loads(router.run([*argv, json.dumps(specs)]).stdout)

        out = add_all()
        assert out[0] == "added" and out[2] == "present" and out[3] == "added"
        assert "there is no interface eth9" in out[1]
        found, _link = addresses(router)
        assert set(found) == {"10.66.0.1", "10.66.0.50", "10.66.0.100", "10.66.1.254"}
        assert found["10.66.1.254"]["broadcast"] == "10.66.1.255"
        # again: ours now, not added twice
        out = add_all()
        assert [out[0], out[2], out[3]] == ["ours", "present", "ours"]


def stale_entry(client):
    """The client knows the VIP at some old MAC (as after talking to the old router)."""
    entry = "10.66.0.100 lladdr 02:00:00:00:00:01 dev eth0 nud stale"
    client.run(["ip", "neigh", "replace", *entry.split()])


def capture(topo_host, ifname, count):
    proc = topo_host.spawn(
        [sys.executable, "-c", CAPTURE_ARP, ifname, str(count)],
        stdout=__import__("subprocess").PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "ready"
    return proc


def test_gratuitous_arp_moves_the_neighbour_entry_with_request_and_reply():
    with Topology() as topo:
        router, client = topo.host("r"), topo.host("c")
        topo.link(router, client, "10.66.0.1/24", "10.66.0.2/24")
        stale_entry(client)
        router.run(["ip", "addr", "add", "10.66.0.100/32", "dev", "eth0", "label", "eth0:1"])
        cap = capture(client, "eth0", 2)
        router.run(
            [
                sys.executable,
                "-c",
                "from piranha.ha.arp import announce; announce('eth0', '10.66.0.100')",
            ]
        )
        out, _ = cap.communicate(timeout=10)
        frames = [bytes.fromhex(line) for line in out.split()]
        mac = bytes.fromhex(router.mac("eth0").replace(":", ""))
        assert [f[20:22] for f in frames] == [b"\x00\x01", b"\x00\x02"]  # request, then reply
        for f in frames:
            assert len(f) == 60 and f[:6] == b"\xff" * 6 and f[6:12] == mac
            assert f[28:32] == f[38:42] == bytes([10, 66, 0, 100])  # sender = target = VIP
        lladdr = client.run(["ip", "neigh", "show", "10.66.0.100"]).stdout.split()
        assert lladdr[lladdr.index("lladdr") + 1] == router.mac("eth0")


def test_send_arp_command_sends_the_original_frame():
    with Topology() as topo:
        router, client = topo.host("r"), topo.host("c")
        topo.link(router, client, "10.66.0.1/24", "10.66.0.2/24")
        stale_entry(client)
        mac = router.mac("eth0")
        cap = capture(client, "eth0", 1)
        router.run(
            [sys.executable, "-m", "piranha.cli.main", "send-arp", "-i", "eth0", "10.66.0.100",
             mac.replace(":", "").upper(), "10.66.0.2", "ffffffffffff"]
        )  # fmt: skip
        out, _ = cap.communicate(timeout=10)
        frame = bytes.fromhex(out.split()[0])
        assert frame == send_arp_frame(
            "10.66.0.100", bytes.fromhex(mac.replace(":", "")), b"\xff" * 6
        )
        lladdr = client.run(["ip", "neigh", "show", "10.66.0.100"]).stdout.split()
        assert lladdr[lladdr.index("lladdr") + 1] == mac
        res = router.run(
            [sys.executable, "-m", "piranha.cli.main", "send-arp", "-i", "eth7", "10.66.0.100",
             mac, "10.66.0.2", "ffffffffffff"], check=False
        )  # fmt: skip
        assert res.returncode == 1 and "send_arp: sendto eth7: No such device" in res.stderr
