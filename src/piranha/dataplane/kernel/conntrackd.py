"""Connection-state sync between the two routers with conntrackd (Debian ``conntrackd``).

With the nftables data plane a NAT connection lives in the kernel's
conntrack table (its address translation, its mark, its state).
conntrackd copies those entries to the partner router as they change
(FT-FW mode: reliable replication over UDP on the dedicated sync link),
where they wait in conntrackd's *external cache*; when the partner takes
over, committing that cache puts them in its kernel, and established
connections carry on.  This is what IPVS's sync daemon did for Piranha
(``syncdaemon``, ``syncd_iface``, ``syncd_id``).

pulse owns the process (start, stop, role switches); this module gives it
the configuration file text and the commands for each transition, those
of conntrack-tools' own primary-backup.sh:

* become primary: ``-c`` commit the external cache to the kernel, ``-f``
  flush both caches, ``-R`` resync the internal cache with the kernel,
  ``-B`` bulk-send our states to the backup;
* become backup: ``-t`` shorten the timers of the kernel entries we hold
  (they belong to the new primary now), ``-n`` ask the primary for a
  resync.

Direct routing keeps its flows in nftables maps, not in conntrack: they
are not synchronised (documented in docs/dataplane-nftables.md).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_PORT = 3780
PROGRAM = "conntrackd"


@dataclass(frozen=True)
class SyncSettings:
    """What the two routers agree on for conntrackd."""

    interface: str  # the sync link (lvs.cf syncd_iface)
    local_address: str  # this router's address on it
    peer_address: str | None = None  # the partner's: unicast UDP; None: multicast
    port: int = DEFAULT_PORT
    multicast_group: str = "225.0.0.50"
    multicast_group_id: int = DEFAULT_PORT
    run_dir: str = "/run/piranha"  # control socket and lock file live here
    ignore: tuple[str, ...] = field(default_factory=tuple)  # addresses whose own traffic is not synced

    @property
    def socket_path(self) -> str:
        return str(Path(self.run_dir) / "conntrackd.ctl")

    @property
    def lock_path(self) -> str:
        return str(Path(self.run_dir) / "conntrackd.lock")

    @property
    def config_path(self) -> str:
        return str(Path(self.run_dir) / "conntrackd.conf")


def render_config(s: SyncSettings) -> str:
    """conntrackd.conf for a primary-backup pair (FT-FW mode)."""
    if s.peer_address:
        transport = [
            "    UDP {",
            f"        IPv4_address {s.local_address}",
            f"        IPv4_Destination_Address {s.peer_address}",
            f"        Port {s.port}",
            f"        Interface {s.interface}",
        ]
    else:
        transport = [
            "    Multicast {",
            f"        IPv4_address {s.multicast_group}",
            f"        Group {s.multicast_group_id}",
            f"        IPv4_interface {s.local_address}",
            f"        Interface {s.interface}",
        ]
    transport += [
        "        SndSocketBuffer 1249280",
        "        RcvSocketBuffer 1249280",
        "        Checksum on",
        "    }",
    ]
    ignore = ["127.0.0.1", s.local_address, *((s.peer_address and [s.peer_address]) or []), *s.ignore]
    lines = [
        "# written by piranha: connection-state sync between the two LVS routers",
        "Sync {",
        "    Mode FTFW {",
        "        ResendQueueSize 131072",
        "        PurgeTimeout 60",
        "        ACKWindowSize 300",
        "        DisableExternalCache Off",
        "    }",
        *transport,
        "}",
        "General {",
        "    HashSize 32768",
        "    HashLimit 131072",
        "    Syslog on",
        f"    LockFile {s.lock_path}",
        "    UNIX {",
        f"        Path {s.socket_path}",
        "    }",
        "    NetlinkBufferSize 2097152",
        "    NetlinkBufferSizeMaxGrowth 8388608",
        "    NetlinkOverrunResync On",
        "    Filter From Userspace {",
        "        Protocol Accept {",
        "            TCP",
        "            UDP",
        "        }",
        "        Address Ignore {",
        *(f"            IPv4_address {a}" for a in dict.fromkeys(ignore)),
        "        }",
        "    }",
        "}",
    ]
    return "\n".join(lines) + "\n"


def daemon_argv(s: SyncSettings) -> list[str]:
    """conntrackd in the foreground (pulse supervises it)."""
    return [_program(), "-C", s.config_path]


def primary_argvs(s: SyncSettings) -> list[list[str]]:
    base = [_program(), "-C", s.config_path]
    return [[*base, "-c"], [*base, "-f"], [*base, "-R"], [*base, "-B"]]


def backup_argvs(s: SyncSettings) -> list[list[str]]:
    base = [_program(), "-C", s.config_path]
    return [[*base, "-t"], [*base, "-n"]]


def _program() -> str:
    return shutil.which(PROGRAM) or f"/usr/sbin/{PROGRAM}"


def write_config(s: SyncSettings) -> Path:
    path = Path(s.config_path)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.write_text(render_config(s))
    return path
