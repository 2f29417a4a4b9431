"""The heartbeat wire formats: the original's magics byte for byte, and the authenticated form."""

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from piranha.config import parse
from piranha.ha import wire
from piranha.ha.wire import (
    AUTH_SIZE,
    BAD,
    REPLAYED,
    SPOOFED,
    UNAUTHENTICATED,
    AuthCodec,
    AuthFields,
    Magic,
    Pending,
    PlainCodec,
    Rejected,
)

KEY = b"k" * 32
DIGEST = bytes(range(32))


# --- plain: exactly the original --------------------------------------------------


def test_plain_magics_are_the_originals_in_little_endian():
    assert wire.encode_plain(Magic.LVS_RUNNING) == bytes.fromhex("dadbadbd")
    assert wire.encode_plain(Magic.LVS_STOPPED) == bytes.fromhex("bddabdad")
    assert wire.encode_plain(Magic.FOS_RUNNING) == bytes.fromhex("bebaefbe")
    assert wire.encode_plain(Magic.FOS_STOPPED) == bytes.fromhex("efbeadde")
    assert wire.encode_plain(Magic.FOS_STOPME) == bytes.fromhex("dadaadde")
    assert wire.encode_plain(Magic.HOLD) == bytes.fromhex("bebaafde")
    assert wire.encode_plain(Magic.HELD) == bytes.fromhex("dadaafde")


def test_state_magics_per_service():
    assert wire.state_magics("lvs") == (Magic.LVS_RUNNING, Magic.LVS_STOPPED)
    assert wire.state_magics("fos") == (Magic.FOS_RUNNING, Magic.FOS_STOPPED)


@pytest.mark.parametrize("data", [b"", b"\xda", b"\xda\xdb\xad"])
def test_plain_shorter_than_four_bytes_is_a_bad_packet(data):
    with pytest.raises(Rejected) as exc:
        wire.decode_plain(data, "lvs")
    assert exc.value.reason == BAD
    assert str(exc.value) == "bad heartbeat packet"


def test_plain_longer_datagram_is_read_by_its_first_four_bytes():
    got = wire.decode_plain(wire.encode_plain(Magic.LVS_STOPPED) + b"trailing junk", "lvs")
    assert got.magic == Magic.LVS_STOPPED


def test_lvs_and_fos_refuse_each_others_state_magics_but_accept_stop_me_hold_held():
    for magic in (Magic.FOS_RUNNING, Magic.FOS_STOPPED):
        with pytest.raises(Rejected, match="Incompatible heartbeat received"):
            wire.decode_plain(wire.encode_plain(magic), "lvs")
    for magic in (Magic.LVS_RUNNING, Magic.LVS_STOPPED):
        with pytest.raises(Rejected, match="Incompatible heartbeat received"):
            wire.decode_plain(wire.encode_plain(magic), "fos")
    for service in ("lvs", "fos"):
        for magic in (Magic.FOS_STOPME, Magic.HOLD, Magic.HELD):
            assert wire.decode_plain(wire.encode_plain(magic), service).magic == magic


def test_plain_receiver_explains_an_authenticated_heartbeat():
    codec = AuthCodec(KEY, service="lvs", role=0, boot_id=5, digest=DIGEST)
    with pytest.raises(Rejected, match="no heartbeat_key_file is set here"):
        PlainCodec("lvs").decode(codec.encode(Magic.LVS_RUNNING))


@given(st.binary(max_size=200))
def test_plain_decoder_never_crashes(data):
    try:
        got = wire.decode_plain(data, "lvs")
    except Rejected as exc:
        assert exc.reason == BAD
    else:
        assert got.magic == struct.unpack("<I", data[:4])[0]


# --- authenticated ------------------------------------------------------------------


def pair(service="lvs", a_boot=11, b_boot=22, key=KEY):
    a = AuthCodec(key, service=service, role=0, boot_id=a_boot, digest=DIGEST)
    b = AuthCodec(key, service=service, role=1, boot_id=b_boot, digest=bytes(32))
    return a, b


