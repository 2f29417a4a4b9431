"""10,000 real servers behind 100 virtual services, checked every 2 s from one process.

The real servers are listening sockets on distinct loopback addresses
(127.1.V.S+1, port 20000+V for virtual V, server S) served by a separate
process (one epoll loop), so the checker's numbers are its own.  Half the
virtual services use the default web probe (send ``GET / HTTP/1.0``,
expect ``HTTP``: the server reads the request, answers, closes), half a
plain TCP connect.  The checker is piranha.health's Monitor, one asyncio
task per real server, with Actions that only count.

Reported, over the measured window (after one warm-up interval):
CPU share (process CPU time / wall time), RSS (peak), checks per second,
check latency percentiles (start to verdict) and lateness (actual start
minus scheduled start) — "no check delayed past its interval" means
lateness below the 2 s interval.  Results: a table on stdout and
``bench/out/health.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import multiprocessing
import os
import platform
import resource
import selectors
import socket
import sys
import time

from piranha.health import CheckSpec, Monitor, MonitorSpec, raise_fd_limit

from . import OUT_DIR

INTERVAL = 2.0
BASE_PORT = 20000
REPLY = b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"


def _server_address(v: int, s: int) -> tuple[str, int]:
    return f"127.1.{v}.{s + 1}", BASE_PORT + v


def _is_web(v: int) -> bool:
    return v % 2 == 0


# --- the real servers (a separate process) ---------------------------------------------------------
def _serve(virtuals: int, servers: int, ready, stop) -> None:  # pragma: no cover - child process
    raise_fd_limit()
    sel = selectors.DefaultSelector()
    listeners = []
    for v in range(virtuals):
        for s in range(servers):
            ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            ls.bind(_server_address(v, s))
            ls.listen(64)
            ls.setblocking(False)
            sel.register(ls, selectors.EVENT_READ, ("listen", _is_web(v)))
            listeners.append(ls)
    ready.set()
    while not stop.is_set():
        for key, _ in sel.select(timeout=0.2):
            kind, web = key.data
            sock = key.fileobj
            if kind == "listen":
                while True:
                    try:
                        conn, _ = sock.accept()
                    except BlockingIOError:
                        break
                    if web:
                        conn.setblocking(False)
                        try:
                            request = conn.recv(4096)  # usually there already
                        except BlockingIOError:
                            sel.register(conn, selectors.EVENT_READ, ("conn", True))
                            continue
                        except OSError:
                            request = b""
                        if request:
                            with contextlib.suppress(OSError):
                                conn.send(REPLY)
                    conn.close()
            else:
                sel.unregister(sock)
                with contextlib.suppress(OSError):
                    sock.recv(4096)
                    sock.send(REPLY)
                sock.close()
    for ls in listeners:
        ls.close()


# --- the checker -----------------------------------------------------------------------------------
class CountingActions:
    def __init__(self, tally: dict[str, int]) -> None:
        self.tally = tally

    async def admit(self, weight: int) -> None:
        self.tally["admit"] += 1

    async def set_weight(self, weight: int) -> None:
        self.tally["set_weight"] += 1

    async def withdraw(self, quiesce: bool) -> None:
        self.tally["withdraw"] += 1


def _spec(v: int, s: int) -> MonitorSpec:
    address, port = _server_address(v, s)
    check = CheckSpec(
        address=address,
        port=port,
        vport=80 if _is_web(v) else port,
        protocol="tcp",
        send=None,
        expect=None,
        use_regex=False,
        send_program=None,
        tls=False,
        timeout=INTERVAL,
    )
    return MonitorSpec(
        check=check,
        label=f"v{v}/s{s}",
        vip=f"10.{v}.0.1",
        reentry=10.0,
        quiesce=False,
        weight=100,
        load_monitor=None,
        rsh_command="rsh",
    )


def _waited_for_cpu() -> float:
    """Seconds this process was runnable but waiting for a CPU (/proc/self/schedstat)."""
    try:
        with open("/proc/self/schedstat") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, ValueError, IndexError):
        return float("nan")


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    i = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[i]


def _rss_kib() -> tuple[int, int]:
    now = peak = 0
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                now = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                peak = int(line.split()[1])
    return now, peak


async def _check_all(virtuals: int, servers: int, seconds: float) -> dict:
    log = logging.getLogger("bench.health")
    log.addHandler(logging.NullHandler())
    log.propagate = False
    tally = {"admit": 0, "set_weight": 0, "withdraw": 0}
    actions = CountingActions(tally)
    clock = time.monotonic
    window_start = clock() + INTERVAL  # one warm-up interval (the start-up spread)
    window_end = window_start + seconds
    seen: list[tuple[float, float, float, bool]] = []  # (started, latency, lateness, ok)

    def on_check(scheduled: float, started: float, finished: float, ok: bool) -> None:
        if started >= window_start:
            seen.append((started, finished - started, started - scheduled, ok))

    monitors = [
        Monitor(_spec(v, s), actions, log=log, on_check=on_check)
        for v in range(virtuals)
        for s in range(servers)
    ]
    tasks = [asyncio.create_task(m.run()) for m in monitors]
    await asyncio.sleep(window_start - clock())
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    waited0 = _waited_for_cpu()
    wall0 = clock()
    await asyncio.sleep(window_end - clock())
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    waited = _waited_for_cpu() - waited0
    wall1 = clock()
    wall = wall1 - wall0
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    rss_now, rss_peak = _rss_kib()
    window = [c for c in seen if wall0 <= c[0] < wall1]  # checks started in the measured window
    latencies = sorted(c[1] for c in window)
    lateness = sorted(c[2] for c in window)
    failed = sum(1 for c in window if not c[3])
    n = len(window)
    return {
        "real_servers": virtuals * servers,
        "virtual_services": virtuals,
        "interval_s": INTERVAL,
        "window_s": round(wall, 2),
        "checks": n,
        "checks_per_s": round(n / wall, 1),
        "expected_checks_per_s": round(virtuals * servers / INTERVAL, 1),
        "failed_checks": failed,
        "cpu_share": round(cpu / wall, 3),
        "cpu_user_s": round(cpu1.ru_utime - cpu0.ru_utime, 2),
        "cpu_sys_s": round(cpu1.ru_stime - cpu0.ru_stime, 2),
        "cpu_us_per_check": round(cpu / n * 1e6, 1) if n else None,
        # Time spent runnable but without a CPU (other processes had it):
        # when high, lateness measures the machine, not the checker.
        "waited_for_cpu_share": round(waited / wall, 3),
        "load_average": os.getloadavg()[0],
        "rss_mib": round(rss_now / 1024, 1),
        "rss_peak_mib": round(rss_peak / 1024, 1),
        "latency_ms": {
            q: round(_percentile(latencies, p) * 1000, 2)
            for q, p in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0))
        },
        "lateness_ms": {
            q: round(_percentile(lateness, p) * 1000, 2)
            for q, p in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0))
        },
        "late_past_interval": sum(1 for x in lateness if x >= INTERVAL),
        "actions": tally,
    }


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(virtuals: int, servers: int, seconds: float) -> dict:
    raise_fd_limit()
    ctx = multiprocessing.get_context("fork")
    ready, stop = ctx.Event(), ctx.Event()
    server = ctx.Process(target=_serve, args=(virtuals, servers, ready, stop), daemon=True)
    server.start()
    try:
        if not ready.wait(60):
            raise RuntimeError("the real servers did not start")
        before = _cpu_seconds(server.pid)
        result = asyncio.run(_check_all(virtuals, servers, seconds))
        result["server_cpu_share"] = round(
            (_cpu_seconds(server.pid) - before) / (result["window_s"] + INTERVAL), 3
        )
        return result
    finally:
        stop.set()
        server.join(5)
        if server.is_alive():
            server.kill()
            server.join()


def run(args: argparse.Namespace) -> dict:
    quick = getattr(args, "quick", False)
    virtuals, servers, seconds = (10, 100, 6.0) if quick else (100, 100, 30.0)
    result = measure(virtuals, servers, seconds)
    result["python"] = platform.python_version()
    result["cpus"] = os.cpu_count()
    print(
        f"{result['real_servers']} real servers / {virtuals} virtual services, "
        f"interval {INTERVAL:g} s, window {result['window_s']} s"
    )
    print(
        f"  checks/s {result['checks_per_s']} (expected {result['expected_checks_per_s']}), "
        f"failed {result['failed_checks']}"
    )
    print(
        f"  CPU share {result['cpu_share']:.3f} core ({result['cpu_us_per_check']} us/check), "
        f"RSS {result['rss_mib']} MiB (peak {result['rss_peak_mib']} MiB)"
    )
    print(
        f"  (the real servers' process: {result['server_cpu_share']:.3f} core; the checker "
        f"waited for a CPU {result['waited_for_cpu_share']:.0%} of the time; "
        f"load average {result['load_average']:.2f})"
    )
    print(f"  latency ms  {result['latency_ms']}")
    print(
        f"  lateness ms {result['lateness_ms']}  late past interval: {result['late_past_interval']}"
    )
    OUT_DIR.mkdir(exist_ok=True)
    (OUT_DIR / "health.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":  # pragma: no cover
    ns = argparse.Namespace(quick="--quick" in sys.argv)
    run(ns)
