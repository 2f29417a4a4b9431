"""Schedulers as slot tables: which real server each nft lookup result means.

nftables cannot run a scheduler per connection; it can pick an entry of a
map by a counter (``numgen inc``) or by a hash (``jhash``).  So each
service's scheduler becomes a table of slots, computed here from the very
schedulers :mod:`piranha.table.schedulers` runs for the userspace data
plane (on a scratch copy of the service), and written into the kernel:

* **rr, wrr** — one full cycle of the kernel's choices, in order
  (``numgen inc mod L``): for wrr with weights A=4, B=3, C=2 the slots are
  A A B A B C A B C, the kernel's own interleaving.  Cycles longer than
  :data:`MAX_CYCLE` are computed from proportionally scaled weights.  With
  connection thresholds (``-x``/``-y``) they are re-weighted like the lc
  family below, so that a server's remaining capacity limits its share.
* **sh, dh** — the kernel's 256-bucket tables (``ip_vs_sh_reassign``, one
  bucket per destination in turn for dh), indexed by ``jhash`` of the
  client (sh) or destination (dh) address instead of the kernel's
  multiplicative hash, which nft cannot compute: the same share of buckets
  per server, not the same bucket for a given address as kernel IPVS.
  ``sh-fallback`` probes the buckets after ``2 × bucket`` as the kernel
  does; the probe result is precomputed per bucket.
* **mh** — the kernel's Maglev table (4093 slots, same permutations, same
  turns from the last non-zero weights), indexed by ``jhash`` with a fixed
  seed: two piranha directors choose the same server for a client (kernel
  IPVS, hashing with hsiphash, would choose differently).
  ``mh-fallback``: a second table built over the usable servers only.
* **lc, wlc, sed, nq, fo, ovf, twos** — re-weighting: from the connection
  counts (conntrack), the exact scheduler is run for the next ``horizon``
  decisions (the connections expected before the next re-weighting), with
  each server losing, spread over those decisions, as many connections as
  ended on it during the last interval; the share each server got becomes
  its share of :data:`DYNAMIC_SLOTS` slots, interleaved smoothly so that
  any run of slots has the right mix whatever position ``numgen`` has
  reached.
* **lblc, lblcr** — not offered: their per-destination-address caches
  with overload replacement cannot be kept honestly in nft maps.

A slot holds a destination, or ``None`` (no map element: the lookup fails
and the packet falls to the next rule — fallback or reject).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from math import gcd

from piranha.table.model import IPPROTO_UDP, Destination, Service, ip_to_int
from piranha.table.schedulers import create
from piranha.table.schedulers.base import has_flag, usable
from piranha.table.schedulers.mh import TAB_SIZE as MH_SIZE
from piranha.table.schedulers.mh import populate as maglev_populate
from piranha.table.schedulers.sh import TAB_SIZE as SH_BUCKETS
from piranha.table.schedulers.sh import deal_by_weight

MAX_CYCLE = 4096
DYNAMIC_SLOTS = 64  # re-weighted services: shares in 1/64ths, few elements to rewrite
FALLBACK_OFFSET = 1 << 15  # mh-fallback's table sits this far into the service's slot range

CYCLIC = frozenset({"rr", "wrr"})
DYNAMIC = frozenset({"lc", "wlc", "sed", "nq", "fo", "ovf", "twos"})
HASHED = frozenset({"sh", "dh", "mh"})
UNSUPPORTED = {
    "lblc": "locality-based least-connection keeps a per-destination-address cache that it "
    "re-decides per connection from live loads",
    "lblcr": "locality-based least-connection with replication keeps per-destination-address "
    "server sets that it re-decides per connection from live loads",
}


@dataclass(frozen=True, slots=True)
class SlotPlan:
    """How a service picks a slot, and what each slot holds."""

    selector: str  # "numgen" | "saddr" | "saddr-sport" | "daddr"
    modulus: int
    slots: tuple[Destination | None, ...]
    fallback: tuple[Destination | None, ...] = ()  # mh-fallback's second table
    dynamic: bool = False  # recomputed from connection counts


def unsupported_reason(svc: Service) -> str | None:
    why = UNSUPPORTED.get(svc.scheduler_name)
    if why is None:
        return None
    return (
        f"scheduler {svc.scheduler_name} cannot run in the nftables data plane ({why}); "
        "use dataplane = userspace (or ipvs where the kernel has it)"
    )


def needs_counts(svc: Service) -> bool:
    """True when the slots depend on connection counts (re-weighting)."""
    return svc.scheduler_name in DYNAMIC or any(d.u_threshold for d in svc.destinations)


Departures = dict[tuple[str, int], float]  # (address, port) -> connections ending per interval


def plan_slots(svc: Service, horizon: int = 0, departures: Departures | None = None) -> SlotPlan:
    """The slot table of ``svc``; ``horizon`` and ``departures`` for re-weighted services."""
    name = svc.scheduler_name
    if name in CYCLIC and not any(d.u_threshold for d in svc.destinations):
        cycle = _cycle(svc)
        return SlotPlan("numgen", max(1, len(cycle)), tuple(cycle) or (None,), dynamic=needs_counts(svc))
    if name in DYNAMIC or name in CYCLIC:  # (cyclic with thresholds: capacity changes the mix)
        return SlotPlan("numgen", DYNAMIC_SLOTS, tuple(_dynamic(svc, horizon, departures)), dynamic=True)
    if name == "sh":
        selector = "saddr-sport" if has_flag(svc, "sh-port", "flag-2") else "saddr"
        return SlotPlan(selector, SH_BUCKETS, tuple(_sh(svc)), dynamic=needs_counts(svc))
    if name == "dh":
        return SlotPlan("daddr", SH_BUCKETS, tuple(_dh(svc)), dynamic=needs_counts(svc))
    if name == "mh":
        selector = "saddr-sport" if has_flag(svc, "mh-port", "flag-2") else "saddr"
        table = maglev_populate(svc.destinations) if len(svc.destinations) <= MH_SIZE else [None] * MH_SIZE
        slots = tuple(d if d is not None and usable(d) else None for d in table)
        fallback: tuple[Destination | None, ...] = ()
        if has_flag(svc, "mh-fallback", "flag-1") and any(s is None for s in slots):
            live = [d for d in svc.destinations if usable(d)]
            fallback = tuple(maglev_populate(live)) if live else (None,) * MH_SIZE
        return SlotPlan(selector, MH_SIZE, slots, fallback, dynamic=needs_counts(svc))
    raise ValueError(unsupported_reason(svc) or f"unknown scheduler {name!r}")


# -- scratch copies of a service ------------------------------------------


def shadow(svc: Service, weights: list[int] | None = None, seed: int = 0) -> Service:
    """A copy of ``svc`` with its own scheduler, for simulating decisions."""
    copy = Service(
        svc.key,
        svc.scheduler_name,
        sched_flags=svc.sched_flags,
        persistent=svc.persistent,
        netmask=svc.netmask,
        rng=random.Random(seed),
    )
    for i, d in enumerate(svc.destinations):
        twin = Destination(
            d.address,
            d.port,
            weight=d.weight if weights is None else weights[i],
            forward=d.forward,
            u_threshold=d.u_threshold,
            l_threshold=d.l_threshold,
            activeconns=d.activeconns,
            inactconns=d.inactconns,
            overloaded=d.overloaded,
        )
        twin.last_weight = d.last_weight
        copy.destinations.append(twin)
    copy.scheduler = create(copy)
    return copy


def simulate(
    svc: Service,
    count: int,
    *,
    weights: list[int] | None = None,
    charge: bool = True,
    departures: Departures | None = None,
) -> list[Destination]:
    """The next ``count`` choices of the exact scheduler (fewer if it runs dry).

    With ``charge``, each chosen server is charged one connection — active
    for TCP (it will be established before long), inactive for UDP — and
    becomes overloaded when it reaches its upper threshold, as the kernel's
    bind would do.  Cyclic schedulers are laid out without charging: their
    cycle does not depend on loads, and the re-weighting refreshes the
    overload flags from the real counts.  ``departures`` spreads the
    connections expected to end meanwhile over the decisions (a server
    whose connections last longer keeps its load longer: that is what
    least-connection scheduling reacts to).
    """
    copy = shadow(svc, weights)
    index = {id(t): d for t, d in zip(copy.destinations, svc.destinations, strict=True)}
    sched = copy.scheduler
    assert sched is not None
    vaddr = ip_to_int(svc.key.address)
    udp = svc.key.protocol == IPPROTO_UDP
    out: list[Destination] = []
    leaving = []
    if departures and charge:
        for twin, dest in zip(copy.destinations, svc.destinations, strict=True):
            gone = departures.get((dest.address, dest.port), 0.0)
            if gone > 0:
                leaving.append((twin, gone))
    for step in range(count):
        for twin, gone in leaving:
            due = int(gone * (step + 1) / count) - int(gone * step / count)
            if due:
                take = min(due, twin.activeconns)
                if take:  # ended: inactive (TIME_WAIT) a while, as the kernel counts it
                    twin.activeconns -= take
                    twin.inactconns += take
                    sched.load_changed(copy, twin)
        pick = sched.schedule(copy, 0, 0, vaddr, svc.key.port, 0.0)
        if pick is None:
            break
        out.append(index[id(pick)])
        if not charge:
            continue
        if udp:
            pick.inactconns += 1
        else:
            pick.activeconns += 1
        if pick.u_threshold and pick.activeconns + pick.inactconns >= pick.u_threshold:
            pick.overloaded = True
        sched.load_changed(copy, pick)
    return out


# -- per scheduler ---------------------------------------------------------


def _cycle(svc: Service) -> list[Destination]:
    live = [d for d in svc.destinations if usable(d)]
    if not live:
        return []
    if svc.scheduler_name == "rr":
        return simulate(svc, len(live), charge=False)
    g = 0
    for d in live:
        g = gcd(g, d.weight)
    length = sum(d.weight // g for d in live)
    if length <= MAX_CYCLE:
        return simulate(svc, length, charge=False)
    # scale the weights so that one cycle fits, keeping every server at >= 1
    total = sum(d.weight for d in live)
    scaled = [
        max(1, d.weight * MAX_CYCLE // total) if usable(d) else 0 for d in svc.destinations
    ]
    g = 0
    for w in scaled:
        if w:
            g = gcd(g, w)
    return simulate(svc, sum(w // g for w in scaled if w), weights=scaled, charge=False)


def _dynamic(svc: Service, horizon: int, departures: Departures | None) -> list[Destination | None]:
    live = [d for d in svc.destinations if usable(d)]
    if not live:
        return [None] * DYNAMIC_SLOTS
    choices = simulate(svc, max(horizon, len(live), 1), departures=departures)
    if not choices:
        return [None] * DYNAMIC_SLOTS
    counts: dict[int, int] = {}
    for d in choices:
        counts[id(d)] = counts.get(id(d), 0) + 1
    order = [d for d in svc.destinations if id(d) in counts]
    return interleave([(d, counts[id(d)]) for d in order], DYNAMIC_SLOTS)


def interleave(shares: list[tuple[Destination, int]], size: int) -> list[Destination | None]:
    """``size`` slots split by ``shares`` (largest remainder), spread out evenly.

    Smooth weighted round robin: every prefix (and, cyclically, every run)
    of the result holds each server in about its share.
    """
    total = sum(n for _, n in shares)
    if total <= 0:
        return [None] * size
    quotas = [n * size // total for _, n in shares]
    rest = size - sum(quotas)
    by_remainder = sorted(
        range(len(shares)), key=lambda i: (-(shares[i][1] * size % total), i)
    )
    for i in by_remainder[:rest]:
        quotas[i] += 1
    current = [0] * len(shares)
    out: list[Destination | None] = []
    for _ in range(size):
        best = -1
        for i, q in enumerate(quotas):
            if q == 0:
                continue
            current[i] += q
            if best < 0 or current[i] > current[best]:
                best = i
        current[best] -= size
        out.append(shares[best][0])
    return out


def _sh(svc: Service) -> list[Destination | None]:
    table = deal_by_weight(svc.destinations)
    fallback = has_flag(svc, "sh-fallback", "flag-1")
    out: list[Destination | None] = []
    for bucket, dest in enumerate(table):
        if dest is not None and usable(dest):
            out.append(dest)
            continue
        chosen = None
        if fallback and dest is not None:
            # ip_vs_sh_get_fallback: offsets (bucket + k) added to the scaled key,
            # i.e. buckets 2*bucket + k
            for k in range(SH_BUCKETS):
                probe = table[(2 * bucket + k) % SH_BUCKETS]
                if probe is None:
                    break
                if usable(probe):
                    chosen = probe
                    break
        out.append(chosen)
    return out


def _dh(svc: Service) -> list[Destination | None]:
    dests = svc.destinations
    if not dests:
        return [None] * SH_BUCKETS
    table = [dests[i % len(dests)] for i in range(SH_BUCKETS)]
    return [d if usable(d) else None for d in table]
