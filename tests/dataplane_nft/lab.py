"""Test networks for the kernel data planes: a client, a director, real servers.

``nat_lab()``: client 10.98.0.2 (+ .10-.41 as extra client addresses) —
director eth0 10.98.0.1 with the VIP 10.98.0.100 — director eth1
10.97.0.1 on a LAN with the real servers 10.97.0.11.. (default route via
the director, as the guide's NAT topology), each running httpd.py on 8080
(TCP and UDP).

``dr_lab()``: one LAN 10.97.0.0/24 with the client .2, the director .1
holding the VIP 10.97.0.100, and the real servers .11.. set up by
``piranha realserver --apply`` (VIP on lo, ARP suppressed), httpd.py on
port 80 — the guide's direct-routing topology.

The director runs driver.py (the backend as lvsd would); ``lab.lvsadm(...)``
speaks ipvsadm's language to it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.netns import Host, Topology

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
VIP_NAT = "10.98.0.100"
VIP_DR = "10.97.0.100"
CLIENTS = [f"10.98.0.{i}" for i in range(10, 42)]


class DriverError(AssertionError):
    pass


@dataclass
class Lab:
    topo: Topology
    client: Host
    director: Host
    servers: list[Host]
    vip: str
    rs_port: int
    proc: subprocess.Popen | None = None
    log: list[str] = field(default_factory=list)

    def start_driver(self, extra: dict | None = None) -> None:
        argv = [sys.executable, str(HERE / "driver.py"), json.dumps(extra or {})]
        self.proc = self.director.spawn(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.call("start")

    def call(self, op: str, **params) -> dict:
        assert self.proc is not None and self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"op": op, **params}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            err = self.proc.stderr.read() if self.proc.stderr else ""
            raise DriverError(f"the driver died during {op}: {err[-2000:]}")
        answer = json.loads(line)
        if not answer.pop("ok"):
            shown = {k: (v if len(str(v)) < 200 else f"<{len(str(v))} characters>") for k, v in params.items()}
            raise DriverError(f"{op} {shown}: {answer['error']}")
        return answer

    def lvsadm(self, *argv: str, stdin: str = "", expect_failed: bool = False) -> dict:
        """ipvsadm on the director's table; converges when it changed the table."""
        answer = self.call("lvsadm", argv=list(argv), stdin=stdin)
        if answer["exit_code"] != 0:
            raise DriverError(f"lvsadm {' '.join(argv)}: {answer['stderr']}")
        if answer.get("failed") and not expect_failed:
            raise DriverError(f"lvsadm {' '.join(argv)}: backend refused: {answer['failed']}")
        return answer

    def listing(self, *argv: str) -> str:
        return self.lvsadm(*argv)["stdout"]

    def load(self, port: int = 80, *, count: int = 60, concurrency: int = 1, sources: list[str] | None = None,
             keepalive: int = 1, udp: bool = False, duration: float = 0.0, path: str = "/", host: str | None = None) -> dict:
        argv = [sys.executable, str(HERE / "loadgen.py"), host or self.vip, str(port), "--count", str(count),
                "--concurrency", str(concurrency), "--keepalive", str(keepalive), "--path", path]
        if sources:
            argv += ["--sources", ",".join(sources)]
        if udp:
            argv.append("--udp")
        if duration:
            argv += ["--duration", str(duration)]
        res = self.client.run(argv, timeout=120)
        return json.loads(res.stdout)

    def start_load(self, port: int = 80, **kw) -> subprocess.Popen:
        """The same, in the background; ``json.loads(proc.communicate()[0])`` when done."""
        argv = [sys.executable, str(HERE / "loadgen.py"), kw.pop("host", self.vip), str(port)]
        for name, value in kw.items():
            flag = "--" + name
            if value is True:
                argv.append(flag)
            elif value:
                argv += [flag, ",".join(value) if isinstance(value, list) else str(value)]
        return self.client.spawn(argv, stdout=subprocess.PIPE, text=True)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(Exception):
                self.call("stop")
        names = [h.name for h in self.topo.hosts]
        self.topo.close()
        for name in names:
            shutil.rmtree(f"/tmp/piranha-test-{name}", ignore_errors=True)


def realserver(host: Host, lvs_cf: Path, server: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """``piranha realserver`` in a real server's namespace (its state kept per namespace)."""
    env = dict(os.environ, PIRANHA_RUN_DIR=f"/tmp/piranha-test-{host.name}")
    return host.run(
        [sys.executable, "-m", "piranha.cli.main", "realserver", "-c", str(lvs_cf), "--server", server, *args],
        cwd=str(ROOT),
        env=env,
        check=check,
    )


def _serve(host: Host, name: str, port: int) -> None:
    proc = host.spawn([sys.executable, str(HERE / "httpd.py"), name, str(port)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "ready":
        raise AssertionError(f"real server {name} did not start")


@contextlib.contextmanager
def nat_lab(servers: int = 3) -> Iterator[Lab]:
    topo = Topology()
    topo.__enter__()
    try:
        client = topo.host("client")
        director = topo.host("dir", forwarding=True)
        topo.link(client, director, "10.98.0.2/24", "10.98.0.1/24")
        for addr in CLIENTS:
            client.run(["ip", "addr", "add", f"{addr}/24", "dev", "eth0"])
        client.run(["ip", "route", "add", "default", "via", "10.98.0.1"])
        director.run(["ip", "addr", "add", f"{VIP_NAT}/32", "dev", "eth0"])
        lan = topo.segment("lan")
        topo.attach(director, lan, "10.97.0.1/24")
        hosts = []
        for i in range(1, servers + 1):
            rs = topo.host(f"rs{i}")
            topo.attach(rs, lan, f"10.97.0.{10 + i}/24")
            rs.run(["ip", "route", "add", "default", "via", "10.97.0.1"])
            for port in (8080, 80, 443):  # 80/443: fwmark services keep the client's port
                _serve(rs, f"rs{i}", port)
            hosts.append(rs)
        lab = Lab(topo, client, director, hosts, VIP_NAT, 8080)
    except BaseException:
        topo.close()
        raise
    try:
        yield lab
    finally:
        lab.close()


@contextlib.contextmanager
def dr_lab(servers: int = 3, lvs_cf: Path | None = None) -> Iterator[Lab]:
    """Real servers prepared by ``piranha realserver --apply`` from ``lvs_cf``."""
    topo = Topology()
    topo.__enter__()
    try:
        client = topo.host("client")
        director = topo.host("dir")
        lan = topo.segment("lan")
        topo.attach(client, lan, "10.97.0.2/24")
        topo.attach(director, lan, "10.97.0.1/24")
        director.run(["ip", "addr", "add", f"{VIP_DR}/24", "dev", "eth0"])
        hosts = []
        for i in range(1, servers + 1):
            rs = topo.host(f"rs{i}")
            topo.attach(rs, lan, f"10.97.0.{10 + i}/24")
            if lvs_cf is not None:
                realserver(rs, lvs_cf, f"10.97.0.{10 + i}", "--apply")
            for port in (80, 443):
                _serve(rs, f"rs{i}", port)
            hosts.append(rs)
        lab = Lab(topo, client, director, hosts, VIP_DR, 80)
    except BaseException:
        topo.close()
        raise
    try:
        yield lab
    finally:
        lab.close()
