"""``piranha realserver``: the real-server side of lvs.cf, printed or done.

    piranha realserver [-c lvs.cf] --server NAME|ADDRESS [--virtual NAME]
                       [--arp sysctl|nft] [--apply | --undo]

Direct routing (guide 3.2, and the ldirectord how-to's real-server setup):
each real server accepts packets for the virtual IPs without ever
answering ARP for them — the VIPs go on ``lo`` as /32, and either the
``arp_ignore=1``/``arp_announce=2`` sysctls (default) or an nft ``arp``
table (``--arp nft``: the modern form of the guide's arptables_jf rules)
keep the real server quiet.  NAT (guide 3.1.2): the real server's default
route goes through the floating NAT router address.  Tunnel: the VIPs go
on ``tunl0``.

Without ``--apply`` the steps are printed for the operator; ``--apply``
performs them here (idempotent; needs root) and remembers what it
changed, so that ``--undo`` restores it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

STATE_FILE = "realserver.json"
ARP_TABLE = "piranha_realserver"
SYSCTL_CONF = "/etc/sysctl.d/90-piranha-realserver.conf"


class Refused(Exception):
    """Bad input or a machine that cannot do it: say so, exit non-zero."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Target:
    """The real server and what lvs.cf asks of it."""

    name: str
    address: str
    network: str  # nat | direct | tunnel
    vips: list[str]
    services: list[str]  # "www (10.0.0.100:80 tcp)"
    nat_router: str | None
    config_file: str


@dataclass
class Step:
    title: str
    commands: list[str]
    apply: Callable[[dict], str] | None = None  # returns what it did ("" = already so)
    undo: Callable[[dict], str] | None = None
    notes: list[str] = field(default_factory=list)


# -- lvs.cf -> target ---------------------------------------------------------------


def find_target(cfg, wanted: str, virtual: str | None) -> Target:
    virtuals = [v for v in cfg.virtuals if v.active and (virtual is None or v.name == virtual)]
    if virtual is not None and not virtuals:
        names = ", ".join(v.name for v in cfg.virtuals) or "none"
        raise Refused(f"{cfg.filename}: no active virtual server named {virtual!r} (virtual servers: {names})")
    vips: list[str] = []
    services: list[str] = []
    name = address = None
    for vs in virtuals:
        for server in vs.servers:
            if not server.active or wanted not in (server.name, server.address):
                continue
            name, address = server.name, server.address
            if vs.address not in vips:
                vips.append(vs.address)
            what = f"fwmark {vs.fwmark}" if vs.fwmark else f"{vs.address}:{vs.port} {vs.protocol}"
            services.append(f"{vs.name} ({what})")
    if address is None:
        known = sorted({f"{s.name} {s.address}" for v in cfg.virtuals for s in v.servers if s.active})
        listing = ", ".join(known) or "none"
        raise Refused(
            f"{cfg.filename}: no active real server named or addressed {wanted!r}"
            + (f" in virtual {virtual!r}" if virtual else "")
            + f" (active real servers: {listing})"
        )
    return Target(name or address, address, cfg.network, vips, services, cfg.nat_router, cfg.filename)


# -- facts about this machine ------------------------------------------------------------


def local_interface(address: str) -> str | None:
    try:
        from piranha.dataplane.kernel.netinfo import interface_addresses

        for dev, addrs in interface_addresses().items():
            if address in addrs:
                return dev
    except Exception:
        return None
    return None


def _sysctl_get(name: str) -> str | None:
    from piranha.dataplane.kernel import sysctl

    try:
        return sysctl.get(name)
    except OSError:
        return None


def _sysctl_set(name: str, value: str) -> None:
    from piranha.dataplane.kernel import sysctl

    try:
        sysctl.set_value(name, value)
    except OSError as exc:
        raise Refused(f"cannot set {name}={value}: {exc.strerror or exc}", 1)


def _ipr():
    from pyroute2 import IPRoute

    return IPRoute()


def _has_address(dev: str, address: str) -> bool:
    with _ipr() as ipr:
        idx = ipr.link_lookup(ifname=dev)
        if not idx:
            return False
        return any(a.get_attr("IFA_ADDRESS") == address for a in ipr.get_addr(index=idx[0]))


def _address(dev: str, address: str, add: bool) -> str:
    with _ipr() as ipr:
        idx = ipr.link_lookup(ifname=dev)
        if not idx:
            raise Refused(f"there is no interface {dev} on this machine", 1)
        present = any(a.get_attr("IFA_ADDRESS") == address for a in ipr.get_addr(index=idx[0]))
        if add and not present:
            ipr.addr("add", index=idx[0], address=address, prefixlen=32)
            return f"added {address}/32 to {dev}"
        if not add and present:
            ipr.addr("del", index=idx[0], address=address, prefixlen=32)
            return f"removed {address}/32 from {dev}"
    return ""


# -- the steps ------------------------------------------------------------------


