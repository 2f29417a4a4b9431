"""The heartbeat on the wire: the original's 4-byte magics, and an authenticated form.

Plain (no ``heartbeat_key_file``; what pulse 0.8.6 sends and accepts): one
UDP datagram holding a 32-bit magic in little-endian order (the original
wrote host order on x86).  A longer datagram is read by its first four
bytes; a shorter one is a ``bad heartbeat packet``.

Authenticated (``heartbeat_key_file`` set on both routers), 100 bytes,
integers big-endian::

    offset size
     0      4   b"PIRA"            format mark (never one of the magics)
     4      1   version            1
     5      1   sender role        0 = primary, 1 = backup
     6      2   reserved           0
     8      4   magic              the plain magic (same meaning), little-endian
    12      8   boot id            random, drawn when the sender's pulse starts
    20      8   sequence           1, 2, 3 ... within one boot id
    28      8   echo               the receiver's boot id as last heard by the sender (0: none)
    36     32   config digest      SHA-256 of the sender's lvs.cf, parsed and written canonically
    68     32   HMAC-SHA256        over bytes 0-67 with the shared key

Replay protection needs no clocks (see :class:`PeerGuard`): a heartbeat
continuing the partner's current boot id must carry a higher sequence
number; a heartbeat starting a new boot id is believed only when it echoes
our own boot id, which proves it was made after we started.  The sender
role in the signed bytes stops our own heartbeats being reflected back at
us.  Everything here is pure: no sockets, no clocks.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections import deque
from dataclasses import dataclass
from enum import IntEnum


class Magic(IntEnum):
    """The original's heartbeat magics (pulse.c)."""

    LVS_RUNNING = 0xBDADDBDA
    LVS_STOPPED = 0xADBDDABD
    FOS_RUNNING = 0xBEEFBABE
    FOS_STOPPED = 0xDEADBEEF
    FOS_STOPME = 0xDEADDADA  # "I am taking control; the active master must yield"
    HOLD = 0xDEAFBABE  # defined and accepted by the original, never acted upon
    HELD = 0xDEAFDADA


def state_magics(service: str) -> tuple[Magic, Magic]:
    """(running, stopped) for ``service = lvs`` or ``fos``.

    The two services use different pairs so that an lvs router and a fos
    router refuse each other's heartbeats.
    """
    if service == "fos":
        return Magic.FOS_RUNNING, Magic.FOS_STOPPED
    return Magic.LVS_RUNNING, Magic.LVS_STOPPED


def accepted_magics(service: str) -> frozenset[int]:
    """Magics a router of ``service`` accepts (the original's list)."""
    running, stopped = state_magics(service)
    return frozenset({running, stopped, Magic.FOS_STOPME, Magic.HOLD, Magic.HELD})


PLAIN_SIZE = 4
AUTH_MARK = b"PIRA"
AUTH_VERSION = 1
_AUTH_HEAD = struct.Struct(">4sBBH4sQQQ32s")  # everything the MAC covers
AUTH_SIZE = _AUTH_HEAD.size + 32  # 100
MIN_KEY_BYTES = 16

ROLE_PRIMARY, ROLE_BACKUP = 0, 1


# Reasons a datagram is refused; each is a counter in pulse's status.
SPOOFED = "spoofed"  # wrong source address, wrong MAC, or our own heartbeat reflected
REPLAYED = "replayed"  # a sequence number we already had, or a retired boot id
BAD = "bad"  # too short, malformed, unknown magic
UNAUTHENTICATED = "unauthenticated"  # a plain heartbeat where a key is required
REJECT_REASONS = (SPOOFED, REPLAYED, BAD, UNAUTHENTICATED)