def handshake(a, b):
    """Both sides learn each other's boot id (one heartbeat each way, then accepted)."""
    with pytest.raises(Pending):
        b.decode(a.encode(Magic.LVS_STOPPED))
    assert a.decode(b.encode(Magic.LVS_STOPPED)).new_boot
    assert b.decode(a.encode(Magic.LVS_STOPPED)).new_boot


def test_auth_layout_is_100_bytes_as_documented():
    f = AuthFields(Magic.LVS_RUNNING, 1, 0x0102030405060708, 9, 10, DIGEST)
    data = wire.encode_auth(KEY, f)
    assert len(data) == AUTH_SIZE == 100
    assert data[:4] == b"PIRA"
    assert data[4] == 1 and data[5] == 1 and data[6:8] == b"\0\0"
    assert data[8:12] == wire.encode_plain(Magic.LVS_RUNNING)
    assert data[12:20] == bytes.fromhex("0102030405060708")
    assert struct.unpack(">QQ", data[20:36]) == (9, 10)
    assert data[36:68] == DIGEST
    import hashlib
    import hmac

    assert data[68:] == hmac.new(KEY, data[:68], hashlib.sha256).digest()
    assert wire.decode_auth(KEY, data) == f


def test_auth_round_trip_carries_state_and_digest():
    a, b = pair()
    handshake(a, b)
    got = b.decode(a.encode(Magic.LVS_RUNNING))
    assert got.magic == Magic.LVS_RUNNING and got.digest == DIGEST and not got.new_boot


def test_wrong_key_is_spoofed():
    a, _ = pair()
    other = AuthCodec(b"x" * 32, service="lvs", role=1, boot_id=3, digest=DIGEST)
    with pytest.raises(Rejected) as exc:
        other.decode(a.encode(Magic.LVS_RUNNING))
    assert exc.value.reason == SPOOFED


@given(st.integers(0, AUTH_SIZE - 1), st.integers(1, 255))
def test_any_flipped_byte_is_rejected(position, flip):
    a, b = pair()
    handshake(a, b)
    data = bytearray(a.encode(Magic.LVS_RUNNING))
    data[position] ^= flip
    with pytest.raises(Rejected) as exc:
        b.decode(bytes(data))
    assert exc.value.reason in (SPOOFED, BAD, UNAUTHENTICATED)


def test_own_heartbeat_reflected_back_is_spoofed():
    a, _ = pair()
    with pytest.raises(Rejected, match="our own role") as exc:
        a.decode(a.encode(Magic.LVS_RUNNING))
    assert exc.value.reason == SPOOFED


def test_plain_heartbeat_to_a_keyed_router_is_unauthenticated():
    _, b = pair()
    with pytest.raises(Rejected) as exc:
        b.decode(wire.encode_plain(Magic.LVS_RUNNING))
    assert exc.value.reason == UNAUTHENTICATED


@pytest.mark.parametrize("data", [b"", b"abc", b"PIRA", b"PIRA" + bytes(96), b"PIRA" + bytes(120)])
def test_malformed_authenticated_packets_are_bad_or_spoofed(data):
    _, b = pair()
    with pytest.raises(Rejected) as exc:
        b.decode(data)
    assert exc.value.reason in (BAD, SPOOFED)


def test_replay_within_a_boot_is_rejected_and_the_other_path_copy_is_silent():
    a, b = pair()
    handshake(a, b)
    first = a.encode(Magic.LVS_RUNNING)
    second = a.encode(Magic.LVS_RUNNING)
    assert b.decode(second) is not None
    assert b.decode(second, "private") is None  # same datagram over the second heartbeat path
    with pytest.raises(Rejected) as exc:
        b.decode(second)  # again over the same path: a replay
    assert exc.value.reason == REPLAYED
    # an older one not seen yet (the other path was slower): accepted once, late
    assert b.decode(first, "private") is not None
    with pytest.raises(Rejected) as exc:
        b.decode(first, "private")
    assert exc.value.reason == REPLAYED
    # further back than the window: a replay whatever the path
    old = [a.encode(Magic.LVS_RUNNING) for _ in range(66)]
    assert b.decode(old[-1]) is not None
    with pytest.raises(Rejected) as exc:
        b.decode(old[0])
    assert exc.value.reason == REPLAYED


