"""Multi-host tests on one machine: network namespaces, veth pairs, bridges.

Every namespace is named ``pt<pid>_<n>_<role>`` so that parallel test
workers and other programs on the machine never collide, and everything a
:class:`Topology` made — processes (killed by PID), namespaces, and with
them their links — is removed when it closes, also when a test fails.

    with Topology() as topo:
        client, router = topo.host("client"), topo.host("r1")
        lan = topo.segment("lan")
        topo.attach(client, lan, "10.66.0.10/24")
        topo.attach(router, lan, "10.66.0.1/24")
        client.run(["ping", "-c1", "-W1", "10.66.0.1"])
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field

_counter = itertools.count()


def require_root() -> None:
    """Network tests need root; fail (not skip) with the reason if we lack it."""
    if os.geteuid() != 0:
        raise AssertionError("this test needs root (network namespaces): run `sudo make test`")
    if shutil.which("ip") is None:
        raise AssertionError("this test needs iproute2's `ip` (apt-get install iproute2)")


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)


@dataclass
class Host:
    """One network namespace."""

    name: str
    topology: Topology
    ifcount: itertools.count = field(default_factory=lambda: itertools.count())

    def exec_argv(self, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.name, *argv]

    def run(
        self, argv: list[str], *, check: bool = True, timeout: float = 30, **kw
    ) -> subprocess.CompletedProcess[str]:
        res = subprocess.run(
            self.exec_argv(argv), capture_output=True, text=True, timeout=timeout, **kw
        )
        if check and res.returncode != 0:
            raise AssertionError(
                f"[{self.name}] {' '.join(argv)} failed ({res.returncode}): {res.stderr.strip()}"
            )
        return res

    def spawn(self, argv: list[str], **kw) -> subprocess.Popen:
        """Start a long-running process in this namespace; stopped when the topology closes."""
        kw.setdefault("stdout", subprocess.DEVNULL)
        kw.setdefault("stderr", subprocess.DEVNULL)
        proc = subprocess.Popen(self.exec_argv(argv), start_new_session=True, **kw)
        self.topology.processes.append(proc)
        return proc

    def sysctl(self, key: str, value: str) -> None:
        self.run(["sysctl", "-qw", f"{key}={value}"])

    def mac(self, ifname: str) -> str:
        return self.run(["cat", f"/sys/class/net/{ifname}/address"]).stdout.strip()


@dataclass
class Segment:
    """An Ethernet segment: a bridge living in its own namespace."""

    name: str
    host: Host
    bridge: str = "br0"


class Topology:
    def __init__(self, prefix: str = "pt") -> None:
        self.prefix = f"{prefix}{os.getpid()}_{next(_counter)}"
        self.hosts: list[Host] = []
        self.processes: list[subprocess.Popen] = []

    def __enter__(self) -> Topology:
        require_root()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def host(self, role: str, *, forwarding: bool = False) -> Host:
        name = f"{self.prefix}_{role}"
        _ip("netns", "add", name)
        host = Host(name, self)
        self.hosts.append(host)
        host.run(["ip", "link", "set", "lo", "up"])
        if forwarding:
            host.sysctl("net.ipv4.ip_forward", "1")
        return host

    def segment(self, role: str) -> Segment:
        sw = self.host(f"sw{role}")
        sw.run(["ip", "link", "add", "br0", "type", "bridge"])
        # forward at once: no STP listening/learning delay in tests
        sw.run(["ip", "link", "set", "br0", "type", "bridge", "forward_delay", "0", "stp_state", "0"])
        sw.run(["ip", "link", "set", "br0", "up"])
        return Segment(role, sw)

    def attach(self, host: Host, segment: Segment, cidr: str | None = None, ifname: str | None = None) -> str:
        """Plug ``host`` into ``segment`` with a new interface; returns its name."""
        ifname = ifname or f"eth{next(host.ifcount)}"
        port = f"p{len(self.hosts)}{next(segment.host.ifcount)}"
        _ip("link", "add", ifname, "netns", host.name, "type", "veth", "peer", "name", port, "netns", segment.host.name)
        segment.host.run(["ip", "link", "set", port, "master", segment.bridge, "up"])
        host.run(["ip", "link", "set", ifname, "up"])
        if cidr:
            host.run(["ip", "addr", "add", cidr, "dev", ifname])
        return ifname

    def link(self, a: Host, b: Host, a_cidr: str | None = None, b_cidr: str | None = None) -> tuple[str, str]:
        """A point-to-point veth pair between two hosts."""
        a_if, b_if = f"eth{next(a.ifcount)}", f"eth{next(b.ifcount)}"
        _ip("link", "add", a_if, "netns", a.name, "type", "veth", "peer", "name", b_if, "netns", b.name)
        for host, ifname, cidr in ((a, a_if, a_cidr), (b, b_if, b_cidr)):
            host.run(["ip", "link", "set", ifname, "up"])
            if cidr:
                host.run(["ip", "addr", "add", cidr, "dev", ifname])
        return a_if, b_if

    def close(self) -> None:
        for proc in reversed(self.processes):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 3
        for proc in self.processes:
            try:
                proc.wait(timeout=max(0.05, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        self.processes.clear()
        for host in reversed(self.hosts):
            # processes we did not start ourselves (children of a killed daemon) die with the namespace
            pids = _ip("netns", "pids", host.name, check=False).stdout.split()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid), signal.SIGKILL)
            _ip("netns", "del", host.name, check=False)
        self.hosts.clear()
