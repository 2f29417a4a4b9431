"""ARP frames byte for byte, and `piranha send-arp`'s command line (no network needed)."""

import socket
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from piranha.cli import send_arp
from piranha.ha import arp

MAC = bytes.fromhex("0a1b2c3d4e5f")


@pytest.mark.parametrize(
    "text",
    ["0a1b2c3d4e5f", "0A1B2C3D4E5F", "0a:1b:2c:3d:4e:5f", "0a1b:2c3d:4e5f", "0a:1b2c3d4e:5f"],
)
def test_mac_with_or_without_colons(text):
    assert arp.parse_mac(text) == MAC


@pytest.mark.parametrize(
    "text",
    [
        "",
        "0a1b2c3d4e",
        "0a1b2c3d4e5",
        "0a1b2c3d4e5g",
        "0a-1b-2c-3d-4e-5f",
        "0a1b2c3d4e5f00",
        "0a1b2c3d4e5f:",
    ],
)
def test_bad_mac_is_invalid_hardware_address(text):
    with pytest.raises(ValueError, match="Invalid hardware address"):
        arp.parse_mac(text)


@given(st.binary(min_size=6, max_size=6))
def test_mac_round_trip(mac):
    assert arp.parse_mac(arp.format_mac(mac)) == mac
    assert arp.parse_mac(mac.hex()) == mac


def test_send_arp_frame_is_the_originals():
    frame = arp.send_arp_frame("192.168.1.100", MAC, b"\xff" * 6)
    assert len(frame) == 60
    assert frame[:6] == b"\xff" * 6  # Ethernet destination = tar_hw_addr
    assert frame[6:12] == MAC
    assert frame[12:14] == b"\x08\x06"
    htype, ptype, hlen, plen, op = struct.unpack("!HHBBH", frame[14:22])
    assert (htype, ptype, hlen, plen, op) == (1, 0x0800, 6, 4, 2)  # an ARP *reply*
    assert frame[22:28] == MAC and frame[28:32] == socket.inet_aton("192.168.1.100")
    assert frame[32:38] == MAC and frame[38:42] == socket.inet_aton("192.168.1.100")
    assert frame[42:] == b"\x00" * 18


def test_gratuitous_announcement_is_a_request_and_a_reply():
    request, reply = arp.gratuitous_frames("10.0.0.1", MAC)
    assert request[20:22] == b"\x00\x01" and reply[20:22] == b"\x00\x02"
    assert request[32:38] == b"\x00" * 6 and reply[32:38] == b"\xff" * 6
    for f in (request, reply):
        assert len(f) == 60 and f[:6] == b"\xff" * 6 and f[6:12] == MAC
        assert f[28:32] == f[38:42] == socket.inet_aton("10.0.0.1")


def test_base_device():
    assert arp.base_device("eth0:1") == "eth0"
    assert arp.base_device("bond0") == "bond0"


@pytest.mark.parametrize(
    "argv",
    [[], ["1.2.3.4"], ["1.2.3.4", "0a1b2c3d4e5f", "1.2.3.4"], ["-x", "eth0", "a", "b", "c", "d"]],
)
def test_send_arp_usage(argv, capsys):
    assert send_arp.main(argv) == 1
    assert "usage: piranha send-arp [-i dev] src_ip_addr src_hw_addr targ_ip_addr tar_hw_addr" in (
        capsys.readouterr().err
    )


def test_send_arp_invalid_hardware_address(capsys):
    assert send_arp.main(["10.0.0.1", "zz1b2c3d4e5f", "10.0.0.2", "ffffffffffff"]) == 1
    assert capsys.readouterr().err == "Invalid hardware address\n"


def test_send_arp_unknown_host(capsys):
    assert send_arp.main(["no-such-host.invalid", MAC.hex(), "x", "ffffffffffff"]) == 1
    assert capsys.readouterr().err == "send_arp: unknown host no-such-host.invalid\n"