def _sysctl_step(settings: list[tuple[str, str]]) -> Step:
    def apply(state: dict) -> str:
        saved = state.setdefault("sysctl", {})
        done = []
        for name, value in settings:
            before = _sysctl_get(name)
            if before is None:
                raise Refused(f"this machine has no {name}", 1)
            if before != value:
                saved.setdefault(name, before)
                _sysctl_set(name, value)
                done.append(f"{name}={value} (was {before})")
        return "set " + ", ".join(done) if done else ""

    def undo(state: dict) -> str:
        saved = state.get("sysctl", {})
        done = []
        for name, _value in settings:
            before = saved.get(name, "0")
            if _sysctl_get(name) not in (None, before):
                _sysctl_set(name, before)
                done.append(f"{name}={before}")
        return "restored " + ", ".join(done) if done else ""

    return Step(
        "Never answer ARP for the virtual IPs, nor announce them (arp_ignore=1, arp_announce=2)",
        [f"sysctl -w {name}={value}" for name, value in settings],
        apply,
        undo,
        [f"to keep it after a reboot, put these lines in {SYSCTL_CONF}: "
         + "; ".join(f"{name} = {value}" for name, value in settings)],
    )


def _nft_arp_step(target: Target) -> Step:
    lines = [f"table arp {ARP_TABLE} {{"]
    lines.append("    chain in { type filter hook input priority 0; policy accept;")
    lines += [f"        arp operation request arp daddr ip {vip} drop" for vip in target.vips]
    lines.append("    }")
    lines.append("    chain out { type filter hook output priority 0; policy accept;")
    lines += [f"        arp saddr ip {vip} arp saddr ip set {target.address}" for vip in target.vips]
    lines.append("    }")
    lines.append("}")
    ruleset = "\n".join(lines) + "\n"

    def nft(text: str) -> None:
        program = shutil.which("nft") or "/usr/sbin/nft"
        res = subprocess.run([program, "-f", "-"], input=text, capture_output=True, text=True)
        if res.returncode != 0:
            raise Refused(f"nft refused the ARP rules: {res.stderr.strip()}", 1)

    def apply(state: dict) -> str:
        nft(f"table arp {ARP_TABLE}\ndelete table arp {ARP_TABLE}\n" + ruleset)
        state["nft_arp"] = True
        return f"loaded table arp {ARP_TABLE}"

    def undo(state: dict) -> str:
        nft(f"table arp {ARP_TABLE}\ndelete table arp {ARP_TABLE}\n")
        return f"removed table arp {ARP_TABLE}"

    return Step(
        "Drop ARP requests for the virtual IPs and rewrite the virtual IPs out of outgoing ARP "
        "(nftables' arp family: what the guide did with arptables_jf)",
        ["nft -f - <<'EOF'", *ruleset.rstrip().splitlines(), "EOF"],
        apply,
        undo,
        ["to keep it after a reboot, add the table to /etc/nftables.conf"],
    )


def _vip_step(target: Target, dev: str) -> Step:
    def apply(state: dict) -> str:
        added = state.setdefault("addresses", [])
        done = []
        for vip in target.vips:
            did = _address(dev, vip, True)
            if did:
                added.append([dev, vip])
                done.append(did)
        return "; ".join(done)

    def undo(state: dict) -> str:
        recorded = state.get("addresses")  # None: no record of --apply, remove them all
        done = []
        for vip in target.vips:
            if recorded is not None and [dev, vip] not in recorded:
                continue  # it was there before --apply: leave it
            did = _address(dev, vip, False)
            if did:
                done.append(did)
        return "; ".join(done)

    where = "lo (loopback)" if dev == "lo" else dev
    return Step(
        f"Accept packets for the virtual IPs: put them on {where} as /32 addresses",
        [f"ip addr add {vip}/32 dev {dev}" for vip in target.vips],
        apply,
        undo,
        [f"to keep it after a reboot, configure {vip}/32 on {dev} in the system's network "
         "configuration (e.g. ifcfg-lo:0 with IPADDR=" + vip + " NETMASK=255.255.255.255)"
         for vip in target.vips[:1]],
    )


def _nat_step(target: Target) -> Step:
    router = target.nat_router

    def apply(state: dict) -> str:
        if not router:
            raise Refused(f"{target.config_file}: network = nat but nat_router is not set", 2)
        with _ipr() as ipr:
            current = [r.get_attr("RTA_GATEWAY") for r in ipr.get_default_routes(family=2)]
            if current == [router]:
                return ""
            state["default_routes"] = current
            ipr.route("replace", dst="0.0.0.0/0", gateway=router)
        return f"default route now via {router} (was {', '.join(c for c in current if c) or 'none'})"

    def undo(state: dict) -> str:
        before = [g for g in state.get("default_routes", []) if g]
        with _ipr() as ipr:
            if before:
                ipr.route("replace", dst="0.0.0.0/0", gateway=before[0])
                return f"default route via {before[0]} again"
        return ""

    return Step(
        "Send replies back through the LVS router: default route via the floating NAT address "
        "(guide 3.1.2)",
        [f"ip route replace default via {router or '<nat_router: not set in lvs.cf>'}"],
        apply,
        undo,
        ["to keep it after a reboot, set GATEWAY=" + (router or "<nat_router>")
         + " in the configuration of the interface that comes up first (guide 3.1.2)"],
    )


