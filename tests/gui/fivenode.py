"""The guide's five-node example, as the administrator types it into the panels (shared by the tests)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from piranha.config import Config, Environment, load

DATA = Path(__file__).resolve().parent / "data"
GUIDE_FILE = DATA / "five-node-guide.lvs.cf"

GLOBAL = {
    "primary": "1.2.3.2",
    "nat_router": "192.168.1.254",
    "nat_router_device": "eth1:1",
    "rsh_command": "rsh",
}
REDUNDANCY = {"backup": "1.2.3.3", "keepalive": "2", "deadtime": "10", "heartbeat_port": "1050"}
VIRTUAL = {
    "name": "vs1", "port": "80", "address": "1.2.3.1", "device": "eth0:1", "reentry": "180",
    "timeout": "10", "load_monitor": "ruptime", "scheduler": "wlc",
}  # fmt: skip
SERVERS = [
    {"name": "rs1", "address": "192.168.1.3", "weight": "2000"},
    {"name": "rs2", "address": "192.168.1.4", "weight": "1000"},
    {"name": "rs3", "address": "192.168.1.5", "weight": "1000"},
]


def guide_config() -> Config:
    return load(GUIDE_FILE, Environment.hermetic())


def assert_matches_guide(path: Path) -> Config:
    """The file at `path` passes the checks and equals the guide's, field for field (serial_no aside)."""
    written = load(
        path, Environment.hermetic()
    )  # raises ConfigError if `piranha check` would refuse it
    expected = guide_config()
    assert written.serial_no > 0  # every ACCEPT raised it
    written_fields = dataclasses.replace(written, serial_no=expected.serial_no)
    for name in [
        f.name
        for f in dataclasses.fields(Config)
        if f.compare and f.name not in ("virtuals", "failovers")
    ]:
        assert getattr(written_fields, name) == getattr(expected, name), name
    assert written.virtuals == expected.virtuals
    assert written.failovers == expected.failovers == []
    assert written_fields == expected
    return written
