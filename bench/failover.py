"""Failover time of pulse, and of keepalived's VRRP in the same topology.

Failover time = from the last answer the client got through the old router
to the first answer through the new one, seen by a tight connect loop on
the client (a fresh TCP connection and an HTTP request to the VIP per
iteration, 5 ms connect timeout, 100 ms to answer: a SYN sent to the dead
router is lost, so the loop's resolution is that timeout; 20 ms hid the
differences at 0.01 s heartbeats).  Topology: tests/ha/cluster.py (client,
two routers on a public and a private segment, three real servers behind
the NAT router address); the userspace data plane serves in both cases.

* crash: every process of the active router gets SIGKILL (pulse and lvsd,
  or keepalived and lvsd); its addresses stay configured, as on a machine
  that hangs.
* clean stop: SIGTERM to pulse (or keepalived) on the active router.

Runs alternate direction (r1 -> r2, then r2 -> r1, ...): with fail-back off
the restarted router comes back as the standby, so no hold-down is waited
for.  keepalived runs VRRPv3 with unicast peers, priorities 150/100, no
preemption; lvsd runs on both routers all the time (ip_nonlocal_bind) and
keepalived only moves the addresses, as a keepalived + proxy setup does.

    python -m bench failover                      # everything, 20 runs each
    python -m bench.failover --runs 5 --only pulse-0.1
    python -m bench.failover --hog 600            # the 10-minute CPU hog check only

Results: a table on stdout and bench/out/failover.json.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import platform
import queue
import random
import re
import signal
import statistics
import subprocess
import sys
import textwrap
import threading
import time

from tests.ha.cluster import PRIVATE, PUBLIC, REAL_SERVERS, VIP, Cluster, cluster, lvs_cf

from . import OUT_DIR

PROBE = textwrap.dedent(
    """
    import socket, sys, time
    vip = sys.argv[1]
    routers = {"%(private)s.1": "r1", "%(private)s.2": "r2"}
    cur, last_ok = None, 0.0
    print("probe ready", flush=True)
    while True:
        try:
            s = socket.create_connection((vip, 80), timeout=0.005)
            s.settimeout(0.1)
            s.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n")
            data = b""
            while chunk := s.recv(4096):
                data += chunk
            s.close()
            who = routers.get(data.split(b"\\r\\n\\r\\n", 1)[1].split()[1].decode(), "?")
        except (OSError, IndexError):
            time.sleep(0.0005)
            continue
        t = time.monotonic()
        if who != cur:
            print(f"switch {cur} {last_ok:.6f} {who} {t:.6f}", flush=True)
            cur = who
        last_ok = t
    """
) % {"private": PRIVATE}

KEEPALIVED_CONF = """\
global_defs {{
    router_id {name}
    vrrp_version 3
    script_user root
    enable_script_security
}}
vrrp_instance VI_1 {{
    state BACKUP
    nopreempt
    interface eth0
    virtual_router_id 51
    priority {priority}
    advert_int {advert}
    unicast_src_ip {own}
    unicast_peer {{
        {peer}
    }}
    virtual_ipaddress {{
        {vip}/32 dev eth0 label eth0:1
        {private}.254/32 dev eth1 label eth1:1
    }}
}}
"""


class Probe:
    """The client's connect loop; reports each change of the router that answers."""

    def __init__(self, c: Cluster) -> None:
        self.proc = c.client.spawn(
            [sys.executable, "-c", PROBE, VIP], stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "probe ready"
        self.current: str | None = None
        self.lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def wait_switch(self, timeout: float) -> tuple[str | None, float, str, float]:
        """The next change: (old router, its last answer, new router, its first answer)."""
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no answer from another router within {timeout:g} s") from None
        _, old, last, new, first = line.split()
        self.current = new
        return (None if old == "None" else old), float(last), new, float(first)

    def wait_for(self, router: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.current != router:
            self.wait_switch(max(0.1, deadline - time.monotonic()))

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


# --- pulse ------------------------------------------------------------------------------


def pulse_cluster_ready(c: Cluster, timeout: float = 60) -> tuple[str, str]:
    """Wait until one router serves and the other stands by warm; (active, standby)."""

    def settled():
        states = {n: r.status() for n, r in c.routers.items()}
        active = [n for n, s in states.items() if s["state"] == "active"]
        if len(active) != 1:
            return None
        (a,) = active
        (s,) = [n for n in states if n != a]
        standby = states[s]
        ok = standby["state"] == "inactive" and standby["lvsd_state"] == "standby"
        # ... and its first round of health checks done (docs/pulse.md, warm standby)
        ok = ok and c.routers[s].servers_up() == len(REAL_SERVERS)
        return (a, s) if ok and standby["partner"]["state"] == "running" else None

    return c.wait_for(settled, timeout=timeout, what="one router active, the other standing by")


ACTIVE_IN = re.compile(r"active in ([0-9.]+) s \(addresses ([0-9.]+) s, lvsd ([0-9.]+) s\)")


def last_activation(c: Cluster, name: str, timeout: float = 5.0) -> list[float] | None:
    """The new active router's own account of its takeover (pulse logs it after the first
    gratuitous ARP): [total, addresses, lvsd] seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = ACTIVE_IN.findall(c.routers[name].log())
        if found:
            return [float(x) for x in found[-1]]
        time.sleep(0.05)
    return None


def run_pulse(
    keepalive: float, deadtime: float, mode: str, runs: int, activations: list | None = None
) -> list[float]:
    """Failover times; `activations` gets the new active's [total, addresses, lvsd] each run."""
    text = lvs_cf(keepalive=keepalive, deadtime=deadtime, failback=0)
    times: list[float] = []
    with cluster(text) as c:
        c.start("r1")
        c.start("r2")
        active, standby = pulse_cluster_ready(c)
        probe = Probe(c)
        try:
            probe.wait_for(active, 30)
            for _ in range(runs):
                # a random phase against the heartbeat: the crash may come just after one or
                # just before the next (a fixed pause would always hit the same point)
                time.sleep(max(2 * keepalive, 0.3) + random.uniform(0, keepalive))
                probe.wait_for(active, 30)
                c.kill(active, signal.SIGKILL if mode == "crash" else signal.SIGTERM)
                while True:  # the first answer from the standby after the last from `active`
                    _old, last, new, first = probe.wait_switch(3 * deadtime + 15)
                    if new == standby:
                        break
                times.append(first - last)
                if activations is not None:
                    activations.append(last_activation(c, standby))
                c.wait_exit(active, 30)
                c.start(active)  # back as the standby (fail-back off)
                active, standby = pulse_cluster_ready(c)
        finally:
            probe.stop()
    return times


# --- keepalived --------------------------------------------------------------------------------


_starts = itertools.count()


def start_keepalived(c: Cluster, name: str, advert: float) -> None:
    r = c.routers[name]
    own, peer = (f"{PUBLIC}.1", f"{PUBLIC}.2") if name == "r1" else (f"{PUBLIC}.2", f"{PUBLIC}.1")
    conf = c.workdir / f"keepalived-{name}.conf"
    conf.write_text(
        KEEPALIVED_CONF.format(
            name=name,
            priority=150 if name == "r1" else 100,
            advert=advert,
            own=own,
            peer=peer,
            vip=VIP,
            private=PRIVATE,
        )
    )
    # fresh pid files each start: a SIGKILLed instance's may still name a dying process
    n = next(_starts)
    pid = c.workdir / f"keepalived-{name}-{n}.pid"
    vrrp_pid = c.workdir / f"vrrp-{name}-{n}.pid"
    with open(r.log_path, "ab") as log:
        r.proc = r.host.spawn(
            [
                "keepalived",
                "--dont-fork",
                "--vrrp",
                "--log-console",
                "-f",
                str(conf),
                "-p",
                str(pid),
                "-r",
                str(vrrp_pid),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def start_lvsd(c: Cluster, name: str) -> None:
    r = c.routers[name]
    r.host.sysctl("net.ipv4.ip_nonlocal_bind", "1")
    env = dict(os.environ, PIRANHA_RUN_DIR=str(r.run_dir))
    with open(r.log_path, "ab") as log:
        r.host.spawn(
            [sys.executable, "-m", "piranha.cli.main", "lvsd", "-n", "-c", str(c.config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    c.wait_for(lambda: (r.run_dir / "lvsd.sock").exists(), what=f"lvsd on {name}")


def run_keepalived(advert: float, mode: str, runs: int) -> list[float]:
    times: list[float] = []
    with cluster(lvs_cf()) as c:
        for name in ("r1", "r2"):
            start_lvsd(c, name)
        start_keepalived(c, "r1", advert)
        time.sleep(0.2)
        start_keepalived(c, "r2", advert)
        probe = Probe(c)
        try:
            probe.wait_for("r1", 30)
            active, standby = "r1", "r2"
            for _ in range(runs):
                time.sleep(max(5 * advert, 0.5) + random.uniform(0, advert))
                if mode == "crash":
                    c.kill(active, signal.SIGKILL)  # keepalived and lvsd
                else:
                    c.kill(active, signal.SIGTERM)
                _old, last, new, first = probe.wait_switch(10 * advert + 15)
                if new != standby:
                    probe.wait_for(standby, 10 * advert + 15)
                times.append(first - last)
                c.wait_exit(active, 30)
                r = c.routers[active]
                for address in (f"{VIP}/32 dev eth0", f"{PRIVATE}.254/32 dev eth1"):
                    r.host.run(["ip", "addr", "del", *address.split()], check=False)
                if mode == "crash":
                    start_lvsd(c, active)
                start_keepalived(c, active, advert)
                time.sleep(max(5 * advert, 1.0))  # let it settle as the backup
                active, standby = standby, active
        finally:
            probe.stop()
    return times


# --- no false failover under load ---------------------------------------------------------------

HOG = "while True:\n    pass\n"


def run_hog(seconds: float, keepalive: float = 0.1, deadtime: float = 0.3) -> dict:
    text = lvs_cf(keepalive=keepalive, deadtime=deadtime, failback=0)
    hogs: list[subprocess.Popen] = []
    with cluster(text) as c:
        c.start("r1")
        c.start("r2")
        active, _standby = pulse_cluster_ready(c)
        probe = Probe(c)
        switches = 0
        try:
            probe.wait_for(active, 30)
            cores = os.cpu_count() or 2
            hogs = [subprocess.Popen([sys.executable, "-c", HOG]) for _ in range(cores * 2)]
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                with contextlib.suppress(TimeoutError):
                    probe.wait_switch(min(5.0, max(0.1, deadline - time.monotonic())))
                    switches += 1
            r1, r2 = c.routers["r1"], c.routers["r2"]
            s1, s2 = r1.status(timeout=10), r2.status(timeout=10)
            dead = r1.log().count("partner dead") + r2.log().count("partner dead")
        finally:
            for h in hogs:
                h.kill()
                h.wait()
            probe.stop()
    return {
        "seconds": seconds,
        "keepalive": keepalive,
        "deadtime": deadtime,
        "hog_processes": len(hogs),
        "partner_dead_events": dead,
        "router_switches_seen_by_client": switches,
        "r1": s1["state"],
        "r2": s2["state"],
        "heartbeats_received_r2": s2["heartbeat"]["received"],
    }


# --- driver ------------------------------------------------------------------------------------

SCENARIOS = [
    # name, kind, interval (keepalive or advert), deadtime
    ("pulse-defaults", "pulse", 2.0, 5.0),
    ("pulse-1", "pulse", 1.0, 3.0),
    ("pulse-0.1", "pulse", 0.1, 0.3),
    ("pulse-0.01", "pulse", 0.01, 0.03),
    ("keepalived-1", "keepalived", 1.0, None),
    ("keepalived-0.1", "keepalived", 0.1, None),
    ("keepalived-0.01", "keepalived", 0.01, None),
]


def summarize(times: list[float]) -> dict:
    return {
        "runs": len(times),
        "median": round(statistics.median(times), 4),
        "worst": round(max(times), 4),
        "best": round(min(times), 4),
        "all": [round(t, 4) for t in times],
    }


def _exit_on_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C, so every namespace and process made is removed."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def run(args: argparse.Namespace) -> dict:
    _exit_on_sigterm()
    runs = getattr(args, "runs", None) or (5 if getattr(args, "quick", False) else 20)
    only = set(getattr(args, "only", None) or [])
    hog = getattr(args, "hog", None)
    results: dict = {
        "machine": {
            "cpus": os.cpu_count(),
            "kernel": platform.release(),
            "python": platform.python_version(),
        },
        "runs": runs,
        "scenarios": {},
    }
    out_path = OUT_DIR / "failover.json"
    if hog is None or only:
        print(f"{'scenario':<18} {'mode':<6} {'median s':>9} {'worst s':>8} {'best s':>7}  runs")
        for name, kind, interval, deadtime in SCENARIOS:
            if only and name not in only:
                continue
            for mode in ("crash", "clean"):
                load_before = round(os.getloadavg()[0], 2)
                activations: list = []
                if kind == "pulse":
                    times = run_pulse(interval, deadtime, mode, runs, activations)
                else:
                    times = run_keepalived(interval, mode, runs)
                s = summarize(times)
                steps = [a for a in activations if a is not None]
                if steps:  # where pulse's own time went (median of each part, seconds)
                    s["activation"] = {
                        part: round(statistics.median(a[i] for a in steps), 4)
                        for i, part in enumerate(("total", "addresses", "lvsd"))
                    }
                s["load_average"] = [load_before, round(os.getloadavg()[0], 2)]
                results["scenarios"].setdefault(name, {})[mode] = s
                steps_note = ""
                if "activation" in s:
                    a = s["activation"]
                    steps_note = (
                        f"  (pulse's takeover {a['total']:.4f} s: addresses {a['addresses']:.4f}, "
                        f"lvsd {a['lvsd']:.4f})"
                    )
                print(
                    f"{name:<18} {mode:<6} {s['median']:>9.3f} {s['worst']:>8.3f} {s['best']:>7.3f}  {runs}"
                    + steps_note,
                    flush=True,
                )
    hog_seconds = hog if hog is not None else (60 if getattr(args, "quick", False) else 600)
    if not only:
        print(
            f"CPU hog: {hog_seconds:g} s with every core saturated, keepalive 0.1 / deadtime 0.3 ...",
            flush=True,
        )
        h = run_hog(hog_seconds)
        results["hog"] = h
        print(
            f"  partner-dead events: {h['partner_dead_events']}, router switches seen by the client: "
            f"{h['router_switches_seen_by_client']} (r1 {h['r1']}, r2 {h['r2']})"
        )
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(results, indent=1))
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.failover", description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, help="runs per scenario and mode (default 20)")
    p.add_argument(
        "--only",
        action="append",
        metavar="SCENARIO",
        help=f"run only these ({', '.join(s[0] for s in SCENARIOS)}); no hog run",
    )
    p.add_argument(
        "--hog",
        type=float,
        metavar="SECONDS",
        help="CPU hog duration (default 600); alone: run only the hog check",
    )
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    _exit_on_sigterm()
    if args.hog is not None and not args.only and args.runs is None:
        results = {"hog": run_hog(args.hog)}
        print(json.dumps(results, indent=1))
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        (OUT_DIR / "failover-hog.json").write_text(json.dumps(results, indent=1))
        return 0
    run(args)
    return 0  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