def build_steps(target: Target, dev: str | None, arp: str) -> list[Step]:
    if target.network == "nat":
        return [_nat_step(target)]
    if target.network == "tunnel":
        from piranha.dataplane.kernel.tunnel import ipip_unavailable_reason

        def ipip(state: dict) -> str:
            why = ipip_unavailable_reason()
            if why:
                raise Refused(why, 1)
            return ""

        load = Step("Load IP-in-IP decapsulation (the ipip module)", ["modprobe ipip", "ip link set tunl0 up"], ipip)
        tunl = _vip_step(target, "tunl0")
        return [load, tunl, _sysctl_step([*_arp_settings("tunl0"), ("net.ipv4.conf.tunl0.rp_filter", "0")])]
    iface = dev or "<interface holding " + target.address + ">"
    steps = [_vip_step(target, "lo")]
    if arp == "nft":
        steps.append(_nft_arp_step(target))
    else:
        steps.append(_sysctl_step(_arp_settings(iface)))
    return steps


def _arp_settings(dev: str) -> list[tuple[str, str]]:
    return [
        ("net.ipv4.conf.all.arp_ignore", "1"),
        ("net.ipv4.conf.all.arp_announce", "2"),
        (f"net.ipv4.conf.{dev}.arp_ignore", "1"),
        (f"net.ipv4.conf.{dev}.arp_announce", "2"),
    ]


# -- output and state --------------------------------------------------------------


def describe(target: Target, steps: list[Step], arp: str) -> str:
    mode = {"nat": "NAT", "direct": "direct routing", "tunnel": "tunnelling"}[target.network]
    out = [
        f"Real server {target.name} ({target.address}) for {mode} (network = {target.network}), "
        f"from {target.config_file}",
        "Virtual services: " + ", ".join(target.services),
        "",
    ]
    for i, step in enumerate(steps, 1):
        out.append(f"{i}. {step.title}:")
        out += [f"     {cmd}" for cmd in step.commands]
    notes = [n for s in steps for n in s.notes]
    if notes:
        out.append("")
        out += [f"Note: {n}." for n in notes]
    if target.network == "direct" and arp != "nft":
        out.append("")
        out.append("Alternative to step 2 (the guide's arptables_jf rules; `--arp nft` does the same with nftables):")
        for vip in target.vips:
            out.append(f"     arptables -A IN -d {vip} -j DROP")
            out.append(f"     arptables -A OUT -s {vip} -j mangle --mangle-ip-s {target.address}")
    out.append("")
    out.append("`piranha realserver ... --apply` does these steps on this machine; `--undo` reverses them.")
    return "\n".join(out) + "\n"


def state_path() -> Path:
    from piranha.runtime.paths import run_dir

    return run_dir() / STATE_FILE


def load_state(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def save_state(path: Path, state: dict) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=1))
    os.replace(tmp, path)


# -- main -------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="piranha realserver",
        description="The real-server side of lvs.cf: print the steps, or do them (--apply) or undo them (--undo).",
    )
    p.add_argument("-c", "--configfile", metavar="FILE", help="lvs.cf (default: $PIRANHA_CONFIG or /etc/sysconfig/ha/lvs.cf)")
    p.add_argument("--server", required=True, metavar="NAME|ADDRESS", help="the real server: its name in lvs.cf or its address")
    p.add_argument("--virtual", metavar="NAME", help="only this virtual server (default: every active one using the server)")
    p.add_argument("--arp", choices=("sysctl", "nft"), default="sysctl", help="how to keep ARP quiet for direct routing (default: sysctl)")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--apply", action="store_true", help="perform the steps on this machine (root)")
    what.add_argument("--undo", action="store_true", help="reverse what --apply did (root)")
    return p


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    from piranha.config import ConfigError, load

    try:
        cfg = load(args.configfile)
    except OSError as exc:
        print(f"piranha realserver: cannot read {exc.filename or args.configfile}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    try:
        target = find_target(cfg, args.server, args.virtual)
        dev = local_interface(target.address) if target.network != "nat" else None
        if (args.apply or args.undo) and target.network != "nat" and dev is None:
            raise Refused(
                f"this machine has no interface with the address {target.address}: run --apply on the "
                f"real server {target.name} itself",
                1,
            )
        steps = build_steps(target, dev, args.arp)
        if not (args.apply or args.undo):
            sys.stdout.write(describe(target, steps, args.arp))
            return 0
        if os.geteuid() != 0:
            raise Refused("--apply and --undo change the network configuration: run them as root", 1)
        path = state_path()
        state = load_state(path)
        key = f"{target.address}|{target.network}|{args.arp}"
        mine = state.setdefault(key, {})
        ordered = steps if args.apply else list(reversed(steps))
        for step in ordered:
            action = step.apply if args.apply else step.undo
            if action is None:
                continue
            did = action(mine)
            print(f"{step.title}: {did or 'already done' if args.apply else did or 'nothing to undo'}")
        if args.undo:
            state.pop(key, None)
        save_state(path, state)
        return 0
    except Refused as exc:
        print(f"piranha realserver: {exc}", file=sys.stderr)
        return exc.code
