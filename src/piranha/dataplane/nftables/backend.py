"""The nftables data plane: lvsd's virtual server table carried by the kernel.

``refresh`` brings counters (as growth since the last read), connection
counts, overload flags and the connection listing into the table; the
rate estimator is lvsd's (it ticks ``tick_table`` every 2 s).

See :mod:`.plan` for the rules, :mod:`.slots` for how each scheduler
becomes a slot table, :mod:`.apply` for how a change reaches the kernel
atomically, :mod:`.readback` for counters and connections, and
docs/dataplane-nftables.md for the operator's view.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import time
from dataclasses import dataclass

from piranha.dataplane.base import Backend, BackendError, BackendOptions
from piranha.dataplane.kernel import conntrack, netinfo, sysctl
from piranha.dataplane.kernel import nftvalues as v
from piranha.dataplane.kernel.libnft import NftError, NftUnavailable, open_nft
from piranha.dataplane.kernel.mirror import KernelConnections
from piranha.dataplane.kernel.netinfo import Route
from piranha.dataplane.kernel.nfnetlink import Element, ElementChange, NetlinkError, NfTablesSocket
from piranha.table.model import Destination, Forward, Service, ServiceKey, VirtualTable

from . import readback
from .apply import Applier, ApplyError
from .numbering import Numbering
from .plan import (
    DEFAULT_FLOW_TABLE_SIZE,
    DR,
    NAT,
    TABLE,
    Context,
    Desired,
    ServicePlan,
    plan_table,
    service_family,
)
from .slots import needs_counts

REBALANCE_INTERVAL = 0.3  # seconds between re-weightings of the lc family
# a listing may reuse the re-weighting's snapshot this young (lvsd's own FRESH_ENOUGH):
# older, and connections made since (a whole quick test run) would be missing
SNAPSHOT_REUSE = 0.05
HORIZON_MARGIN = 1.0  # plan for the connections expected per interval (bench kernel measured 1.0 best)


@dataclass(slots=True)
class _Removed:
    family: str
    dest: Destination
    service: ServiceKey


class NftablesBackend(Backend):
    name = "nftables"

    @classmethod
    def unavailable_reason(cls) -> str | None:
        if os.geteuid() != 0:
            return "needs root (CAP_NET_ADMIN) to program nftables"
        try:
            nft = open_nft()
        except NftUnavailable as exc:
            return str(exc)
        try:
            nft.run("list tables")
        except NftError as exc:
            return f"the kernel refused nftables: {exc}"
        finally:
            nft.close()
        return None

    def __init__(
        self,
        table: VirtualTable,
        options: BackendOptions | None = None,
        *,
        log=None,
    ) -> None:
        super().__init__(table, options, log=log)
        extra = self.options.extra
        self.rebalance_interval = float(extra.get("rebalance_interval", REBALANCE_INTERVAL))
        self.flow_table_size = int(extra.get("flow_table_size", DEFAULT_FLOW_TABLE_SIZE))
        self.numbering = Numbering()
        self.mirror = KernelConnections(table)
        self._nft = None
        self._sock: NfTablesSocket | None = None
        self._applier: Applier | None = None
        self._plans: dict[ServiceKey, ServicePlan] = {}
        self._plan_cache: dict[ServiceKey, tuple[tuple, ServicePlan]] = {}
        self._lingering: dict[int, Destination] = {}
        self._routes: dict[str, Route | None] = {}
        self._ingress: list[str] = []
        self._seen: dict[readback.CounterKey, tuple[int, int]] = {}
        self._conn_rate: dict[ServiceKey, float] = {}
        self._departures: dict[ServiceKey, dict[tuple[str, int], float]] = {}
        self._rate_clock: float | None = None
        self._last_conns: dict[ServiceKey, int] = {}
        self._last_snapshot: tuple[float, readback.Snapshot | None] = (0.0, None)
        self._lock = asyncio.Lock()
        self._task: asyncio.Task | None = None
        self._warned_forwarding = False
        self._warned_slow = False
        self.last_apply_seconds = 0.0  # how long the last converge's kernel steps took
        self.last_steps: dict[str, float] = {}  # ... each: structure, switch, cleanup; and planning

    # -- lifecycle ----------------------------------------------------------

    async def start(self) -> None:
        try:
            self._nft = open_nft()
            self._sock = NfTablesSocket()
        except (NftUnavailable, OSError) as exc:
            raise RuntimeError(f"cannot open nftables: {exc}") from exc
        self._applier = Applier(self._nft, self._sock, self.log)
        found = await asyncio.to_thread(self._applier.reset)
        if found:
            self.log.info(
                "removed the nftables table%s %s left by a previous run",
                "s" if len(found) > 1 else "",
                ", ".join(f"{fam} {TABLE}" for fam in found),
            )
        self.table.connections = self.mirror
        self._task = asyncio.create_task(self._rebalance_loop(), name="nftables-rebalance")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        async with self._lock:
            if self._applier is not None:
                try:
                    await asyncio.to_thread(self._applier.remove_all)
                except NftError as exc:
                    self.log.warning("could not remove the nftables tables: %s", exc)
            self._plans.clear()
            if self._sock is not None:
                self._sock.close()
                self._sock = None
            if self._nft is not None:
                self._nft.close()
                self._nft = None

    def describe(self) -> str:
        kind = getattr(self._nft, "kind", "nft")
        return f"nftables ({kind}, table ip/netdev {TABLE})"

    # -- converge -------------------------------------------------------------

    async def converge(self) -> None:
        async with self._lock:
            await self._converge(None)

    async def _converge(self, only: set[ServiceKey] | None) -> None:
        if self._applier is None:
            raise RuntimeError("converge before start")
        services = list(self.table.services.values())
        await self._network_facts(services, refresh_routes=only is None)
        ctx = self._context()
        planning = time.perf_counter()
        desired = plan_table(services, ctx, only=only)
        removed = self._removed(desired)
        if not self.table.expire_nodest_conn:
            for mark, gone in removed.items():
                if gone.family == DR:
                    self._lingering[mark] = gone.dest
            if any(r.family == DR for r in removed.values()):
                ctx.lingering = dict(self._lingering)
                desired = plan_table(services, ctx, only=only)
        if removed:
            # the last traffic of servers about to go still counts
            await self._read_counters()
        started = time.perf_counter()
        try:
            await asyncio.to_thread(self._applier.apply, desired)
        except ApplyError as exc:
            changed = self._changed(desired) or set(desired.services)
            raise BackendError({key: str(exc) for key in changed}) from exc
        self.last_apply_seconds = time.perf_counter() - started
        self.last_steps = {"plan": started - planning, **self._applier.steps}
        if removed or desired.services.keys() != self._plans.keys():
            self._last_snapshot = (0.0, None)  # read under other services: not this table's
        self._plans = dict(desired.services)
        for key in [k for k in self._plan_cache if k not in self._plans]:
            del self._plan_cache[key]
        self._lingering = {m: d for m, d in self._lingering.items() if m in desired.lingering}
        if removed:
            await self._close_removed(removed)
        await self._housekeep_templates()
        if only is None:
            self._check_forwarding(desired)
        if desired.failed:
            raise BackendError(dict(desired.failed))

    def _context(self) -> Context:
        horizons = {}
        for key, rate in self._conn_rate.items():
            horizons[key] = math.ceil(rate * self.rebalance_interval * HORIZON_MARGIN)
        return Context(
            numbering=self.numbering,
            timeouts=self.table.timeouts,
            dr_ingress=list(self._ingress),
            routes=dict(self._routes),
            horizons=horizons,
            departures=dict(self._departures),
            lingering=dict(self._lingering),
            expire_quiescent_template=self.table.expire_quiescent_template,
            flow_table_size=self.flow_table_size,
            previous=dict(self._plans),
            cache=self._plan_cache,
        )

    def _removed(self, desired: Desired) -> dict[int, _Removed]:
        now_marks = {m for p in desired.services.values() for m in p.marks}
        out: dict[int, _Removed] = {}
        for key, plan in self._plans.items():
            for mark, dest in plan.marks.items():
                if mark not in now_marks:
                    out[mark] = _Removed(plan.family, dest, key)
        return out

    def _changed(self, desired: Desired) -> set[ServiceKey]:
        changed = set()
        for key, plan in desired.services.items():
            old = self._plans.get(key)
            if old is None or old.elements != plan.elements or old.objects != plan.objects:
                changed.add(key)
        return changed

    async def _close_removed(self, removed: dict[int, _Removed]) -> None:
        """Connections of removed real servers: UDP always goes, TCP with expire_nodest_conn.

        UDP has no end, so a chatty client would keep reaching a dead server
        until its entry idles out (peers.md (d) 8); its next datagram is
        scheduled afresh instead.
        """
        everything = self.table.expire_nodest_conn
        nat = {m for m, r in removed.items() if r.family == NAT}
        if nat:
            def drop() -> int:
                entries = conntrack.read_entries()
                doomed = [e for e in entries if e.mark in nat and (everything or e.protocol == "udp")]
                return conntrack.delete_tuples(doomed)

            try:
                await asyncio.to_thread(drop)
            except OSError as exc:
                self.log.warning("could not drop the conntrack entries of removed real servers: %s", exc)
        dr = {m for m, r in removed.items() if r.family == DR}
        if dr and self._sock is not None:
            sets = ["flows_udp", "flows_tcp"] if everything else ["flows_udp"]
            await asyncio.to_thread(self._drop_flows, dr, sets)

    def _drop_flows(self, marks: set[int], sets: list[str]) -> None:
        assert self._sock is not None
        changes = []
        for name in sets:
            try:
                flows = self._sock.dump(DR, TABLE, name)
            except NetlinkError:
                continue
            gone = [Element(el.key) for el in flows if el.data is not None and v.read_u32(el.data) in marks]
            changes.append(ElementChange("destroy", DR, TABLE, name, gone))
        try:
            self._sock.apply(changes)
        except NetlinkError as exc:
            self.log.warning("could not drop the flows of removed real servers: %s", exc)

    async def _housekeep_templates(self) -> None:
        """Drop persistence entries that point where they may no longer send (peers.md (c)).

        The rules already reschedule such clients; removing the entry lets
        the new choice stick again.
        """
        if self._sock is None:
            return
        jobs = []
        for plan in self._plans.values():
            if plan.persist_map is None:
                continue
            valid = {
                mark
                for mark, dest in plan.marks.items()
                if dest.weight > 0 or not self.table.expire_quiescent_template
            }
            jobs.append((plan.family, plan.persist_map, valid))
        if jobs:
            await asyncio.to_thread(self._drop_templates, jobs)

    def _drop_templates(self, jobs: list[tuple[str, str, set[int]]]) -> None:
        assert self._sock is not None
        changes = []
        for family, name, valid in jobs:
            try:
                entries = self._sock.dump(family, TABLE, name)
            except NetlinkError:
                continue
            stale = [Element(el.key) for el in entries if el.data is not None and v.read_u32(el.data) not in valid]
            changes.append(ElementChange("destroy", family, TABLE, name, stale))
        with contextlib.suppress(NetlinkError):
            self._sock.apply(changes)

    # -- network facts for direct routing ---------------------------------------

    async def _network_facts(self, services: list[Service], *, refresh_routes: bool) -> None:
        dr = [s for s in services if service_family(s) == DR]
        if not dr and not self._lingering:
            self._ingress = []
            return
        wanted = {d.address for s in dr for d in s.destinations if d.forward is Forward.ROUTE}
        wanted |= {d.address for d in self._lingering.values()}
        vips = {s.key.address for s in dr if not s.key.is_fwmark}
        vips |= {m.address for s in dr for m in s.match if m.address != "0.0.0.0"}
        missing = wanted if refresh_routes else wanted - set(self._routes)
        routes, ingress = await asyncio.to_thread(_look_up, sorted(missing), vips)
        self._routes.update(routes)
        self._ingress = ingress

    async def _ingress_changed(self) -> bool:
        services = [s for s in self.table.services.values() if service_family(s) == DR]
        if not services:
            return False
        vips = {s.key.address for s in services if not s.key.is_fwmark}
        vips |= {m.address for s in services for m in s.match if m.address != "0.0.0.0"}
        _routes, ingress = await asyncio.to_thread(_look_up, [], vips)
        return ingress != self._ingress

    def _check_forwarding(self, desired: Desired) -> None:
        if not any(p.family == NAT and p.marks for p in desired.services.values()):
            return
        try:
            forwarding = sysctl.get("net.ipv4.ip_forward") == "1"
        except OSError:
            return
        if not forwarding and not self._warned_forwarding:
            self._warned_forwarding = True
            self.log.warning(
                "net.ipv4.ip_forward is 0: NAT traffic will not reach the real servers; "
                "set it to 1 (guide section 2.5: sysctl -w net.ipv4.ip_forward=1)"
            )

    # -- refresh ------------------------------------------------------------

    async def refresh(self, now: float) -> None:
        async with self._lock:
            if self._applier is None:
                return
            await self._read_counters()
            snap = await self._fresh_snapshot(now)
            self._apply_counts(snap)
            self.mirror.replace(snap.connections, snap.pending)
            stale = [m for m in self._lingering if m not in snap.flow_marks]
            for mark in stale:
                del self._lingering[mark]
            if stale or await self._ingress_changed():
                try:
                    await self._converge(set())
                except BackendError as exc:
                    self.log.warning("%s", exc)

    async def _read_counters(self) -> None:
        if self._sock is None:
            return
        families = {p.family for p in self._plans.values()} | ({DR} if self._lingering else set())
        if not families:
            return
        try:
            counters = await asyncio.to_thread(readback.read_counters, self._sock, families)
        except NetlinkError as exc:
            self.log.warning("could not read the nftables counters: %s", exc)
            return
        self._account(counters)

    def _account(self, counters: dict[readback.CounterKey, tuple[int, int]]) -> None:
        seen = self._seen
        for ckey, (packets, nbytes) in counters.items():
            before = seen.get(ckey, (0, 0))
            if packets < before[0] or nbytes < before[1]:
                before = (0, 0)  # the element was created again
            seen[ckey] = (packets, nbytes)
            dp, db = packets - before[0], nbytes - before[1]
            if not (dp or db):
                continue
            found = self._resolve(ckey[2], live_only=True)
            if found is None:
                continue
            svc, dest = found
            kind = ckey[1]
            for stats in (dest.stats, svc.stats):
                if kind == "cnt_conn":
                    stats.conns += dp
                elif kind == "cnt_in":
                    stats.inpkts += dp
                    stats.inbytes += db
                else:
                    stats.outpkts += dp
                    stats.outbytes += db
        for ckey in [k for k in seen if k not in counters]:
            del seen[ckey]

    def _resolve(self, mark: int, *, live_only: bool = False) -> tuple[Service, Destination] | None:
        owner = self.numbering.owner(mark)
        if owner is None:
            return None
        key, address, port = owner
        svc = self.table.services.get(key)
        if svc is not None:
            dest = svc.find(address, port)
            if dest is not None:
                return svc, dest
        if live_only:
            return None
        trashed = self.table.trash.get((key, address, port))
        if trashed is not None:
            return trashed.service, trashed.dest
        dest = self._lingering.get(mark)
        if dest is not None and svc is not None:
            return svc, dest
        return None

    async def _fresh_snapshot(self, now: float) -> readback.Snapshot:
        """The re-weighting's snapshot if it is younger than SNAPSHOT_REUSE, else a new one."""
        taken, snap = self._last_snapshot
        if snap is not None and time.monotonic() - taken < min(SNAPSHOT_REUSE, self.rebalance_interval):
            return snap
        return await self._snapshot(now)

    async def _snapshot(self, now: float) -> readback.Snapshot:
        snap = await self._read_snapshot(now)
        self._last_snapshot = (time.monotonic(), snap)
        return snap

    async def _read_snapshot(self, now: float) -> readback.Snapshot:
        snap = readback.Snapshot([], {}, set())
        families = {p.family for p in self._plans.values()}
        if NAT in families:
            try:
                lines = await asyncio.to_thread(conntrack.read_lines)
            except OSError as exc:
                self.log.warning("%s", exc)
                lines = []
            readback.from_conntrack_lines(lines, self._resolve, now, snap)
        sock = self._sock
        if sock is None:
            return snap
        if DR in families or self._lingering:
            try:
                tcp, udp, closing = await asyncio.to_thread(
                    lambda: (sock.dump(DR, TABLE, "flows_tcp"), sock.dump(DR, TABLE, "flows_udp"), sock.dump(DR, TABLE, "closing"))
                )
            except NetlinkError as exc:
                self.log.warning("could not read the direct-routing flows: %s", exc)
            else:
                readback.from_flows(tcp, udp, closing, self._resolve, now, snap)
        for plan in list(self._plans.values()):
            svc = self.table.services.get(plan.key)
            if plan.persist_map is None or svc is None:
                continue
            try:
                elements = await asyncio.to_thread(sock.dump, plan.family, TABLE, plan.persist_map)
            except NetlinkError:
                continue
            readback.from_templates(svc, elements, self._resolve, now, snap)
        return snap

    def _apply_counts(self, snap: readback.Snapshot) -> None:
        """Connection counts into the table, and the overload flags they imply."""
        owners: list[tuple[Service, Destination]] = [
            (svc, d) for svc in self.table.services.values() for d in svc.destinations
        ]
        owners += [(t.service, t.dest) for t in self.table.trash.values()]
        by_dest = {}
        for svc, dest in owners:
            mark = self.numbering.mark(svc.key, dest.address, dest.port)
            by_dest[id(dest)] = snap.counts.get(mark, [0, 0, 0])
        for svc, dest in owners:
            active, inactive, persistent = by_dest[id(dest)]
            changed = (dest.activeconns, dest.inactconns) != (active, inactive)
            dest.activeconns, dest.inactconns, dest.persistconns = active, inactive, persistent
            total = active + inactive
            was = dest.overloaded
            if dest.u_threshold and total >= dest.u_threshold:
                dest.overloaded = True
            elif dest.overloaded:
                if dest.l_threshold:
                    dest.overloaded = total >= dest.l_threshold
                elif dest.u_threshold:
                    dest.overloaded = total * 4 >= dest.u_threshold * 3
                else:
                    dest.overloaded = False
            if (changed or was != dest.overloaded) and svc.scheduler is not None and dest.available:
                svc.scheduler.load_changed(svc, dest)

    # -- re-weighting (lc, wlc, sed, nq, fo, ovf, twos, thresholds) --------------

    async def _rebalance_loop(self) -> None:
        failures = 0
        pause = self.rebalance_interval
        while True:
            await asyncio.sleep(pause)
            try:
                started = time.perf_counter()
                async with self._lock:
                    await self._rebalance()
                spent = time.perf_counter() - started
                # reading a large conntrack table is not free: stay under ~5 % of a core
                pause = max(self.rebalance_interval, spent * 20)
                if pause > self.rebalance_interval * 3 and not self._warned_slow:
                    self._warned_slow = True
                    self.log.warning(
                        "re-weighting from connection counts takes %.0f ms (a large conntrack "
                        "table): now every %.1f s instead of %.1f s",
                        spent * 1000, pause, self.rebalance_interval,
                    )
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # keep re-weighting whatever one round hit
                failures += 1
                if failures in (1, 10) or failures % 100 == 0:
                    self.log.warning("re-weighting from connection counts failed: %s", exc)

    async def _rebalance(self) -> None:
        dynamic = {
            key
            for key, svc in self.table.services.items()
            if key in self._plans and needs_counts(svc)
        }
        if not dynamic or self._applier is None:
            return
        now = time.monotonic()
        dests = [(key, d) for key in dynamic for d in self.table.services[key].destinations]
        before = {id(d): (d.activeconns, d.stats.conns) for _, d in dests}
        await self._read_counters()
        self._measure_rates(dynamic, now)
        snap = await self._snapshot(now)
        self._apply_counts(snap)
        self.mirror.replace(snap.connections, snap.pending)
        # connections that ended on each server meanwhile: the look-ahead lets
        # as many end again before the next re-weighting
        departures: dict[ServiceKey, dict[tuple[str, int], float]] = {}
        for key, d in dests:
            active, conns = before[id(d)]
            ended = active + max(d.stats.conns - conns, 0) - d.activeconns
            if ended > 0:
                departures.setdefault(key, {})[d.key] = float(ended)
        self._departures = departures
        await self._converge(dynamic)

    def _measure_rates(self, keys: set[ServiceKey], now: float) -> None:
        """Connections per second per service, smoothed: how far ahead to plan."""
        if self._rate_clock is None:
            self._rate_clock = now
            self._last_conns = {k: self.table.services[k].stats.conns for k in keys}
            return
        elapsed = max(now - self._rate_clock, 1e-3)
        self._rate_clock = now
        for key in keys:
            conns = self.table.services[key].stats.conns
            before = self._last_conns.get(key, conns)
            self._last_conns[key] = conns
            rate = max(conns - before, 0) / elapsed
            old = self._conn_rate.get(key, rate)
            self._conn_rate[key] = 0.5 * old + 0.5 * rate

    # -- diagnostics -----------------------------------------------------------------

    def plans(self) -> dict[ServiceKey, ServicePlan]:
        """What is programmed, per service (its family, slots, marks, objects)."""
        return dict(self._plans)


def _look_up(addresses: list[str], vips: set[str]) -> tuple[dict[str, Route | None], list[str]]:
    """Routes to real servers, and the interfaces that receive the virtual IPs."""
    routes = {a: netinfo.route_to(a) for a in addresses}
    held = netinfo.interface_addresses()
    ingress = sorted(dev for dev, addrs in held.items() if vips & set(addrs) and dev != "lo")
    if vips - {a for addrs in held.values() for a in addrs}:
        # a virtual IP is not up yet (pulse raises it): listen on every interface
        ingress = sorted(set(ingress) | set(netinfo.up_interfaces()))
    return routes, ingress
