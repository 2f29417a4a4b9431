"""Invariants over random sequences of table and connection events (hypothesis).

* the heap-indexed lc/wlc/sed/nq/fo/ovf choose exactly what the kernel scans
  choose, also while switching between scanning and heaps as the service
  grows and shrinks;
* counts never go negative; ActiveConn + InActConn of a destination equal its
  live connections, ActiveConn those in ESTABLISHED, persistconns its
  templates; a template's n_control equals the connections it controls;
* a template never expires while it controls a connection.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from piranha.table.model import TableError, VirtualTable
from piranha.table.schedulers import NAMES, SCAN_VARIANTS, create

from .helpers import KEY, VIP, addr

DESTS = range(1, 7)

ops = st.lists(
    st.one_of(
        st.tuples(st.just("connect"), st.integers(0, 40)),
        st.tuples(st.just("state"), st.integers(0, 50),
                  st.sampled_from(["ESTABLISHED", "FIN_WAIT", "CLOSE", "TIME_WAIT"])),
        st.tuples(st.just("close"), st.integers(0, 50)),
        st.tuples(st.just("advance"), st.sampled_from([1.0, 15.0, 61.0, 200.0, 1000.0])),
        st.tuples(st.just("weight"), st.sampled_from(DESTS), st.integers(0, 5)),
        st.tuples(st.just("thresholds"), st.sampled_from(DESTS), st.integers(0, 4),
                  st.integers(0, 4)),
        st.tuples(st.just("add"), st.sampled_from(DESTS), st.integers(0, 5)),
        st.tuples(st.just("delete"), st.sampled_from(DESTS)),
    ),
    max_size=70,
)


class World:
    """One table driven by the operations, with its own clock."""

    def __init__(self, scheduler: str, scan: bool, persistent: int, quiescent: bool,
                 nodest: bool, scan_below: int | None = None) -> None:
        self.table = VirtualTable()
        self.table.expire_quiescent_template = quiescent
        self.table.expire_nodest_conn = nodest
        self.svc = self.table.add_service(KEY, scheduler, persistent=persistent,
                                          netmask="255.255.255.252")
        self.svc.rng.seed(1)
        if scan:
            self.svc.scheduler = create(self.svc, scan=True)
        elif scan_below is not None:
            self.svc.scheduler.SCAN_BELOW = scan_below  # heaps from this many dests
            self.svc.scheduler.update(self.svc)
        self.now = 0.0
        for n in (3, 2, 1):
            self.table.add_dest(KEY, addr(n), 80, weight=1)

    @property
    def ct(self):
        return self.table.connections

    def live(self):
        return [c for c in self.ct.entries() if not c.template]

    def apply(self, op) -> object:
        """Run one operation; returns what a comparison should look at."""
        kind = op[0]
        if kind == "connect":
            conn = self.ct.schedule(self.svc, 6, f"192.0.2.{op[1]}", 1000 + op[1], VIP, 80,
                                    self.now)
            return None if conn is None else conn.daddr
        if kind in ("state", "close"):
            live = self.live()
            if not live:
                return None
            conn = live[op[1] % len(live)]
            if kind == "state":
                self.ct.set_state(conn, op[2], self.now)
            else:
                self.ct.remove(conn)
            return None
        if kind == "advance":
            self.now += op[1]
            expired = self.ct.expire(self.now)
            remaining = self.ct.entries()
            for gone in expired:
                assert not any(c.controller is gone for c in remaining), "template left early"
            return sorted((c.caddr, c.cport, c.template) for c in expired)
        try:
            if kind == "weight":
                self.table.edit_dest(KEY, addr(op[1]), 80, weight=op[2])
            elif kind == "thresholds":
                u, lower = max(op[2], op[3]), min(op[2], op[3])
                self.table.edit_dest(KEY, addr(op[1]), 80, u_threshold=u, l_threshold=lower)
            elif kind == "add":
                self.table.add_dest(KEY, addr(op[1]), 80, weight=op[2])
            elif kind == "delete":
                dest = self.table.delete_dest(KEY, addr(op[1]), 80)
                return sorted((c.caddr, c.cport) for c in self.ct.flush_dest(dest, self.now))
        except TableError as err:
            return str(err)
        return None

    def check(self) -> None:
        entries = self.ct.entries()
        dests = list(self.svc.destinations) + [t.dest for t in self.table.trash.values()]
        for dest in dests:
            mine = [c for c in entries if c.dest is dest]
            conns = [c for c in mine if not c.template]
            assert dest.activeconns >= 0 and dest.inactconns >= 0 and dest.persistconns >= 0
            assert dest.activeconns + dest.inactconns == len(conns)
            assert dest.activeconns == sum(1 for c in conns if not c.inactive)
            assert all(c.inactive == (c.state != "ESTABLISHED") for c in conns)
            assert dest.persistconns == len(mine) - len(conns)
            if dest.u_threshold == 0:
                assert not dest.overloaded
        for tpl in (c for c in entries if c.template):
            assert tpl.n_control == sum(1 for c in entries if c.controller is tpl)
            assert tpl.n_control >= 0


FAST = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(
    scheduler=st.sampled_from(sorted(SCAN_VARIANTS)),
    scan_below=st.sampled_from([0, 3, 4]),
    persistent=st.sampled_from([0, 0, 30]),
    quiescent=st.booleans(),
    nodest=st.booleans(),
    sequence=ops,
)
def test_heap_chooses_exactly_as_the_kernel_scan(scheduler, scan_below, persistent, quiescent,
                                                 nodest, sequence):
    heap = World(scheduler, False, persistent, quiescent, nodest, scan_below)
    scan = World(scheduler, True, persistent, quiescent, nodest)
    for op in sequence:
        assert heap.apply(op) == scan.apply(op), op
        heap.check()


@FAST
@given(
    scheduler=st.sampled_from(NAMES),
    persistent=st.sampled_from([0, 30, 600]),
    quiescent=st.booleans(),
    nodest=st.booleans(),
    sequence=ops,
)
def test_counts_and_templates_stay_consistent(scheduler, persistent, quiescent, nodest,
                                             sequence):
    world = World(scheduler, False, persistent, quiescent, nodest)
    for op in sequence:
        world.apply(op)
        world.check()
    # everything drains once time runs far enough
    world.apply(("advance", 10_000.0))
    world.apply(("advance", 10_000.0))
    assert world.ct.entries() == []
    for dest in world.svc.destinations:
        assert (dest.activeconns, dest.inactconns, dest.persistconns) == (0, 0, 0)
