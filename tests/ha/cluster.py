"""A two-router LVS cluster in network namespaces, for pulse's tests and its benchmark.

    client ─┐                public 10.77.0.0/24, VIP 10.77.0.100
            ├── r1 (primary 10.77.0.1)   r2 (backup 10.77.0.2)
            │     │ eth1 10.78.0.1          │ eth1 10.78.0.2
            └─────┴──── private 10.78.0.0/24, NAT router 10.78.0.254 ───┬── rs1 .11
                                                                          ├── rs2 .12
                                                                          └── rs3 .13
The real servers' default route is the NAT router address, which moves
with the active router.  Each real server answers HTTP with its name and
the address the connection came from, so a client can tell which router
carried its request.  pulse and lvsd run as real processes (the userspace
data plane) with a run directory per router.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.netns import Host, Topology

PUBLIC, PRIVATE = "10.77.0", "10.78.0"
VIP = f"{PUBLIC}.100"
NAT_ROUTER = f"{PRIVATE}.254"
ROUTERS = {"r1": 1, "r2": 2}
REAL_SERVERS = {"rs1": 11, "rs2": 12, "rs3": 13}
PORT = 80

REAL_SERVER = textwrap.dedent(
    """
    import socket, sys, threading
    name = sys.argv[1]
    srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", 80)); srv.listen(512)
    def serve(conn, peer):
        with conn:
            conn.settimeout(5)
            try:
                conn.recv(4096)
                body = f"{name} {peer[0]}\\n".encode()
                conn.sendall(b"HTTP/1.0 200 OK\\r\\nContent-Length: %d\\r\\n\\r\\n" % len(body) + body)
            except OSError:
                pass
    while True:
        conn, peer = srv.accept()
        threading.Thread(target=serve, args=(conn, peer), daemon=True).start()
    """
)

LVS_CF = """\
serial_no = 1
primary = {PUBLIC}.1
primary_private = {PRIVATE}.1
service = lvs
backup_active = 1
backup = {PUBLIC}.2
backup_private = {PRIVATE}.2
heartbeat_port = 539
keepalive = {keepalive}
deadtime = {deadtime}
network = nat
nat_router = {NAT_ROUTER} eth1:1
dataplane = userspace
failback = {failback}
failback_delay = {failback_delay}
warm_standby = {warm_standby}
garp_count = 5
garp_interval = 0.2
{extra}virtual web {{
     active = 1
     address = {VIP} eth0:1
     port = 80
     send = "GET / HTTP/1.0\\r\\n\\r\\n"
     expect = "HTTP"
     scheduler = rr
     protocol = tcp
     timeout = 1
     reentry = 1
{servers}}}
"""


def lvs_cf(
    *,
    keepalive: float = 0.1,
    deadtime: float = 0.4,
    failback: int = 1,
    failback_delay: float = 1,
    warm_standby: int = 1,
    extra: str = "",
    virtuals: str = "",
) -> str:
    servers = "".join(
        f"     server {name} {{\n         address = {PRIVATE}.{n}\n         active = 1\n         weight = 1\n     }}\n"
        for name, n in REAL_SERVERS.items()
    )
    text = LVS_CF.format(
        PUBLIC=PUBLIC,
        PRIVATE=PRIVATE,
        NAT_ROUTER=NAT_ROUTER,
        VIP=VIP,
        keepalive=keepalive,
        deadtime=deadtime,
        failback=failback,
        failback_delay=failback_delay,
        warm_standby=warm_standby,
        extra=extra,
        servers=servers,
    )
    return text + virtuals


@dataclass
class Router:
    name: str
    host: Host
    run_dir: Path
    log_path: Path
    public_mac: str
    private_mac: str
    proc: subprocess.Popen | None = None
    _log_offset: int = 0

    @property
    def address(self) -> str:
        return f"{PUBLIC}.{ROUTERS[self.name]}"

    @property
    def private_address(self) -> str:
        return f"{PRIVATE}.{ROUTERS[self.name]}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def addresses(self) -> set[str]:
        out = self.host.run(["ip", "-4", "-o", "addr", "show"]).stdout
        return {line.split()[3].split("/")[0] for line in out.splitlines()}

    def labels(self) -> dict[str, str]:
        """address -> label."""
        out = json.loads(self.host.run(["ip", "-4", "-j", "addr", "show"]).stdout)
        return {
            a["local"]: a.get("label", link["ifname"]) for link in out for a in link["addr_info"]
        }

    def status(self, timeout: float = 3.0) -> dict:
        from piranha.runtime.control import ControlClient

        with ControlClient(self.run_dir / "pulse.sock", timeout=timeout) as client:
            return client.call("status")

    def servers_up(self, timeout: float = 3.0) -> int:
        """Real servers this router's lvsd (active or warm standby) has checked up and
        its data plane carries (a standby's too: programmed before its VIPs arrive)."""
        from piranha.runtime.control import ControlClient, ControlError

        try:
            with ControlClient(self.run_dir / "lvsd.sock", timeout=timeout) as client:
                return sum(
                    1
                    for svc in client.call("table")["services"]
                    for d in svc["destinations"]
                    if d.get("in_table") and (d.get("health") or {}).get("state") == "up"
                )
        except (OSError, ControlError):
            return 0

    def lvsd_pids(self) -> list[int]:
        out = subprocess.run(
            ["ip", "netns", "pids", self.host.name], capture_output=True, text=True
        )
        pids = []
        for pid in out.stdout.split():
            with contextlib.suppress(OSError):
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                if b"lvsd" in cmd and b"piranha.cli.main" in cmd:
                    pids.append(int(pid))
        return pids


@dataclass
class Cluster:
    topo: Topology
    client: Host
    routers: dict[str, Router]
    real_servers: dict[str, Host]
    config_path: Path
    workdir: Path
    spoofer: Host | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    # --- pulse processes -------------------------------------------------------
    def start(self, name: str, *args: str, config: Path | None = None) -> Router:
        r = self.routers[name]
        env = dict(
            os.environ, PIRANHA_RUN_DIR=str(r.run_dir), PYTHONUNBUFFERED="1", **self.extra_env
        )
        env.pop("NOTIFY_SOCKET", None)
        with open(r.log_path, "ab") as log:
            r.proc = r.host.spawn(
                [
                    sys.executable,
                    "-m",
                    "piranha.cli.main",
                    "pulse",
                    "-n",
                    "-c",
                    str(config or self.config_path),
                    *args,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        return r

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Signal pulse; with SIGKILL also every process of the router (a crash)."""
        r = self.routers[name]
        if sig == signal.SIGKILL:
            out = subprocess.run(
                ["ip", "netns", "pids", r.host.name], capture_output=True, text=True
            )
            for pid in out.stdout.split():
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid), signal.SIGKILL)
        elif r.proc is not None:
            # the process we spawned is `ip netns exec`, which exec'd python: same pid
            os.kill(r.proc.pid, sig)

    def wait_exit(self, name: str, timeout: float = 20.0) -> int | None:
        r = self.routers[name]
        if r.proc is None:
            return None
        try:
            return r.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    # --- observation -------------------------------------------------------------
    def wait_for(self, predicate, timeout: float = 15.0, interval: float = 0.05, what: str = ""):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                last = predicate()
                if last:
                    return last
            time.sleep(interval)
        raise AssertionError(
            f"timed out after {timeout} s waiting for {what or predicate}: {last!r}\n{self.logs()}"
        )

    def holder(self) -> set[str]:
        """Routers that hold the VIP right now."""
        return {n for n, r in self.routers.items() if VIP in r.addresses()}

    def request(self, timeout: float = 1.0) -> tuple[str, str] | None:
        """One HTTP request to the VIP from the client: (real server, router address) or None."""
        res = self.client.run(
            [sys.executable, "-c", CLIENT_ONE, VIP, str(PORT), str(timeout)],
            check=False,
            timeout=10,
        )
        line = res.stdout.strip()
        if res.returncode != 0 or not line:
            return None
        server, via = line.split()
        return server, via

    def router_of(self, via: str) -> str:
        for n, r in self.routers.items():
            if via == r.private_address:
                return n
        return via

    def neighbour_mac(self, host: Host, address: str) -> str | None:
        out = host.run(["ip", "neigh", "show", address], check=False).stdout.split()
        if "lladdr" in out:
            return out[out.index("lladdr") + 1]
        return None

    def logs(self) -> str:
        return "\n".join(f"--- {n} ---\n{r.log()[-6000:]}" for n, r in self.routers.items())

    def write_config(self, text: str) -> None:
        tmp = self.config_path.with_suffix(".tmp")
        tmp.write_text(text)
        os.replace(tmp, self.config_path)


# Send one UDP datagram with a forged source address (a raw socket; the kernel fills
# in the IP checksum and id): argv = source, destination, port, payload hex.
SPOOF = textwrap.dedent(
    """
    import socket, struct, sys
    src, dst, port, payload = sys.argv[1], sys.argv[2], int(sys.argv[3]), bytes.fromhex(sys.argv[4])
    udp = struct.pack("!HHHH", 40000, port, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    s.sendto(ip + udp, (dst, 0))
    """
)

# Capture one UDP datagram to `port` from `source` on `ifname`; print its payload in hex.
CAPTURE = textwrap.dedent(
    """
    import socket, sys
    ifname, source, port = sys.argv[1], socket.inet_aton(sys.argv[2]), int(sys.argv[3])
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
    s.bind((ifname, 0)); s.settimeout(10)
    while True:
        frame = s.recv(65535)
        ip = frame[14:]
        ihl = (ip[0] & 15) * 4
        if ip[9] == 17 and ip[12:16] == source and int.from_bytes(ip[ihl + 2:ihl + 4], "big") == port:
            print(ip[ihl + 8:].hex()); break
    """
)

CLIENT_ONE = textwrap.dedent(
    """
    import socket, sys
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3]))
    s.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n")
    data = b""
    while chunk := s.recv(4096):
        data += chunk
    print(data.split(b"\\r\\n\\r\\n", 1)[1].decode().strip())
    """
)


@contextlib.contextmanager
def cluster(config_text: str | None = None, *, spoofer: bool = False):
    """Build the topology (no pulse running yet); everything is removed afterwards."""
    # the topology (and every process in it) goes first, then the files they write
    with tempfile.TemporaryDirectory(prefix="pulse-test-") as tmp, Topology() as topo:
        work = Path(tmp)
        public, private = topo.segment("pub"), topo.segment("priv")
        client = topo.host("client")
        topo.attach(client, public, f"{PUBLIC}.10/24")
        routers: dict[str, Router] = {}
        for name, n in ROUTERS.items():
            h = topo.host(name, forwarding=True)
            topo.attach(h, public, f"{PUBLIC}.{n}/24", ifname="eth0")
            topo.attach(h, private, f"{PRIVATE}.{n}/24", ifname="eth1")
            # accept gratuitous ARP for new entries too, as most LANs' hosts do
            run = work / name
            run.mkdir()
            routers[name] = Router(name, h, run, work / f"{name}.log", h.mac("eth0"), h.mac("eth1"))
        client.sysctl("net.ipv4.conf.all.arp_accept", "1")
        reals = {}
        for name, n in REAL_SERVERS.items():
            h = topo.host(name)
            topo.attach(h, private, f"{PRIVATE}.{n}/24", ifname="eth0")
            h.run(["ip", "route", "add", "default", "via", NAT_ROUTER])
            h.sysctl("net.ipv4.conf.all.arp_accept", "1")
            h.spawn([sys.executable, "-c", REAL_SERVER, name])
            reals[name] = h
        spoof_host = None
        if spoofer:
            spoof_host = topo.host("spoof")
            topo.attach(spoof_host, public, f"{PUBLIC}.66/24")
        config_path = work / "lvs.cf"
        config_path.write_text(config_text or lvs_cf())
        c = Cluster(topo, client, routers, reals, config_path, work, spoof_host)
        for h in reals.values():
            _wait_listening(h)
        yield c


def _wait_listening(host: Host, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ":80 " in host.run(["ss", "-ltnH"], check=False).stdout:
            return
        time.sleep(0.05)
    raise AssertionError(f"real server in {host.name} did not listen on port 80")


def status_json(router: Router) -> str:
    return json.dumps(router.status(), indent=1)
