"""Scheduling decisions per second, per scheduler, at 10, 1,000 and 10,000 destinations.

A decision is ``ConnectionTable.schedule`` for a new connection: the
scheduler's choice plus binding the connection (counts, overload, the
indexed schedulers' bookkeeping).  Between decisions, untimed, the table
churns as a loaded director's does: half the new connections become
ESTABLISHED, and the oldest close once about 8 per destination are open
(at most 40,000), so counts keep changing under the scheduler.  Weights
are 1..100, clients and virtual addresses vary (sh/mh hash the client,
dh/lblc/lblcr the destination address).  For lc, wlc, sed, nq, fo and
ovf a second table compares their heaps with the kernel's O(n) scan at
10 to 10,000 destinations.

Results: a table on stdout and ``bench/out/schedulers.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time
from collections import deque

from piranha.table.model import IPPROTO_TCP, Destination, ServiceKey, VirtualTable
from piranha.table.schedulers import NAMES, SCAN_VARIANTS, create
from piranha.table.schedulers.indexed import IndexedScheduler
from piranha.table.schedulers.mh import TAB_SIZE as MH_TAB_SIZE
from piranha.table.schedulers.rr import RoundRobin

from . import OUT_DIR

SIZES = (10, 1_000, 10_000)
QUICK_SIZES = (10, 1_000)
VIP = "10.0.0.1"
KEY = ServiceKey.tcp(VIP, 80)


def _address(i: int, base: int) -> str:
    return f"{base}.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"


def _build(name: str, n: int, variant: str, live_target: int, seed: int):
    table = VirtualTable()
    svc = table.add_service(KEY, "rr")
    rng = random.Random(seed)
    # Bulk build (the table's add_dest would rebuild sh/mh tables n times).
    for i in range(n):
        dest = Destination(_address(i, 10), 80, weight=rng.randint(1, 100))
        svc.destinations.append(dest)
    svc.scheduler = RoundRobin(svc)
    ct = table.connections
    live: deque = deque()
    now = 0.0
    # Warm up with cheap round robin, then switch to the scheduler under test,
    # which starts from the counts as they are.
    for i in range(live_target):
        conn = ct.schedule(svc, IPPROTO_TCP, _address(i, 172), 1024 + i % 60000, VIP, 80, now)
        if i % 2:
            ct.set_state(conn, "ESTABLISHED", now)
        live.append(conn)
    svc.scheduler_name = name
    svc.rng.seed(seed)
    svc.scheduler = create(svc, scan=variant == "scan")
    if variant == "heap":  # heaps even where the default would scan
        svc.scheduler.SCAN_BELOW = 0
        svc.scheduler.update(svc)
    return table, svc, live


def measure(name: str, n: int, variant: str, budget: float, seed: int = 1) -> dict:
    """variant: "default", "heap" (indexes at any size) or "scan" (the kernel loop)."""
    live_target = min(8 * n, 40_000)
    table, svc, live = _build(name, n, variant, live_target, seed)
    ct = table.connections
    open_now = set(map(id, live))
    rng = random.Random(seed)
    clock = time.perf_counter
    spent = 0.0
    decisions = misses = 0
    now = 1.0
    while spent < budget or decisions < 50:
        client = rng.getrandbits(16)
        caddr = _address(client, 192)
        vaddr = _address(rng.getrandbits(12), 10)
        cport = 1024 + rng.getrandbits(15)
        t0 = clock()
        conn = ct.schedule(svc, IPPROTO_TCP, caddr, cport, vaddr, 80, now)
        spent += clock() - t0
        decisions += 1
        now += 0.001
        if conn is None:
            misses += 1
        elif id(conn) not in open_now:  # not an entry already open on that 5-tuple
            if rng.random() < 0.5:
                ct.set_state(conn, "ESTABLISHED", now)
            live.append(conn)
            open_now.add(id(conn))
        while len(live) > live_target:
            old = live.popleft()
            open_now.discard(id(old))
            ct.remove(old)
        if decisions >= 200_000:
            break
    return {
        "scheduler": name,
        "variant": variant,
        "destinations": n,
        "decisions": decisions,
        "no_destination": misses,
        "seconds": round(spent, 4),
        "decisions_per_second": round(decisions / spent),
        "microseconds_per_decision": round(spent / decisions * 1e6, 2),
    }


def run(args: argparse.Namespace) -> dict:
    quick = getattr(args, "quick", False)
    sizes = QUICK_SIZES if quick else SIZES
    budget = 0.15 if quick else 0.5
    results = []
    print(f"{'scheduler':<10}" + "".join(f"{n:>14,}" for n in sizes) + "   (decisions/s)")
    for name in NAMES:
        row = []
        for n in sizes:
            if name == "mh" and n > MH_TAB_SIZE:
                row.append(None)  # the kernel refuses more than M destinations
                continue
            result = measure(name, n, "default", budget)
            results.append(result)
            row.append(result["decisions_per_second"])
        print(f"{name:<10}" + "".join(f"{'n/a' if v is None else f'{v:,}':>14}" for v in row))
        sys.stdout.flush()

    print()
    print("heaps vs the kernel's scan (decisions/s; by default lc/wlc/sed/nq/fo/ovf scan")
    print(f"below {IndexedScheduler.SCAN_BELOW} destinations and use heaps from there)")
    print(f"{'scheduler':<10}{'destinations':>14}{'heap':>12}{'scan':>12}{'speed-up':>10}")
    comparison = []
    for name in SCAN_VARIANTS:
        for n in sorted({*sizes, 20, IndexedScheduler.SCAN_BELOW, 80}):
            heap = measure(name, n, "heap", budget)
            scan = measure(name, n, "scan", budget)
            results += [heap, scan]
            ratio = heap["decisions_per_second"] / scan["decisions_per_second"]
            comparison.append({"scheduler": name, "destinations": n,
                               "heap": heap["decisions_per_second"],
                               "scan": scan["decisions_per_second"], "speedup": round(ratio, 2)})
            print(f"{name:<10}{n:>14,}{heap['decisions_per_second']:>12,}"
                  f"{scan['decisions_per_second']:>12,}{ratio:>9.1f}x")
            sys.stdout.flush()

    report = {
        "benchmark": "schedulers",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "quick": quick,
        "results": results,
        "heap_vs_scan": comparison,
    }
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    (OUT_DIR / "schedulers.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwritten: {OUT_DIR / 'schedulers.json'}")
    return report
