"""The kernel data planes: nftables NAT and direct routing against the direct path and the proxies.

``python -m bench kernel`` (root; Debian packages haproxy, nginx-light,
libnginx-mod-stream, wrk).  Three parts:

1. **Throughput, NAT** — the topology of ``bench proxy`` (client, director,
   three nginx real servers, one worker each, 128-byte file) so the numbers
   line up.  Subjects, in rotating order every round: ``direct`` (the client
   asks the three real servers themselves, routed through the director:
   the ceiling), ``nft-nat`` (this data plane, rr), ``haproxy`` (mode tcp),
   ``nginx`` (stream proxy), ``userspace`` (piranha's userspace plane on
   uvloop, as ``bench proxy`` runs it).  Every subject gets the same
   client: three wrk processes (one thread, 21 connections each) at once,
   keep-alive and one connection per request (``Connection: close``).
   ``nft-plain`` is the one-rule DNAT of deps.md §3 (no counters, no
   persistence, no timeouts): the cost of conntrack NAT itself, to tell it
   from the cost of piranha's rules.
2. **Throughput, direct routing** — one LAN: client, director, three real
   servers holding the VIP on lo with ARP suppressed; ``direct`` vs
   ``nft-dr``.
3. **Full-table changes** — 1,000 services of three real servers each on
   the NAT director; while wrk runs against one of them, changes that
   touch every service are applied, each timed: planning (Python),
   structure (nft transaction), the switch (one netlink batch — the moment
   traffic sees the change), cleanup; wrk must see no error.
4. **Re-weighting accuracy** — no kernel: the lc family's re-weighting
   (:mod:`piranha.dataplane.nftables.slots`, every 0.3 s from counts) against
   the exact scheduler over the same arrivals, and static wrr as a
   reference (see docs/dataplane-nftables.md).

Results: a table on stdout, ``bench/out/kernel.json``.
"""

from __future__ import annotations

import argparse
import heapq
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import OUT_DIR
from .proxy import (
    PORT,
    REAL_SERVERS,
    VIP,
    _haproxy,
    _nginx_real_server,
    _nginx_stream,
    _parse_wrk,
    _preflight,
    nat_lab,
)

REPO = Path(__file__).resolve().parent.parent
DRIVER = REPO / "tests" / "dataplane_nft" / "driver.py"
DR_VIP = "10.79.0.100"
DR_SERVERS = [f"10.79.0.1{n}" for n in (1, 2, 3)]
NAT_SUBJECTS = ("direct", "nft-plain", "nft-nat", "haproxy", "nginx", "userspace")
# the minimal nftables load balancer (deps.md §3): what conntrack NAT itself costs here
PLAIN_DNAT = """table ip bench_plain {{
    chain pre {{
        type nat hook prerouting priority dstnat; policy accept;
        ip daddr {vip} tcp dport {port} dnat ip to numgen inc mod 3 map {{ {slots} }}
    }}
}}
"""
DR_SUBJECTS = ("direct", "nft-dr")
MODES = ("keepalive", "close")
WRK_PROCESSES = 3
WRK_CONNECTIONS = 21


