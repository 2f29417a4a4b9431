"""Keeping the worker's copy of the table in step with lvsd's, and bringing results back.

``describe`` turns lvsd's table into plain data (what converge sends);
``apply`` edits the worker's table into the same shape through the same
table operations lvsd uses, so scheduler state (rr cursors, wrr rounds,
lblc caches), the trash and persistence templates evolve in the worker as
they would in lvsd's table: services that left are deleted, their
destinations flushed (``expire_nodest_conn``), changed parameters edited
in place, new destinations added at the head in the order that gives the
same list order as lvsd's.

``snapshot`` is what the worker sends back on refresh: per service and
destination the counters and connection counts, and the trash's counts;
:class:`Mirror` folds it into lvsd's table.  Connection entries are
fetched only when lvsd lists them (:class:`MirroredConnections`).
Counters travel as totals and are added to lvsd's table as differences,
so ``lvsadm -Z`` (which zeroes lvsd's side only) keeps working.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from piranha.table.connections import ConnectionTable
from piranha.table.model import (
    Connection,
    Destination,
    Forward,
    MarkMatch,
    Service,
    ServiceKey,
    Stats,
    VirtualTable,
)

KeyTuple = tuple[int, str, int, int]


def key_tuple(key: ServiceKey) -> KeyTuple:
    return (key.protocol, key.address, key.port, key.fwmark)


def _stats(stats: Stats) -> tuple[int, int, int, int, int]:
    return (stats.conns, stats.inpkts, stats.outpkts, stats.inbytes, stats.outbytes)


# -- lvsd -> worker ----------------------------------------------------------


def describe(table: VirtualTable) -> dict[str, Any]:
    services = []
    for svc in table.services.values():
        services.append(
            (
                key_tuple(svc.key),
                svc.scheduler_name,
                tuple(sorted(svc.sched_flags)),
                svc.persistent,
                svc.netmask,
                svc.ops,
                svc.pe_name,
                svc.name,
                tuple((m.protocol, m.address, m.port_lo, m.port_hi) for m in svc.match),
                svc.proxy_protocol,
                tuple(
                    (d.address, d.port, d.weight, d.forward.value, d.u_threshold, d.l_threshold)
                    for d in svc.destinations
                ),
            )
        )
    t = table.timeouts
    return {
        "timeouts": (t.tcp, t.tcpfin, t.udp),
        "expire_quiescent_template": table.expire_quiescent_template,
        "expire_nodest_conn": table.expire_nodest_conn,
        "services": services,
    }


def apply(table: VirtualTable, spec: dict[str, Any], now: float | None = None) -> None:
    """Edit ``table`` (the worker's) to match ``spec``."""
    now = time.monotonic() if now is None else now
    conns = table.connections
    assert conns is not None
    table.timeouts.tcp, table.timeouts.tcpfin, table.timeouts.udp = spec["timeouts"]
    table.expire_quiescent_template = spec["expire_quiescent_template"]
    table.expire_nodest_conn = spec["expire_nodest_conn"]
    wanted = {ServiceKey(*s[0]): s for s in spec["services"]}
    for key in [k for k in table.services if k not in wanted]:
        svc = table.services[key]
        table.delete_service(key)
        for dest in svc.destinations:
            conns.flush_dest(dest, now)
    for key, s in wanted.items():
        (_, scheduler, flags, persistent, netmask, ops, pe_name, name, match, proxy, dests) = s
        svc = table.services.get(key)
        if svc is None:
            svc = table.add_service(
                key, scheduler, persistent=persistent, netmask=netmask,
                sched_flags=frozenset(flags), ops=ops, pe_name=pe_name,
            )
        elif (svc.scheduler_name, tuple(sorted(svc.sched_flags)), svc.persistent,
              svc.netmask, svc.ops) != (scheduler, flags, persistent, netmask, ops):
            table.edit_service(
                key, scheduler if scheduler != svc.scheduler_name else None,
                persistent=persistent, netmask=netmask, sched_flags=frozenset(flags), ops=ops,
            )
        svc.name = name
        svc.match = tuple(MarkMatch(*m) for m in match)
        svc.proxy_protocol = proxy
        _apply_dests(table, svc, dests, now)
    if list(table.services) != list(wanted):  # lvsd's order (a service deleted and added again)
        table.services = {key: table.services[key] for key in wanted}


def _apply_dests(table: VirtualTable, svc: Service, dests: tuple, now: float) -> None:
    conns = table.connections
    assert conns is not None
    key = svc.key
    want = {(d[0], d[1]) for d in dests}
    for dest in [d for d in svc.destinations if (d.address, d.port) not in want]:
        gone = table.delete_dest(key, dest.address, dest.port)
        conns.flush_dest(gone, now)
    # new ones go to the head of the list, so add them last to first
    for address, port, weight, forward, upper, lower in reversed(dests):
        dest = svc.find(address, port)
        if dest is None:
            table.add_dest(
                key, address, port, weight=weight, forward=Forward(forward),
                u_threshold=upper, l_threshold=lower,
            )
        elif (dest.weight, dest.forward.value, dest.u_threshold, dest.l_threshold) != (
            weight, forward, upper, lower,
        ):
            table.edit_dest(
                key, address, port, weight=weight, forward=Forward(forward),
                u_threshold=upper, l_threshold=lower,
            )
    order = [(d[0], d[1]) for d in dests]
    if [(d.address, d.port) for d in svc.destinations] != order:
        # lvsd's list was built by a history we did not see (e.g. a removal
        # and re-add between two converges): take its order
        position = {pair: i for i, pair in enumerate(order)}
        svc.destinations.sort(key=lambda d: position[(d.address, d.port)])
        if svc.scheduler is not None:
            svc.scheduler.update(svc)


# -- worker -> lvsd ----------------------------------------------------------


def _counts(dest: Destination) -> tuple[int, int, int, bool]:
    return (dest.activeconns, dest.inactconns, dest.persistconns, dest.overloaded)


def snapshot(table: VirtualTable, counters: dict[str, int]) -> dict[str, Any]:
    conns = table.connections
    assert conns is not None
    services = {}
    for svc in table.services.values():
        # id() tells lvsd when an object was replaced (its counters start over)
        services[key_tuple(svc.key)] = (
            id(svc),
            _stats(svc.stats),
            {(d.address, d.port): (id(d), _counts(d), _stats(d.stats)) for d in svc.destinations},
        )
    trash = {
        (key_tuple(k), address, port): _counts(entry.dest)
        for (k, address, port), entry in table.trash.items()
    }
    return {"services": services, "trash": trash, "counters": counters}


def entry_tuple(c: Connection) -> tuple:
    """One connection entry as plain data (what ``lvsadm -L -c`` needs of it)."""
    return (
        c.protocol, c.caddr, c.cport, c.vaddr, c.vport, c.daddr, c.dport, c.state,
        c.expires, c.timeout, c.template, c.inactive, c.pe_name, c.pe_data,
        key_tuple(c.service.key) if c.service is not None else None,
    )


class MirroredConnections(ConnectionTable):
    """lvsd's view of the worker's connection table.

    The entries are fetched from the worker when somebody asks
    (``lvsadm -L -c``, the GUI) rather than copied at every refresh: tens of
    thousands of entries would stall both processes every few seconds for
    a list that is rarely read.  ``fetch`` is a blocking round trip to the
    worker (bounded by a timeout; the answer is reused for half a second).
    It never schedules (the worker does); ``expire`` only purges lvsd's
    trash; ``flush_dest`` returns nothing because the worker flushes its own
    entries when converge deletes the destination.
    """

    REUSE = 0.5  # seconds an answer is good for

    def __init__(
        self, table: VirtualTable, fetch: Callable[[], list[tuple] | None] | None = None
    ) -> None:
        super().__init__(table)
        self.fetch = fetch
        self._raw: list[tuple] = []
        self._built: list[Connection] | None = []
        self._fetched_at = -1e9

    def replace(self, raw: list[tuple]) -> None:
        self._raw = raw
        self._built = None
        self._fetched_at = time.monotonic()

    def entries(self) -> list[Connection]:
        if self.fetch is not None and time.monotonic() - self._fetched_at > self.REUSE:
            raw = self.fetch()
            if raw is not None:
                self.replace(raw)
        if self._built is None:
            self._built = [self._build(r) for r in self._raw]
        return list(self._built)

    def __len__(self) -> int:
        return len(self.entries())

    def _build(self, r: tuple) -> Connection:
        (protocol, caddr, cport, vaddr, vport, daddr, dport, state, expires, timeout,
         template, inactive, pe_name, pe_data, skey) = r
        svc = self.table.services.get(ServiceKey(*skey)) if skey is not None else None
        dest = svc.find(daddr, dport) if svc is not None else None
        return Connection(
            protocol=protocol, caddr=caddr, cport=cport, vaddr=vaddr, vport=vport,
            daddr=daddr, dport=dport, state=state, expires=expires, timeout=timeout,
            service=svc, dest=dest, template=template, inactive=inactive,
            pe_name=pe_name, pe_data=pe_data,
        )

    def lookup(self, protocol: int, caddr: str, cport: int, vaddr: str, vport: int) -> Connection | None:
        for conn in self.entries():
            if not conn.template and (conn.protocol, conn.caddr, conn.cport, conn.vaddr,
                                      conn.vport) == (protocol, caddr, cport, vaddr, vport):
                return conn
        return None

    def schedule(self, *args: Any, **kwargs: Any) -> Connection | None:
        raise RuntimeError("the userspace data plane's worker process schedules connections")

    def flush_dest(self, dest: Destination, now: float) -> list[Connection]:
        return []

    def expire(self, now: float) -> list[Connection]:
        self.table.purge_trash(now)
        return []


class Mirror:
    """Folds worker snapshots into lvsd's table."""

    def __init__(
        self, table: VirtualTable, fetch: Callable[[], list[tuple] | None] | None = None
    ) -> None:
        self.table = table
        self.connections = MirroredConnections(table, fetch)
        self._last: dict[tuple, tuple[int, ...]] = {}

    def install(self) -> None:
        self.table.connections = self.connections

    def apply(self, snap: dict[str, Any]) -> None:
        services = snap["services"]
        last: dict[tuple, tuple[int, ...]] = {}
        for svc in self.table.services.values():
            skey = key_tuple(svc.key)
            theirs = services.get(skey)
            if theirs is None:
                continue  # not converged yet
            generation, svc_stats, dests = theirs
            self._add(svc.stats, (skey, generation), svc_stats, last)
            for dest in svc.destinations:
                got = dests.get((dest.address, dest.port))
                if got is None:
                    continue
                generation, counts, stats = got
                _set_counts(dest, counts)
                self._add(dest.stats, (skey, dest.address, dest.port, generation), stats, last)
        trash = snap["trash"]
        for (key, address, port), entry in self.table.trash.items():
            counts = trash.get((key_tuple(key), address, port))
            if counts is not None:
                _set_counts(entry.dest, counts)
        self._last = last

    def _add(self, stats: Stats, name: tuple, now: tuple[int, ...], last: dict) -> None:
        before = self._last.get(name)
        if before is None or any(n < b for n, b in zip(now, before, strict=True)):
            before = (0, 0, 0, 0, 0)  # first sight, or the worker's counters restarted
        stats.conns += now[0] - before[0]
        stats.inpkts += now[1] - before[1]
        stats.outpkts += now[2] - before[2]
        stats.inbytes += now[3] - before[3]
        stats.outbytes += now[4] - before[4]
        last[name] = now


def _set_counts(dest: Destination, counts: tuple[int, int, int, bool]) -> None:
    dest.activeconns, dest.inactconns, dest.persistconns, dest.overloaded = counts
