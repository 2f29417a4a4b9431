"""The userspace data plane against HAProxy and nginx, in network namespaces.

``python -m bench proxy`` (root; Debian packages haproxy, nginx-light,
libnginx-mod-stream, wrk).  Five namespaces: a client, a director and three
real servers, each running nginx (one worker) serving a 128-byte file.
The director runs, one after the other and in rotating order every round:

* ``direct``  — no proxy: wrk asks one nginx directly (routed through the
  director's kernel), the ceiling of the setup;
* ``haproxy`` — HAProxy ``mode tcp``, ``balance roundrobin``, ``nbthread 2``;
* ``nginx``   — nginx's stream proxy, 2 workers, round robin;
* ``piranha-uvloop`` — our backend as lvsd runs it with ``use_uvloop``: a
  worker process on uvloop (lvsd's part: the runner calling refresh every
  2 s, counted too);
* ``piranha-asyncio`` — our backend inside the runner on the stdlib loop.

Each subject gets wrk with keep-alive and with one connection per request
(``-H "Connection: close"``), 2 threads and 64 connections.  Reported per
mode: requests/s, p99 latency, the director's CPU per request (utime +
stime of its processes from /proc/<pid>/stat, all threads and children),
as medians over the rounds, and ratios to HAProxy.  Then memory per held
connection: RSS growth of the director's processes while a client holds N
idle connections through it (N = 9,900 by default: the machine's hard fd
limit is 20,000, and a proxy needs two descriptors per connection).

Results: a table on stdout, ``bench/out/proxy.json`` and
``bench/out/proxy.md`` (the table as markdown).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import OUT_DIR

REPO = Path(__file__).resolve().parent.parent
VIP = "10.77.0.100"
CLIENT = "10.77.0.2"
DIRECTOR_FRONT = "10.77.0.1"
REAL_SERVERS = [f"10.78.{n}.2" for n in (1, 2, 3)]
PORT = 80
FILE_SIZE = 128
SUBJECTS = ("direct", "haproxy", "nginx", "piranha-uvloop", "piranha-asyncio")
MODES = ("keepalive", "close")
TOOLS = ("haproxy", "nginx", "wrk", "ip")


# -- helpers running inside the namespaces ------------------------------------


def serve(argv: list[str]) -> int:
    """The piranha subject: one TCP service, rr over the real servers, until SIGTERM."""
    import asyncio

    from piranha.dataplane.base import BackendOptions
    from piranha.dataplane.userspace import UserspaceBackend
    from piranha.table.model import Forward, ServiceKey, VirtualTable

    parser = argparse.ArgumentParser(prog="python -m bench.proxy serve")
    parser.add_argument("--uvloop", action="store_true")
    parser.add_argument("--vip", default=VIP)
    parser.add_argument("--set", action="append", default=[], metavar="KNOB=VALUE",
                        help="a userspace.* tuning knob, e.g. linger_max=0")
    parser.add_argument("servers", nargs="+")
    args = parser.parse_args(argv)

    async def main() -> None:
        table = VirtualTable()
        key = ServiceKey.tcp(args.vip, PORT)
        table.add_service(key, "rr")
        for address in reversed(args.servers):
            table.add_dest(key, address, PORT, forward=Forward.MASQ)
        extra = dict(f"userspace.{knob}".split("=", 1) for knob in args.set)
        backend = UserspaceBackend(table, BackendOptions(use_uvloop=args.uvloop, extra=extra))
        await backend.start()
        await backend.converge()
        worker = backend._worker.pid if backend._worker is not None else os.getpid()
        print(f"ready {os.getpid()} {worker}", flush=True)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        while not stop.is_set():  # what lvsd does between requests
            try:
                await asyncio.wait_for(stop.wait(), 2)
            except TimeoutError:
                await backend.refresh(time.monotonic())
        await backend.stop()

    asyncio.run(main())
    return 0


def hold(argv: list[str]) -> int:
    """Open N connections to target and keep them open until stdin closes."""
    parser = argparse.ArgumentParser(prog="python -m bench.proxy hold")
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("target")
    args = parser.parse_args(argv)
    host, port = args.target.rsplit(":", 1)
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    held = []
    for _ in range(args.count):
        s = socket.socket()
        s.connect((host, int(port)))
        held.append(s)
    print(f"held {len(held)}", flush=True)
    sys.stdin.read()
    for s in held:
        s.close()
    return 0


# -- the topology --------------------------------------------------------------


def nat_lab(topo):
    """client -- director (VIP on eth0, forwarding) -- rs1..rs3, each on its own link,
    routed through the director; (client, director, servers)."""
    client = topo.host("client")
    director = topo.host("director", forwarding=True)
    servers = [topo.host(f"rs{n}") for n in (1, 2, 3)]
    topo.link(client, director, f"{CLIENT}/24", f"{DIRECTOR_FRONT}/24")
    director.run(["ip", "addr", "add", f"{VIP}/32", "dev", "eth0"])
    client.run(["ip", "route", "add", "default", "via", DIRECTOR_FRONT])
    for n, (host, address) in enumerate(zip(servers, REAL_SERVERS, strict=True), 1):
        topo.link(director, host, f"10.78.{n}.1/24", f"{address}/24")
        host.run(["ip", "route", "add", "default", "via", f"10.78.{n}.1"])
    for host in (client, director):
        # a proxy opens as many connections as it accepts: without these the
        # ephemeral ports of the director-to-server leg run out in seconds
        host.sysctl("net.ipv4.tcp_tw_reuse", "1")
        host.sysctl("net.ipv4.ip_local_port_range", "1024 65535")
    return client, director, servers


class Bench:
    def __init__(self, topo, tmp: Path, duration: float) -> None:
        self.topo = topo
        self.tmp = tmp
        self.duration = duration
        self.client, self.director, self.servers = nat_lab(topo)
        www = tmp / "www"
        www.mkdir()
        (www / "index.html").write_bytes(b"x" * (FILE_SIZE - 1) + b"\n")
        for n, host in enumerate(self.servers, 1):
            conf = tmp / f"rs{n}.conf"
            conf.write_text(_nginx_real_server(tmp, n, www))
            host.spawn(["nginx", "-c", str(conf)])
        for address in REAL_SERVERS:
            self._wait_port(self.client, address)

    def _wait_port(self, host, address: str, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            res = host.run(["bash", "-c", f"exec 3<>/dev/tcp/{address}/{PORT}"], check=False)
            if res.returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(f"nothing answers on {address}:{PORT}")

    # -- subjects --------------------------------------------------------------

    def start(self, subject: str) -> tuple[subprocess.Popen | None, list[int]]:
        """Start a subject on the director; returns its process and the pids to measure."""
        if subject == "direct":
            return None, []
        if subject == "haproxy":
            conf = self.tmp / "haproxy.cfg"
            conf.write_text(_haproxy())
            proc = self.director.spawn(["haproxy", "-f", str(conf), "-db"])
            self._wait_port(self.client, VIP)
            return proc, [proc.pid]
        if subject == "nginx":
            conf = self.tmp / "stream.conf"
            conf.write_text(_nginx_stream(self.tmp))
            proc = self.director.spawn(["nginx", "-c", str(conf)])
            self._wait_port(self.client, VIP)
            return proc, [proc.pid]
        argv = [sys.executable, "-m", "bench.proxy", "serve", *REAL_SERVERS]
        if subject == "piranha-uvloop":
            argv.insert(4, "--uvloop")
        proc = self.director.spawn(argv, cwd=REPO, stdout=subprocess.PIPE, text=True)
        line = proc.stdout.readline().split()
        if not line or line[0] != "ready":
            raise RuntimeError(f"{subject} did not start")
        self._wait_port(self.client, VIP)
        return proc, sorted({int(line[1]), int(line[2])})

    def stop(self, proc: subprocess.Popen | None) -> None:
        if proc is None:
            return
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        self.topo.processes.remove(proc)
        time.sleep(1)  # let the sockets of the last run settle

    # -- measurements ------------------------------------------------------------

    def wrk(self, subject: str, mode: str, pids: list[int]) -> dict:
        target = REAL_SERVERS[0] if subject == "direct" else VIP
        argv = ["wrk", "-t2", "-c64", f"-d{self.duration:g}s", "--latency"]
        if mode == "close":
            argv += ["-H", "Connection: close"]
        argv.append(f"http://{target}/index.html")
        cpu0 = _cpu_ticks(pids)
        out = self.client.run(argv, timeout=self.duration + 60).stdout
        cpu1 = _cpu_ticks(pids)
        result = _parse_wrk(out)
        if pids and result["requests"]:
            seconds = (cpu1 - cpu0) / os.sysconf("SC_CLK_TCK")
            result["cpu_us_per_request"] = round(seconds / result["requests"] * 1e6, 1)
        return result

    def memory(self, subject: str, count: int) -> dict:
        proc, pids = self.start(subject)
        try:
            time.sleep(1)
            before = _rss_kib(pids)
            holder = self.client.spawn(
                [sys.executable, "-m", "bench.proxy", "hold", "--count", str(count), f"{VIP}:{PORT}"],
                cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            )  # fmt: skip
            line = holder.stdout.readline()
            if not line.startswith("held"):
                raise RuntimeError(f"the client could not hold {count} connections through {subject}")
            time.sleep(3)  # every upstream connection established, housekeeping ran
            after = _rss_kib(pids)
            holder.stdin.close()
            holder.wait(timeout=30)
            self.topo.processes.remove(holder)
        finally:
            self.stop(proc)
        return {
            "connections": count,
            "rss_before_kib": before,
            "rss_after_kib": after,
            "bytes_per_connection": round((after - before) * 1024 / count),
        }


def _cpu_ticks(pids: list[int]) -> int:
    total = 0
    for pid in _with_children(pids):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (all threads)
    return total


def _rss_kib(pids: list[int]) -> int:
    total = 0
    for pid in _with_children(pids):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except FileNotFoundError:
            continue
        total += int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
    return total


def _with_children(pids: list[int]) -> list[int]:
    seen: list[int] = []
    todo = list(pids)
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.append(pid)
        for task in Path(f"/proc/{pid}/task").glob("*"):
            with contextlib.suppress(FileNotFoundError):
                todo += [int(c) for c in (task / "children").read_text().split()]
    return seen


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _parse_wrk(out: str) -> dict:
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    value, unit = re.search(r"\s99%\s+([\d.]+)(us|ms|s)", out).groups()
    errors = re.search(r"Socket errors: (.*)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "requests": requests,
        "rps": round(rps),
        "p99_ms": round(float(value) * _UNITS[unit], 3),
        "errors": (errors.group(1) if errors else "") + (f" non2xx {non2xx.group(1)}" if non2xx else ""),
    }


def _nginx_real_server(tmp: Path, n: int, www: Path) -> str:
    return f"""
