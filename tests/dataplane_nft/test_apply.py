"""The applier's order of batches: what a packet in flight can still find."""

from __future__ import annotations

import logging

import pytest

from piranha.dataplane.kernel import nftvalues as v
from piranha.dataplane.kernel.nfnetlink import NetlinkError
from piranha.dataplane.nftables.apply import Applier
from piranha.dataplane.nftables.numbering import Numbering
from piranha.dataplane.nftables.plan import NAT, Context, plan_table
from piranha.table.model import Forward, ServiceKey, Timeouts, VirtualTable

from .test_plan import ON_LINK

VIP = "10.0.0.100"
KEY = ServiceKey.tcp(VIP, 80)


class FakeNft:
    def __init__(self) -> None:
        self.scripts: list[str] = []

    def run(self, text: str) -> str:
        self.scripts.append(text)
        return ""


class FakeSock:
    def __init__(self) -> None:
        self.batches: list[list] = []
        self.refuse = 0  # refuse this many batches that only delete
        self.last_kernel_seconds = 0.0

    def apply(self, changes) -> None:
        if self.refuse and all(c.op == "delete" for c in changes):
            self.refuse -= 1
            raise NetlinkError(2, "nftables refused the change: No such file or directory")
        self.batches.append(changes)


def table_with(weights: dict[int, int]) -> VirtualTable:
    table = VirtualTable()
    table.add_service(KEY, "wrr")
    for i, w in weights.items():
        table.add_dest(KEY, f"10.1.0.{i}", 8080, weight=w, forward=Forward.MASQ)
    return table


def desired(table: VirtualTable, numbering: Numbering, previous=None):
    ctx = Context(
        numbering=numbering,
        timeouts=Timeouts(),
        routes={f"10.1.0.{i}": ON_LINK for i in range(1, 9)},
        previous=dict(previous or {}),
    )
    return plan_table(list(table.services.values()), ctx)


def slot_keys(changes, op) -> set[int]:
    return {
        v.read_u32(e.key) & 0xFFFF
        for c in changes
        if c.op == op and c.set == "slots"
        for e in c.elements
    }


@pytest.fixture
def applier():
    return Applier(FakeNft(), FakeSock(), logging.getLogger("test"))


def test_a_shorter_cycle_keeps_its_old_slots_through_the_switch(applier):
    numbering = Numbering()
    first = desired(table_with({1: 4, 2: 3, 3: 2}), numbering)  # 9 slots
    applier.apply(first)
    applier.sock.batches.clear()
    second = desired(table_with({1: 1, 2: 1, 3: 1}), numbering, first.services)  # 3 slots
    applier.apply(second)
    switch, removal = applier.sock.batches
    # the switch only changes values and adds: slots 3..8 survive it, so a packet
    # already in the old chain (numgen mod 9) still resolves its slot
    assert all(c.op == "add" or c.set != "slots" or slot_keys([c], "delete") <= {0, 1, 2} for c in switch)
    assert slot_keys(removal, "delete") == set(range(3, 9))
    assert all(c.op == "delete" for c in removal)
    # the switch holds the new chain's dispatch entry: traffic moves in that batch
    assert any(c.set == "svc_ports" and c.op == "add" for c in switch)


def test_refused_removals_are_retried_unless_the_key_came_back(applier):
    numbering = Numbering()
    first = desired(table_with({1: 4, 2: 3, 3: 2}), numbering)
    applier.apply(first)
    applier.sock.refuse = 1
    second = desired(table_with({1: 1, 2: 1, 3: 1}), numbering, first.services)
    applier.apply(second)
    assert slot_keys(applier.leftover, "delete") == set(range(3, 9))
    applier.sock.batches.clear()
    # slots 3 and 4 come back (a five-slot cycle): only 5..8 are removed now
    third = desired(table_with({1: 3, 2: 1, 3: 1}), numbering, second.services)
    applier.apply(third)
    removed = set().union(*(slot_keys(b, "delete") for b in applier.sock.batches if all(c.op == "delete" for c in b)))
    assert removed == set(range(5, 9))
    assert applier.leftover == []


def test_removing_a_service_leaves_its_set_elements_to_the_set_deletion(applier):
    numbering = Numbering()
    first = desired(table_with({1: 1, 2: 1}), numbering)
    applier.apply(first)
    applier.sock.batches.clear()
    applier.apply(desired(VirtualTable(), numbering, first.services))
    # the shared maps stay (the table does): their gone keys are deleted after the switch
    deleted_sets = {c.set for b in applier.sock.batches for c in b if c.op == "delete"}
    assert "svc_ports" in deleted_sets and "slots" in deleted_sets
    assert (NAT, "chain") not in {(k[0], k[1]) for k in applier.applied.objects if "svc_" in k[2]}