class Rejected(Exception):
    """A datagram that is not a heartbeat we act on; ``reason`` is one of REJECT_REASONS."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class Pending(Exception):
    """An authentic heartbeat we cannot act on yet (a new boot of the partner not yet
    proven fresh).  Not an attack and not counted: the partner's next
    heartbeat, which echoes our boot id, will be accepted."""


@dataclass(frozen=True, slots=True)
class Received:
    """A heartbeat accepted from the partner."""

    magic: int
    digest: bytes | None = None  # the partner's lvs.cf digest (authenticated form only)
    new_boot: bool = False  # first heartbeat of a boot id we had not accepted before


# --- plain form ------------------------------------------------------------


def encode_plain(magic: int) -> bytes:
    return struct.pack("<I", magic)


def decode_plain(data: bytes, service: str) -> Received:
    """The original's rules: 4 bytes or more, first 4 a magic this service accepts."""
    if len(data) < PLAIN_SIZE:
        raise Rejected(BAD, "bad heartbeat packet")
    (magic,) = struct.unpack_from("<I", data)
    if magic not in accepted_magics(service):
        if data[:4] == AUTH_MARK:
            raise Rejected(
                BAD,
                "authenticated heartbeat received, but no heartbeat_key_file is set here: "
                "set the same heartbeat_key_file on both routers",
            )
        raise Rejected(
            BAD, "Incompatible heartbeat received -- other system not using identical services"
        )
    return Received(magic)


# --- authenticated form -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuthFields:
    magic: int
    role: int
    boot_id: int
    seq: int
    echo: int
    digest: bytes


def encode_auth(key: bytes, f: AuthFields) -> bytes:
    head = _AUTH_HEAD.pack(
        AUTH_MARK,
        AUTH_VERSION,
        f.role,
        0,
        struct.pack("<I", f.magic),
        f.boot_id,
        f.seq,
        f.echo,
        f.digest,
    )
    return head + hmac.new(key, head, hashlib.sha256).digest()


def decode_auth(key: bytes, data: bytes) -> AuthFields:
    """Check format and MAC; raise Rejected (bad / unauthenticated / spoofed)."""
    if data[:4] != AUTH_MARK:
        if len(data) >= PLAIN_SIZE and struct.unpack_from("<I", data)[0] in set(Magic):
            raise Rejected(
                UNAUTHENTICATED,
                "unauthenticated heartbeat (the partner has no heartbeat_key_file, or runs the original pulse)",
            )
        raise Rejected(BAD, "bad heartbeat packet")
    if len(data) != AUTH_SIZE:
        raise Rejected(BAD, f"bad heartbeat packet ({len(data)} bytes, {AUTH_SIZE} expected)")
    head, mac = data[: _AUTH_HEAD.size], data[_AUTH_HEAD.size :]
    if not hmac.compare_digest(mac, hmac.new(key, head, hashlib.sha256).digest()):
        raise Rejected(SPOOFED, "heartbeat with a wrong MAC (another key, or forged)")
    _mark, version, role, _res, magic_bytes, boot_id, seq, echo, digest = _AUTH_HEAD.unpack(head)
    if version != AUTH_VERSION:
        raise Rejected(BAD, f"heartbeat format version {version} is not supported (only 1)")
    if role not in (ROLE_PRIMARY, ROLE_BACKUP):
        raise Rejected(BAD, f"heartbeat with an unknown sender role {role}")
    if boot_id == 0 or seq == 0:
        raise Rejected(BAD, "heartbeat with a zero boot id or sequence number")
    (magic,) = struct.unpack("<I", magic_bytes)
    return AuthFields(magic, role, boot_id, seq, echo, digest)


# Verdicts of PeerGuard.check
ACCEPT, DUPLICATE = "accept", "duplicate"


