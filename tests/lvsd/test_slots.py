"""A real server's slot: health verdicts and drains -> the weight the table should have."""

from __future__ import annotations

import math

from piranha.lvsd.build import ServerPlan
from piranha.lvsd.slots import ServerSlot


def slot() -> ServerSlot:
    return ServerSlot(plan=ServerPlan("www", "web1", "10.0.0.2", 80, 3))


def test_verdicts() -> None:
    s = slot()
    assert s.wanted_weight(False) is None  # not admitted yet: not in the table
    s.admit(1, wall=100.0)
    assert (s.wanted_weight(False), s.since, s.serving) == (1, 100.0, True)
    s.set_weight(3)
    assert s.wanted_weight(True) == 3
    s.withdraw(quiesce=True, wall=200.0)
    assert s.wanted_weight(True) == 0, "quiesced: stays at weight 0"
    assert s.wanted_weight(False) is None, "quiesce never adds"
    assert (s.since, s.serving) == (200.0, False)
    s.admit(2, wall=300.0)
    s.withdraw(quiesce=False, wall=400.0)
    assert s.wanted_weight(True) is None
    s.set_weight(5)  # a late ramp step after the withdrawal changes nothing
    assert s.wanted_weight(True) is None


def test_drain() -> None:
    s = slot()
    s.admit(3, wall=0.0)
    s.start_drain(now=10.0, seconds=None, reason="operator")
    assert s.drain_deadline == math.inf
    assert s.wanted_weight(True) == 0 and not s.serving
    assert s.wanted_weight(False) is None, "a draining server is never (re-)added"
    s.admit(3, wall=1.0)  # the check keeps passing
    assert s.wanted_weight(True) == 0
    assert s.drain_done(connections=2, now=1e9) is None
    assert s.drain_done(connections=0, now=11.0) == "no connections left"
    assert s.drain_done(connections=None, now=11.0) == "not in the table"
    s.drained = True
    assert s.wanted_weight(True) is None
    assert s.drain_done(connections=0, now=11.0) is None, "done once"
    s.stop_drain()
    assert s.wanted_weight(False) == 3 and s.serving


def test_drain_deadline() -> None:
    s = slot()
    s.admit(3, wall=0.0)
    s.start_drain(now=10.0, seconds=5, reason="operator")
    assert s.drain_done(connections=1, now=14.9) is None
    assert s.drain_done(connections=1, now=15.0) == "deadline reached with 1 connection left"
    assert s.drain_done(connections=7, now=15.0) == "deadline reached with 7 connections left"


def test_leaving() -> None:
    s = slot()
    s.admit(3, wall=0.0)
    s.leaving = True
    s.start_drain(now=0.0, seconds=60, reason="removed from lvs.cf")
    assert s.wanted_weight(True) == 0
    assert s.drain_done(connections=3, now=60.0).startswith("deadline reached")