def test_restarted_partner_is_believed_once_it_echoes_us_and_its_old_run_is_retired():
    a, b = pair()
    handshake(a, b)
    recorded = a.encode(Magic.LVS_STOPPED)  # an attacker keeps this
    b.decode(recorded)
    # a restarts: new boot id, has not heard b yet
    a2 = AuthCodec(KEY, service="lvs", role=0, boot_id=99, digest=DIGEST)
    with pytest.raises(Pending):
        b.decode(a2.encode(Magic.LVS_STOPPED))
    # b's next heartbeat echoes a2's boot id; a2 accepts b (first contact, echo = a2's id)
    assert b.guard.heard == 99
    a2.decode(b.encode(Magic.LVS_RUNNING))
    assert b.decode(a2.encode(Magic.LVS_STOPPED)).new_boot
    with pytest.raises(Rejected) as exc:
        b.decode(recorded)  # the earlier run's heartbeat
    assert exc.value.reason == REPLAYED


def test_recording_from_before_our_own_restart_is_never_accepted():
    a, b = pair()
    handshake(a, b)
    recorded = [a.encode(Magic.LVS_STOPPED) for _ in range(3)]
    # b restarts: all state lost, new boot id
    b2 = AuthCodec(KEY, service="lvs", role=1, boot_id=777, digest=DIGEST)
    for data in recorded:
        with pytest.raises(Pending):
            b2.decode(data)  # they echo b's old boot id, not 777


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["send", "replay", "restart", "dup"]),
            st.integers(0, 50),
            st.sampled_from(["public", "private"]),
        ),
        max_size=40,
    )
)
def test_guard_never_accepts_a_datagram_twice(script):
    """Whatever mix of fresh, replayed, duplicated and restarted traffic: each accepted
    heartbeat is a datagram b never accepted before."""
    a, b = pair()
    handshake(a, b)
    sent: list[bytes] = []
    accepted: set[bytes] = set()
    boot = 1000
    for op, n, path in script:
        if op == "restart":
            boot += 1
            a = AuthCodec(KEY, service="lvs", role=0, boot_id=boot, digest=DIGEST)
            a.guard.heard = b.boot_id  # heard b already
            continue
        if op == "send" or not sent:
            data = a.encode(Magic.LVS_RUNNING)
            sent.append(data)
        else:
            data = sent[n % len(sent)]
        try:
            got = b.decode(data, path)
        except (Rejected, Pending):
            continue
        if got is None:
            assert data in accepted
            continue
        assert data not in accepted
        accepted.add(data)


def test_codec_refuses_short_keys():
    with pytest.raises(ValueError, match="at least 16"):
        AuthCodec(b"short", service="lvs", role=0, boot_id=1, digest=DIGEST)


def test_config_digest_ignores_comments_and_layout_but_not_settings():
    base = "primary = 10.0.0.1\nservice = lvs\nvirtual web {\n active = 1\n address = 10.0.0.100 eth0:1\n}\n"
    commented = "# router pair\n\nprimary   =   10.0.0.1\nservice = lvs\nvirtual web {\n\t# vip\n active = 1\n address = 10.0.0.100 eth0:1\n}\n"
    changed = base.replace("10.0.0.100", "10.0.0.101")
    d = wire.config_digest(parse(base))
    assert d == wire.config_digest(parse(commented))
    assert d != wire.config_digest(parse(changed))
    assert len(d) == 32