class Driver:
    """tests/dataplane_nft/driver.py in a namespace: the backend as lvsd runs it."""

    def __init__(self, host, extra: dict | None = None) -> None:
        self.proc = host.spawn(
            [sys.executable, str(DRIVER), json.dumps(extra or {})],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.call("start")

    def call(self, op: str, **params) -> dict:
        self.proc.stdin.write(json.dumps({"op": op, **params}) + "\n")
        self.proc.stdin.flush()
        answer = json.loads(self.proc.stdout.readline())
        if not answer.pop("ok"):
            raise RuntimeError(f"{op}: {answer['error']}")
        if answer.get("failed"):
            raise RuntimeError(f"{op}: the backend refused: {answer['failed']}")
        return answer

    def lvsadm(self, *argv: str) -> dict:
        return self.call("lvsadm", argv=list(argv), refresh=False)


def _wrk_parallel(host, targets: list[str], mode: str, duration: float) -> dict:
    """WRK_PROCESSES wrk at once (one per target), summed."""
    procs = []
    for target in targets:
        argv = ["wrk", "-t1", f"-c{WRK_CONNECTIONS}", f"-d{duration:g}s", "--latency"]
        if mode == "close":
            argv += ["-H", "Connection: close"]
        argv.append(f"http://{target}/index.html")
        procs.append(host.spawn(argv, stdout=subprocess.PIPE, text=True))
    results = []
    for proc in procs:
        out = proc.communicate(timeout=duration + 60)[0]
        host.topology.processes.remove(proc)
        results.append(_parse_wrk(out))
    return {
        "rps": sum(r["rps"] for r in results),
        "requests": sum(r["requests"] for r in results),
        "p99_ms": max(r["p99_ms"] for r in results),
        "errors": "; ".join(r["errors"] for r in results if r["errors"]),
    }


# -- NAT -----------------------------------------------------------------------------------


class NatBench:
    def __init__(self, topo, tmp: Path) -> None:
        self.topo, self.tmp = topo, tmp
        self.client, self.director, self.servers = nat_lab(topo)
        _serve_files(tmp, topo, self.servers)
        self.nft: Driver | None = None

    def start(self, subject: str):
        if subject == "direct":
            return None
        if subject == "nft-plain":
            slots = ", ".join(f"{i} : {a} . {PORT}" for i, a in enumerate(REAL_SERVERS))
            self.director.run(["nft", "-f", "-"], input=PLAIN_DNAT.format(vip=VIP, port=PORT, slots=slots))
            return None
        if subject == "nft-nat":
            if self.nft is None:
                self.nft = Driver(self.director)
                self.nft.lvsadm("-A", "-t", f"{VIP}:{PORT}", "-s", "rr")
                for address in REAL_SERVERS:
                    self.nft.lvsadm("-a", "-t", f"{VIP}:{PORT}", "-r", f"{address}:{PORT}", "-m")
            return None
        if subject == "haproxy":
            conf = self.tmp / "haproxy.cfg"
            conf.write_text(_haproxy())
            return self.director.spawn(["haproxy", "-f", str(conf), "-db"])
        if subject == "nginx":
            conf = self.tmp / "stream.conf"
            conf.write_text(_nginx_stream(self.tmp))
            return self.director.spawn(["nginx", "-c", str(conf)])
        proc = self.director.spawn(
            [sys.executable, "-m", "bench.proxy", "serve", "--uvloop", *REAL_SERVERS],
            cwd=REPO, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        if not proc.stdout.readline().startswith("ready"):
            raise RuntimeError("the userspace data plane did not start")
        return proc

    def stop(self, subject: str, proc) -> None:
        if subject == "nft-plain":
            self.director.run(["nft", "delete", "table", "ip", "bench_plain"])
        if subject == "nft-nat" and self.nft is not None:
            self.nft.call("stop")
            self.topo.processes.remove(self.nft.proc)
            self.nft.proc.wait(timeout=10)
            self.nft = None
        if proc is not None:
            _stop(self.topo, proc)
        time.sleep(1)

    def targets(self, subject: str) -> list[str]:
        return list(REAL_SERVERS) if subject == "direct" else [VIP] * WRK_PROCESSES


def _serve_files(tmp: Path, topo, servers) -> None:
    www = tmp / "www"
    www.mkdir(exist_ok=True)
    (www / "index.html").write_bytes(b"x" * 127 + b"\n")
    for path in (tmp, www, www / "index.html"):  # nginx's workers run as nobody
        path.chmod(0o755)
    for n, host in enumerate(servers, 1):
        conf = tmp / f"{host.name}.conf"
        conf.write_text(_nginx_real_server(tmp, n, www).replace(f"rs{n}.pid", f"{host.name}.pid"))
        host.spawn(["nginx", "-c", str(conf)])
    time.sleep(0.5)


def _stop(topo, proc) -> None:
    import os
    import signal

    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    topo.processes.remove(proc)


# -- direct routing ---------------------------------------------------------------------------


class DrBench:
    def __init__(self, topo, tmp: Path) -> None:
        self.topo, self.tmp = topo, tmp
        self.client = topo.host("drclient")
        self.director = topo.host("drdirector")
        self.servers = [topo.host(f"drrs{n}") for n in (1, 2, 3)]
        lan = topo.segment("drlan")
        topo.attach(self.client, lan, "10.79.0.2/24")
        topo.attach(self.director, lan, "10.79.0.1/24")
        self.director.run(["ip", "addr", "add", f"{DR_VIP}/24", "dev", "eth0"])
        for host, address in zip(self.servers, DR_SERVERS, strict=True):
            topo.attach(host, lan, f"{address}/24")
            host.run(["ip", "addr", "add", f"{DR_VIP}/32", "dev", "lo"])  # guide 3.2
            host.sysctl("net.ipv4.conf.all.arp_ignore", "1")
            host.sysctl("net.ipv4.conf.all.arp_announce", "2")
        self.client.sysctl("net.ipv4.tcp_tw_reuse", "1")
        self.client.sysctl("net.ipv4.ip_local_port_range", "1024 65535")
        _serve_files(tmp, topo, self.servers)
        self.nft = Driver(self.director)
        self.nft.lvsadm("-A", "-t", f"{DR_VIP}:{PORT}", "-s", "rr")
        for address in DR_SERVERS:
            self.nft.lvsadm("-a", "-t", f"{DR_VIP}:{PORT}", "-r", f"{address}:{PORT}", "-g")

    def targets(self, subject: str) -> list[str]:
        return list(DR_SERVERS) if subject == "direct" else [DR_VIP] * WRK_PROCESSES


# -- full-table changes --------------------------------------------------------------------------


def _table_lines(n: int, scheduler: str, weights: tuple[int, int, int], command: str = "-a") -> str:
    lines = []
    for s in range(n):
        vip = VIP if s == 0 else f"10.{200 + (s >> 8)}.{s & 255}.1"
        if command == "-a":
            lines.append(f"-A -t {vip}:{PORT} -s {scheduler}")
        elif command == "-E":
            lines.append(f"-E -t {vip}:{PORT} -s {scheduler}")
            continue
        for address, weight in zip(REAL_SERVERS, weights, strict=True):
            if command == "-d" and weight:
                continue
            if command == "-d":
                lines.append(f"-d -t {vip}:{PORT} -r {address}:{PORT}")
            else:
                lines.append(f"{command} -t {vip}:{PORT} -r {address}:{PORT} -m -w {weight}")
    return "\n".join(lines) + "\n"


def full_table_changes(nat: NatBench, services: int, duration: float) -> dict:
    driver = Driver(nat.director)
    try:
        started = time.perf_counter()
        driver.call("restore", stdin=_table_lines(services, "wrr", (1, 1, 1)))
        load_seconds = time.perf_counter() - started
        initial = driver.call("timing")
        changes = [
            ("wrr: a weight in every service", _table_lines(services, "wrr", (2, 1, 1), "-e")),
            ("wrr: weights back", _table_lines(services, "wrr", (1, 1, 1), "-e")),
            ("remove a real server from every service", _table_lines(services, "wrr", (1, 1, 0), "-d")),
            ("add it back", _table_lines(services, "wrr", (0, 0, 1), "-a").replace("-A", "#")),
            ("every service to wlc", _table_lines(services, "wlc", (1, 1, 1), "-E")),
            ("wlc: quiesce a real server everywhere", _table_lines(services, "wlc", (1, 1, 0), "-e")),
            ("wlc: back to weight 1", _table_lines(services, "wlc", (1, 1, 1), "-e")),
            ("one service: a weight (wlc)", _table_lines(1, "wlc", (3, 1, 1), "-e")),
            ("one service: a server removed", _table_lines(1, "wlc", (1, 1, 0), "-d")),
        ]
        wrk = nat.client.spawn(
            ["wrk", "-t1", "-c16", f"-d{duration:g}s", "--latency", "-H", "Connection: close",
             f"http://{VIP}/index.html"],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        time.sleep(1)
        results = []
        for name, text in changes:
            text = "\n".join(line for line in text.splitlines() if not line.startswith("#")) + "\n"
            t0 = time.perf_counter()
            driver.call("restore", stdin=text)
            wall = time.perf_counter() - t0
            timing = driver.call("timing")
            steps = timing["steps"] or {}
            results.append(
                {
                    "change": name,
                    "converge_ms": round(timing["converge_seconds"] * 1000, 1),
                    "plan_ms": round(steps.get("plan", 0) * 1000, 1),
                    "structure_ms": round(steps.get("structure", 0) * 1000, 1),
                    "switch_ms": round(steps.get("switch", 0) * 1000, 2),
                    "kernel_ms": round(steps.get("kernel", 0) * 1000, 2),
                    "elements": int(steps.get("elements", 0)),
                    "request_ms": round(wall * 1000, 1),
                }
            )
            time.sleep(0.3)
        out = wrk.communicate(timeout=duration + 60)[0]
        nat.topo.processes.remove(wrk)
        load = _parse_wrk(out)
        return {
            "services": services,
            "initial_load_s": round(load_seconds, 2),
            "initial_steps_ms": {k: round(v * 1000, 1) for k, v in (initial["steps"] or {}).items()},
            "changes": results,
            "wrk_during_changes": load,
        }
    finally:
        driver.call("stop")
        nat.topo.processes.remove(driver.proc)


# -- re-weighting accuracy (simulation) -----------------------------------------------------------


def reweighting_accuracy(seed: int = 1, seconds: float = 120.0) -> dict:
    """Exact lc-family scheduling vs re-weighting every 0.3 s, over the same arrivals.

    Arrivals: Poisson, 400/s; durations: exponential, mean 0.25 s (about
    100 connections open); three servers of weights 1, 2, 3, of which the
    weight-3 one is twice as slow (its connections last twice as long) —
    the case least-connection scheduling is for.  Reported per scheduler:
    each server's share of connections, and the time-averaged imbalance
    ``mean(max(active/weight) - min(active/weight))``.
    """
    from piranha.dataplane.nftables.slots import plan_slots
    from piranha.table.model import ServiceKey, VirtualTable

    rate, mean_duration, interval = 400.0, 0.25, 0.3
    slowness = [1.0, 1.0, 2.0]
    weights = [1, 2, 3]
    out: dict[str, dict] = {}
    for scheduler in ("lc", "wlc", "sed", "nq", "wrr"):
        per_mode = {}
        for mode in ("exact", "reweighted"):
            rng = random.Random(seed)
            table = VirtualTable()
            key = ServiceKey.tcp("10.0.0.1", 80)
            svc = table.add_service(key, scheduler)
            for i in range(3, 0, -1):
                table.add_dest(key, f"10.1.0.{i}", 80, weight=weights[i - 1])
            dests = list(svc.destinations)
            ends: list[tuple[float, int]] = []
            now, served = 0.0, [0, 0, 0]
            imbalance_area, next_plan, slots, cursor = 0.0, 0.0, [], 0
            last = 0.0
            ended = [0, 0, 0]  # connections that ended on each server since the last plan
            while now < seconds:
                now += rng.expovariate(rate)
                while ends and ends[0][0] <= now:
                    _t_end, i = heapq.heappop(ends)
                    dests[i].activeconns -= 1
                    ended[i] += 1
                ratios = [d.activeconns / d.weight for d in dests]
                imbalance_area += (max(ratios) - min(ratios)) * (now - last)
                last = now
                if mode == "exact" or scheduler == "wrr":
                    pick = svc.scheduler.schedule(svc, 0, 0, 0, 80, now)
                else:
                    if now >= next_plan:
                        # what the backend measures: the rate, and the ends per server
                        gone = {(d.address, d.port): float(ended[k]) for k, d in enumerate(dests)}
                        plan = plan_slots(svc, horizon=int(rate * interval), departures=gone)
                        slots, next_plan, ended = list(plan.slots), now + interval, [0, 0, 0]
                    pick = slots[cursor % len(slots)]
                    cursor += 1
                i = dests.index(pick)
                served[i] += 1
                pick.activeconns += 1
                heapq.heappush(ends, (now + rng.expovariate(1 / (mean_duration * slowness[i])), i))
            total = sum(served)
            per_mode[mode] = {
                "shares": [round(s / total, 3) for s in served],
                "imbalance": round(imbalance_area / last, 2),
            }
            if scheduler == "wrr":
                break
        out[scheduler] = per_mode
    return out


# -- run --------------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict:
    _preflight()
    sys.path.insert(0, str(REPO))
    from tests.support.netns import Topology

    duration = 2.0 if args.quick else 5.0
    rounds = 1 if args.quick else 3
    services = 200 if args.quick else 1000
    runs: dict[str, dict[str, list[dict]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-kernel-") as tmpdir, Topology() as topo:
        tmp = Path(tmpdir)
        nat = NatBench(topo, tmp)
        dr = DrBench(topo, tmp)
        for r in range(rounds):
            order = NAT_SUBJECTS[r % len(NAT_SUBJECTS) :] + NAT_SUBJECTS[: r % len(NAT_SUBJECTS)]
            for subject in order:
                nat.director.run(["conntrack", "-F"], check=False)
                proc = nat.start(subject)
                time.sleep(1)
                for mode in MODES:
                    result = _wrk_parallel(nat.client, nat.targets(subject), mode, duration)
                    runs.setdefault(f"nat/{subject}", {}).setdefault(mode, []).append(result)
                    print(f"  round {r + 1} nat {subject:<10} {mode:<9} {result['rps']:>8} req/s {result['errors']}")
                nat.stop(subject, proc)
            for subject in DR_SUBJECTS[r % 2 :] + DR_SUBJECTS[: r % 2]:
                for mode in MODES:
                    result = _wrk_parallel(dr.client, dr.targets(subject), mode, duration)
                    runs.setdefault(f"dr/{subject}", {}).setdefault(mode, []).append(result)
                    print(f"  round {r + 1} dr  {subject:<10} {mode:<9} {result['rps']:>8} req/s {result['errors']}")
        changes = full_table_changes(nat, services, duration=8.0 if args.quick else 12.0)
    accuracy = reweighting_accuracy(seconds=30.0 if args.quick else 120.0)
    report = _report(runs, changes, accuracy, rounds, duration)
    OUT_DIR.mkdir(exist_ok=True)
    (OUT_DIR / "kernel.json").write_text(json.dumps(report, indent=1))
    return report


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def _report(runs, changes, accuracy, rounds, duration) -> dict:
    summary: dict[str, dict] = {}
    for name, modes in runs.items():
        summary[name] = {
            mode: {
                "rps": round(_median([r["rps"] for r in results])),
                "p99_ms": round(_median([r["p99_ms"] for r in results]), 2),
                "errors": sorted({r["errors"] for r in results if r["errors"]}),
            }
            for mode, results in modes.items()
        }
    print(f"\nthroughput (median of {rounds} rounds of {duration:g} s; 3 wrk x 21 connections)")
    print(f"{'subject':<16} {'keepalive':>10} {'x direct':>9} {'close':>9} {'x direct':>9} {'x haproxy':>10}")
    for name in summary:
        family = name.split("/")[0]
        ref = summary[f"{family}/direct"]
        row = [f"{name:<16}"]
        for mode in MODES:
            rps = summary[name][mode]["rps"]
            row.append(f"{rps:>10}" if mode == "keepalive" else f"{rps:>9}")
            row.append(f"{rps / ref[mode]['rps']:>9.2f}" if ref[mode]["rps"] else f"{'-':>9}")
        hap = summary.get("nat/haproxy")
        if hap and family == "nat":
            row.append(f"{summary[name]['close']['rps'] / max(hap['close']['rps'], 1):>10.2f}")
        print(" ".join(row))
    print(f"\nfull-table changes: {changes['services']} services x 3 real servers "
          f"(initial load {changes['initial_load_s']} s)")
    print(f"{'change':<42} {'converge':>9} {'plan':>7} {'struct':>7} {'switch':>7} {'kernel':>7} {'elements':>9}")
    for c in changes["changes"]:
        print(f"{c['change']:<42} {c['converge_ms']:>8}ms {c['plan_ms']:>6}ms {c['structure_ms']:>6}ms "
              f"{c['switch_ms']:>6}ms {c['kernel_ms']:>6}ms {c['elements']:>9}")
    wrk = changes["wrk_during_changes"]
    print(f"wrk during the changes: {wrk['requests']} requests, errors: {wrk['errors'] or 'none'}")
    print("\nre-weighting vs exact (shares of servers w=1,2,3(slow); time-averaged imbalance)")
    for name, modes in accuracy.items():
        print(f"  {name:<4} " + "   ".join(f"{m}: {v['shares']} imb {v['imbalance']}" for m, v in modes.items()))
    return {"throughput": summary, "changes": changes, "reweighting": accuracy, "raw": runs}