class PeerGuard:
    """Which authentic heartbeats of the partner are fresh.

    * same boot id as the one accepted last: the sequence number must grow
      (equal = the copy that came over the other heartbeat path: dropped
      silently; lower = replayed);
    * a boot id seen before and since replaced: replayed;
    * a new boot id: accepted only if it echoes our own boot id (so it was
      sent after we started); otherwise :class:`Pending` until the partner
      has heard us (one keepalive).

    ``heard`` is the partner's newest boot id in any MAC-valid heartbeat; we
    echo it back so that a restarted partner is believed quickly.
    """

    RETIRED_KEPT = 64
    WINDOW = 64  # sequence numbers behind the newest that may still arrive (IPsec's window)

    def __init__(self, own_boot_id: int) -> None:
        self.own_boot_id = own_boot_id
        self.current: int | None = None
        self.last_seq = 0
        # per heartbeat path, bit i: sequence last_seq - i has arrived on that path
        self.seen: dict[str, int] = {}
        self.heard = 0
        self._retired: deque[int] = deque(maxlen=self.RETIRED_KEPT)

    def check(self, boot_id: int, seq: int, echo: int, path: str = "public") -> str:
        if boot_id == self.current:
            return self._in_window(seq, path)
        if boot_id in self._retired:
            raise Rejected(
                REPLAYED, "replayed heartbeat from an earlier run of the partner's pulse"
            )
        self.heard = boot_id
        if echo != self.own_boot_id:
            raise Pending(
                "heartbeat from a new run of the partner's pulse; waiting for it to hear us"
            )
        if self.current is not None:
            self._retired.append(self.current)
        self.current, self.last_seq, self.seen = boot_id, seq, {path: 1}
        return ACCEPT

    def _in_window(self, seq: int, path: str) -> str:
        """Newer than any: accepted.  Within the window behind the newest: accepted if
        new (the two paths may deliver out of order), a silent duplicate if it came
        over the other path (each heartbeat is sent over both), a replay if it came
        over this path before.  Older than the window: a replay."""
        if seq > self.last_seq:
            shift = seq - self.last_seq
            mask = (1 << self.WINDOW) - 1
            self.seen = {p: (bits << shift) & mask if shift < self.WINDOW else 0 for p, bits in self.seen.items()}
            self.seen[path] = self.seen.get(path, 0) | 1
            self.last_seq = seq
            return ACCEPT
        behind = self.last_seq - seq
        bit = 1 << behind
        here = self.seen.get(path, 0)
        if behind >= self.WINDOW or here & bit:
            raise Rejected(
                REPLAYED, f"replayed heartbeat (sequence {seq}, newest seen {self.last_seq})"
            )
        self.seen[path] = here | bit
        if any(bits & bit for p, bits in self.seen.items() if p != path):
            return DUPLICATE
        return ACCEPT


class PlainCodec:
    """The original's heartbeat (no key)."""

    authenticated = False

    def __init__(self, service: str) -> None:
        self.service = service

    def encode(self, magic: int) -> bytes:
        return encode_plain(magic)

    def decode(self, data: bytes, path: str = "public") -> Received:
        """Received, or raise Rejected (the original's format has nothing to replay-check)."""
        return decode_plain(data, self.service)


class AuthCodec:
    """Authenticated heartbeats between the two routers sharing ``key``."""

    authenticated = True

    def __init__(self, key: bytes, *, service: str, role: int, boot_id: int, digest: bytes) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"the heartbeat key must be at least {MIN_KEY_BYTES} bytes")
        if not 0 < boot_id < 2**64:
            raise ValueError("boot id must be a non-zero 64-bit number")
        self.key = key
        self.service = service
        self.role = role
        self.boot_id = boot_id
        self.digest = digest
        self.seq = 0
        self.guard = PeerGuard(boot_id)

    def encode(self, magic: int) -> bytes:
        self.seq += 1
        fields = AuthFields(magic, self.role, self.boot_id, self.seq, self.guard.heard, self.digest)
        return encode_auth(self.key, fields)

    def decode(self, data: bytes, path: str = "public") -> Received | None:
        """Received, None for the copy from the other heartbeat path, or raise
        Rejected / Pending."""
        f = decode_auth(self.key, data)
        if f.role == self.role:
            raise Rejected(SPOOFED, "heartbeat claiming our own role (reflected or misconfigured)")
        if f.magic not in accepted_magics(self.service):
            raise Rejected(
                BAD, "Incompatible heartbeat received -- other system not using identical services"
            )
        previous = self.guard.current
        if self.guard.check(f.boot_id, f.seq, f.echo, path) == DUPLICATE:
            return None
        return Received(f.magic, f.digest, new_boot=f.boot_id != previous)


Codec = PlainCodec | AuthCodec


def config_digest(config) -> bytes:
    """SHA-256 of lvs.cf as parsed and written back canonically.

    Comments, blank lines, key order and spelling of numbers do not change
    it; any setting does (serial_no included: a file edited on one router
    and not copied shows up).
    """
    from piranha.config import dumps

    return hashlib.sha256(dumps(config).encode()).digest()