worker_processes 1;
daemon off;
pid {tmp}/rs{n}.pid;
error_log {tmp}/rs{n}.err warn;
worker_rlimit_nofile 20000;
events {{ worker_connections 19000; }}
http {{
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 300s;
  client_header_timeout 300s;
  server {{ listen {PORT} backlog=4096; root {www}; }}
}}
"""


def _haproxy() -> str:
    servers = "\n".join(f"  server s{n} {a}:{PORT}" for n, a in enumerate(REAL_SERVERS, 1))
    return f"""
global
  nbthread 2
  maxconn 9950
defaults
  mode tcp
  timeout connect 5s
  timeout client 300s
  timeout server 300s
frontend front
  bind {VIP}:{PORT} backlog 4096
  default_backend reals
backend reals
  balance roundrobin
{servers}
"""


def _nginx_stream(tmp: Path) -> str:
    servers = "\n".join(f"    server {a}:{PORT};" for a in REAL_SERVERS)
    return f"""
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
worker_processes 2;
daemon off;
pid {tmp}/stream.pid;
error_log {tmp}/stream.err warn;
worker_rlimit_nofile 20000;
events {{ worker_connections 19000; }}
stream {{
  upstream reals {{
{servers}
  }}
  server {{ listen {VIP}:{PORT} backlog=4096; proxy_pass reals; }}
}}
"""


# -- the benchmark ---------------------------------------------------------------


def _preflight() -> None:
    if os.geteuid() != 0:
        raise SystemExit("bench proxy needs root (network namespaces)")
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        raise SystemExit(
            f"bench proxy needs {', '.join(missing)}: "
            "apt-get install haproxy nginx-light libnginx-mod-stream wrk iproute2"
        )
    if not Path("/usr/lib/nginx/modules/ngx_stream_module.so").exists():
        raise SystemExit("nginx's stream module is missing: apt-get install libnginx-mod-stream")


def run(args: argparse.Namespace) -> dict:
    _preflight()
    sys.path.insert(0, str(REPO))
    from tests.support.netns import Topology

    quick = getattr(args, "quick", False)
    rounds = 1 if quick else 3
    duration = 3.0 if quick else 8.0
    held = 2000 if quick else 9900
    subjects = list(SUBJECTS)
    runs: dict[str, dict[str, list[dict]]] = {s: {m: [] for m in MODES} for s in subjects}
    memory: dict[str, dict] = {}
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with tempfile.TemporaryDirectory(prefix="bench-proxy-") as tmp, Topology("bp") as topo:
        os.chmod(tmp, 0o755)
        bench = Bench(topo, Path(tmp), duration)
        for r in range(rounds):
            order = subjects[r % len(subjects) :] + subjects[: r % len(subjects)]
            for subject in order:
                proc, pids = bench.start(subject)
                try:
                    for mode in MODES if r % 2 == 0 else reversed(MODES):
                        result = bench.wrk(subject, mode, pids)
                        runs[subject][mode].append(result)
                        print(f"round {r + 1} {subject:<16} {mode:<9} {_line(result)}", flush=True)
                finally:
                    bench.stop(proc)
        for subject in ("haproxy", "nginx", "piranha-uvloop", "piranha-asyncio"):
            memory[subject] = bench.memory(subject, held)
            print(f"memory {subject:<16} {memory[subject]}", flush=True)
    report = _report(runs, memory, rounds, duration, quick)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    (OUT_DIR / "proxy.json").write_text(json.dumps(report, indent=2) + "\n")
    (OUT_DIR / "proxy.md").write_text(report["markdown"])
    print()
    print(report["markdown"])
    print(f"written: {OUT_DIR / 'proxy.json'}, {OUT_DIR / 'proxy.md'}")
    return report


def _line(result: dict) -> str:
    cpu = result.get("cpu_us_per_request")
    cpu_text = f"{cpu:7.1f} µs/req" if cpu is not None else "      - µs/req"
    return f"{result['rps']:>8} req/s  p99 {result['p99_ms']:>8.2f} ms  {cpu_text}  {result['errors']}"


def _median(values: list[float]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _report(runs: dict, memory: dict, rounds: int, duration: float, quick: bool) -> dict:
    summary: dict[str, dict[str, dict]] = {}
    for subject, modes in runs.items():
        summary[subject] = {}
        for mode, results in modes.items():
            summary[subject][mode] = {
                "rps": _median([r["rps"] for r in results]),
                "p99_ms": _median([r["p99_ms"] for r in results]),
                "cpu_us_per_request": _median([r.get("cpu_us_per_request") for r in results]),
            }
    ref = summary["haproxy"]
    lines = [
        f"Medians of {rounds} interleaved round(s), wrk -t2 -c64 -d{duration:g}s, "
        f"{FILE_SIZE}-byte file; ratios to HAProxy (throughput: higher is better; "
        "p99, CPU and memory: lower is better).",
        "",
        "| subject | mode | req/s | × HAProxy | p99 ms | × HAProxy | CPU µs/req | × HAProxy |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for subject, modes in summary.items():
        for mode, m in modes.items():
            r = ref[mode]
            lines.append(
                f"| {subject} | {mode} | {_fmt(m['rps'], 0)} | {_ratio(m['rps'], r['rps'])} | "
                f"{_fmt(m['p99_ms'], 2)} | {_ratio(m['p99_ms'], r['p99_ms'])} | "
                f"{_fmt(m['cpu_us_per_request'], 1)} | "
                f"{_ratio(m['cpu_us_per_request'], r['cpu_us_per_request'])} |"
            )
    if memory:
        lines += [
            "",
            "| subject | held connections | RSS growth | bytes/connection | × HAProxy |",
            "|---|---:|---:|---:|---:|",
        ]
        base = memory.get("haproxy", {}).get("bytes_per_connection")
        for subject, m in memory.items():
            grow = m["rss_after_kib"] - m["rss_before_kib"]
            lines.append(
                f"| {subject} | {m['connections']:,} | {grow:,} KiB | "
                f"{m['bytes_per_connection']:,} | {_ratio(m['bytes_per_connection'], base)} |"
            )
    return {
        "benchmark": "proxy",
        "quick": quick,
        "rounds": rounds,
        "duration": duration,
        "runs": runs,
        "summary": summary,
        "memory": memory,
        "markdown": "\n".join(lines) + "\n",
    }


def _fmt(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _ratio(value: float | None, ref: float | None) -> str:
    if value is None or not ref:
        return "-"
    return f"{value / ref:.2f}"


if __name__ == "__main__":
    commands = {"serve": serve, "hold": hold}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        raise SystemExit("usage: python -m bench.proxy serve|hold ...  (the benchmark: python -m bench proxy)")
    sys.exit(commands[sys.argv[1]](sys.argv[2:]))
