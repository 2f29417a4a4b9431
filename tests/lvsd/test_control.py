"""The control socket: every op, names either way, owner-only access."""

from __future__ import annotations

import asyncio
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from piranha.lvsd.control import parse_service_id
from piranha.runtime.control import ControlError, acall
from piranha.table.model import IPPROTO_UDP, ServiceKey

from .cfg import config_text, server, virtual
from .fakes import running

KEY = ServiceKey.tcp("192.168.0.1", 80)


def www() -> str:
    return config_text(
        virtual(
            "www",
            "192.168.0.1",
            server("web1", "10.0.0.2", weight=3),
            server("web2", "10.0.0.3"),
            extra="sorry_server = 10.0.0.200",
        )
    )


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory another user may enter (pytest's tmp dirs are 0700)."""
    path = Path(tempfile.mkdtemp(prefix="lvsd-ctl-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_service_ids() -> None:
    assert parse_service_id("tcp:1.2.3.4:80") == ServiceKey.tcp("1.2.3.4", 80)
    assert parse_service_id("udp:1.2.3.4:53") == ServiceKey(IPPROTO_UDP, "1.2.3.4", 53)
    assert parse_service_id("fwm:80") == ServiceKey.mark(80)
    for bad in ("tcp:1.2.3.4", "fwm:0", "sctp:1.2.3.4:80", "tcp::80", ""):
        with pytest.raises(ControlError, match="write tcp:ADDRESS:PORT"):
            parse_service_id(bad)


def test_ops_over_the_socket(tmp_path: Path) -> None:
    async def main() -> None:
        async with running(tmp_path, www()) as h:
            sock = tmp_path / "lvsd.sock"
            assert stat.S_IMODE(os.stat(sock).st_mode) == 0o600
            await h.monitor("www/web1").up(3)
            h.monitor("www/web2").state = "down"

            status = await acall(sock, "status")
            assert (status["state"], status["dataplane"], status["pid"]) == (
                "active",
                "fake",
                os.getpid(),
            )
            assert status["config"] == str(h.path) and status["serial_no"] == 1

            table = await acall(sock, "table")
            (svc,) = table["services"]
            assert svc["key"] == {
                "protocol": "tcp",
                "address": "192.168.0.1",
                "port": 80,
                "fwmark": 0,
            }
            assert (svc["name"], svc["scheduler"]) == ("www", "wlc")
            web1, web2 = svc["destinations"]
            assert (web1["name"], web1["weight"], web1["in_table"], web1["forward"]) == (
                "web1",
                3,
                True,
                "Masq",
            )
            assert web1["health"]["state"] == "up" and web1["configured_weight"] == 3
            assert (web2["name"], web2["weight"], web2["in_table"]) == ("web2", 0, False)
            assert web2["health"]["state"] == "down"
            assert table["timeouts"] == {"tcp": 900, "tcpfin": 120, "udp": 300}

            health = await acall(sock, "health")
            assert [(e["server"], e["state"], e["draining"]) for e in health] == [
                ("web1", "up", False),
                ("web2", "down", False),
            ]

            entry = await acall(sock, "force", virtual="www", server="web2", mode="up")
            assert h.monitor("www/web2").forced == "up" and entry["server"] == "web2"
            with pytest.raises(ControlError, match="mode is one of down, up, resume"):
                await acall(sock, "force", virtual="www", server="web2", mode="sideways")

            entry = await acall(
                sock, "drain", service="tcp:192.168.0.1:80", dest="10.0.0.2:80", deadline=30
            )
            assert entry["draining"] is True
            # the only server up is draining: the sorry server takes new clients
            assert h.weights(KEY) == {("10.0.0.2", 80): 0, ("10.0.0.200", 80): 1}
            await acall(sock, "undrain", virtual="www", server="web1")
            assert h.weights(KEY) == {("10.0.0.2", 80): 3}

            with pytest.raises(
                ControlError, match="no active virtual service named 'nope' \\(active: www\\)"
            ):
                await acall(sock, "drain", virtual="nope", server="web1")
            with pytest.raises(ControlError, match="has no active real server named 'web9'"):
                await acall(sock, "drain", virtual="www", server="web9")
            with pytest.raises(ControlError, match="deadline is a number of seconds"):
                await acall(sock, "drain", virtual="www", server="web1", deadline="soon")

            h.lvsd.table.get(KEY).stats.conns = 5
            assert await acall(sock, "zero", service="tcp:192.168.0.1:80") == {
                "zeroed": "tcp:192.168.0.1:80"
            }
            assert h.lvsd.table.get(KEY).stats.conns == 0
            assert await acall(sock, "zero") == {"zeroed": "all"}

            out = await acall(sock, "lvsadm", argv=["-L", "-n"], stdin="", prog="lvsadm")
            assert out["exit_code"] == 0 and "-> 10.0.0.2:80" in out["stdout"]
            assert await acall(sock, "ipvsadm", argv=["-S", "-n"]) == {
                "exit_code": 0,
                "stdout": "-A -t 192.168.0.1:80 -s wlc\n-a -t 192.168.0.1:80 -r 10.0.0.2:80 -m -w 3\n",
                "stderr": "",
                "changed": False,
            }
            assert await acall(sock, "connections") == []
            assert (await acall(sock, "history", seconds=60))["interval"] == 2.0
            assert await acall(sock, "reload") == {"ok": True, "errors": []}
            assert await acall(sock, "activate") == {"state": "active", "changed": False}

    asyncio.run(main())


# the venv may live where other users cannot go; the client needs no piranha
SYSTEM_PYTHON = shutil.which("python3", path="/usr/bin:/bin") or sys.executable
CLIENT = """
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect(sys.argv[1])
except PermissionError:
    print("EACCES"); sys.exit(0)
# a refused peer is answered at once, before it asks anything
print(json.loads(s.makefile().readline())["error"])
"""


def test_other_users_are_refused(shared_dir: Path) -> None:
    if os.geteuid() != 0:
        raise AssertionError("this test needs root (it runs a client as another user)")

    async def client(sock: Path) -> str:
        proc = await asyncio.create_subprocess_exec(
            SYSTEM_PYTHON, "-c", CLIENT, str(sock), user=65534, stdout=asyncio.subprocess.PIPE
        )
        out, _ = await proc.communicate()
        return out.decode().strip()

    async def main() -> None:
        async with running(shared_dir, www()) as h:
            sock = shared_dir / "lvsd.sock"
            assert h.lvsd.state == "active"
            assert await client(sock) == "EACCES"  # the socket is 0600
            os.chmod(sock, 0o666)  # past the file system, the peer-credential check
            assert await client(sock) == "permission denied"

    asyncio.run(main())
