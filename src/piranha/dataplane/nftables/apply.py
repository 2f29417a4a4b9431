"""Making the kernel match a :class:`~.plan.Desired`: three steps, each atomic.

1. **Add structure** (one nft transaction): new tables, timeout policies,
   sets and maps, chains with their rules, and the rules of hooked base
   chains that changed.  New chains are not reachable yet: nothing points
   at them.
2. **Switch** (one netlink batch, :mod:`..kernel.nfnetlink`): every set
   element that changed — dispatch entries now pointing at the new
   chains, slots, targets, counters.  This is the moment traffic sees the
   change, all of it at once; it takes milliseconds even for a thousand
   services because it bypasses nft's cache refresh.
3. **Remove** (one netlink batch, then one nft transaction): the elements
   whose keys left the table, then the chains, sets and timeout policies
   nothing refers to any more.

Why removals wait for step 3: a rule traversal runs on the generation it
started in, but each set lookup sees the generation current at the moment
of the lookup.  A packet already in an old chain when step 2 commits may
look up a slot number the new plan dropped (a wrr cycle that got shorter):
were the slot deleted in the same batch, the lookup would miss and the
connection would be refused.  Kept until step 3, it still resolves.

A failure in step 1 or 2 leaves the kernel as it was before that step
(the kernel rolls back a refused batch); a failure in step 3 only leaves
unused elements and objects behind, which the next converge removes.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from piranha.dataplane.kernel.libnft import NftError
from piranha.dataplane.kernel.nfnetlink import Element, ElementChange, NetlinkError

from .plan import TABLE, Desired, NftObject, ObjKey, SetKey, Value

_CREATE_ORDER = {"table": 0, "ct timeout": 1, "set": 2, "map": 2, "chain": 3}


class ApplyError(Exception):
    """The kernel refused a step; ``str()`` says which and why."""


@dataclass
class Applied:
    objects: dict[ObjKey, NftObject] = field(default_factory=dict)
    owned: dict[object, dict[SetKey, dict[bytes, Value]]] = field(default_factory=dict)


def creation_text(objs: list[NftObject]) -> list[str]:
    lines: list[str] = []
    for obj in sorted(objs, key=lambda o: _CREATE_ORDER[o.kind]):
        where = f"{obj.family} {TABLE}"
        if obj.kind == "table":
            lines.append(f"add table {where}")
        elif obj.kind == "chain":
            lines.append(f"add chain {where} {obj.name}" + (f" {{ {obj.decl} }}" if obj.decl else ""))
        else:
            lines.append(f"add {obj.kind} {where} {obj.name} {{ {obj.decl} }}")
    for obj in objs:
        if obj.kind == "chain":
            lines += [f"add rule {obj.family} {TABLE} {obj.name} {rule}" for rule in obj.rules]
    return lines


def owned_changes(old: dict[object, dict], new: dict[object, dict]) -> tuple[list[ElementChange], list[ElementChange]]:
    """The element changes between two groupings: (switch, removals).

    Unchanged owners (same object) are skipped.  ``switch`` holds the
    deletions of changed values, then the additions; ``removals`` the keys
    that are gone (see the module's note on why they wait).
    """
    before: dict[SetKey, dict[bytes, Value]] = {}
    after: dict[SetKey, dict[bytes, Value]] = {}
    for owner in set(old) | set(new):
        o, n = old.get(owner), new.get(owner)
        if o is n:
            continue
        for part, target in ((o, before), (n, after)):
            for set_key, values in (part or {}).items():
                target.setdefault(set_key, {}).update(values)
    return element_changes(before, after)


def element_changes(
    old: dict[SetKey, dict[bytes, Value]], new: dict[SetKey, dict[bytes, Value]]
) -> tuple[list[ElementChange], list[ElementChange]]:
    """(switch, removals): changed values deleted then everything new added; gone keys."""
    deletes: list[ElementChange] = []
    adds: list[ElementChange] = []
    removals: list[ElementChange] = []
    for set_key in sorted(set(old) | set(new)):
        family, name = set_key
        before = old.get(set_key, {})
        after = new.get(set_key, {})
        changed = [Element(k) for k, val in before.items() if k in after and after[k] != val]
        gone = [Element(k) for k in before if k not in after]
        come = [Element(k, val) for k, val in after.items() if k not in before or before[k] != val]
        if changed:
            deletes.append(ElementChange("delete", family, TABLE, name, changed))
        if come:
            adds.append(ElementChange("add", family, TABLE, name, come))
        if gone:
            removals.append(ElementChange("delete", family, TABLE, name, gone))
    return deletes + adds, removals


def _owned_keys(owned: dict[object, dict[SetKey, dict[bytes, Value]]]) -> dict[SetKey, set[bytes]]:
    keys: dict[SetKey, set[bytes]] = {}
    for groups in owned.values():
        for set_key, values in groups.items():
            keys.setdefault(set_key, set()).update(values)
    return keys


class Applier:
    """Keeps what was applied, and applies the difference to a new Desired.

    Blocking: the backend runs it in a worker thread.
    """

    def __init__(self, nft, sock, log: logging.Logger) -> None:
        self.nft = nft
        self.sock = sock
        self.log = log
        self.applied = Applied()
        self.steps: dict[str, float] = {}  # seconds of each step of the last apply
        self.leftover: list[ElementChange] = []  # removals the kernel refused: retried

    def reset(self) -> list[str]:
        """Remove our tables (leftovers of a previous run); returns the families found."""
        listing = self.nft.run("list tables")
        found = [fam for fam in ("ip", "netdev") if f"table {fam} {TABLE}" in listing.split("\n")]
        if found:
            self.nft.run("\n".join(f"delete table {fam} {TABLE}" for fam in found) + "\n")
        self.applied = Applied()
        return found

    def remove_all(self) -> None:
        families = {key[0] for key in self.applied.objects}
        if families:
            self.nft.run("\n".join(f"delete table {fam} {TABLE}" for fam in sorted(families)) + "\n")
        self.applied = Applied()

    def apply(self, desired: Desired) -> None:
        applied = self.applied
        t0 = time.perf_counter()
        # 1. structure
        new_objs = [obj for key, obj in desired.objects.items() if key not in applied.objects]
        lines = creation_text(new_objs)
        rewritten: list[NftObject] = []
        for key, obj in desired.objects.items():
            old = applied.objects.get(key)
            if old is not None and obj.kind == "chain" and old.rules != obj.rules:
                if not obj.base:  # pragma: no cover - regular chains carry a content hash
                    raise ApplyError(f"chain {obj.name} changed in place")
                lines.append(f"flush chain {obj.family} {TABLE} {obj.name}")
                lines += [f"add rule {obj.family} {TABLE} {obj.name} {rule}" for rule in obj.rules]
                rewritten.append(obj)
        if lines:
            try:
                self.nft.run("\n".join(lines) + "\n")
            except NftError as exc:
                raise ApplyError(f"nftables refused the new rules: {exc}")
            for obj in new_objs + rewritten:
                applied.objects[obj.key] = obj
        t1 = time.perf_counter()
        # 2. elements: the switch
        changes, removals = owned_changes(applied.owned, desired.owned)
        t_sent = time.perf_counter()
        kernel = 0.0
        if changes:
            try:
                self.sock.apply(changes)
                kernel = self.sock.last_kernel_seconds
            except NetlinkError as exc:
                raise ApplyError(str(exc))
        applied.owned = dict(desired.owned)
        t2 = time.perf_counter()
        # 3. what nothing uses any more
        self._remove_elements(desired, removals)
        self._remove_unused(desired)
        self.steps = {
            "structure": t1 - t0,
            "diff": t_sent - t1,
            "switch": t2 - t_sent,  # encoding and the kernel's batch
            "kernel": kernel,  # the batch inside the kernel: the atomic moment traffic sees
            "cleanup": time.perf_counter() - t2,
            "elements": float(sum(len(c.elements) for c in changes)),
        }

    def _remove_elements(self, desired: Desired, removals: list[ElementChange]) -> None:
        """Delete the keys that left the table, and the leftovers of a refused removal
        (unless the table holds them again); sets about to go are left to step 3."""
        todo = list(removals)
        if self.leftover:
            live = _owned_keys(desired.owned)
            for change in self.leftover:
                keep = live.get((change.family, change.set), set())
                elements = [e for e in change.elements if e.key not in keep]
                if elements:
                    todo.append(ElementChange("delete", change.family, TABLE, change.set, elements))
            self.leftover = []
        kept_sets = {(fam, name) for fam, kind, name in desired.objects if kind in ("set", "map")}
        changes = [c for c in todo if (c.family, c.set) in kept_sets]
        if not changes:
            return
        try:
            self.sock.apply(changes)
        except NetlinkError as exc:
            self.log.warning("could not remove unused nftables elements (will retry): %s", exc)
            self.leftover = changes

    def _remove_unused(self, desired: Desired) -> None:
        applied = self.applied
        stale = [obj for key, obj in applied.objects.items() if key not in desired.objects]
        if not stale:
            return
        lines: list[str] = []
        dropped_tables = {o.family for o in stale if o.kind == "table"}
        for fam in sorted(dropped_tables):
            lines.append(f"delete table {fam} {TABLE}")
        rest = [o for o in stale if o.family not in dropped_tables]
        chains = [o for o in rest if o.kind == "chain"]
        lines += [f"flush chain {o.family} {TABLE} {o.name}" for o in chains]
        lines += [f"delete chain {o.family} {TABLE} {o.name}" for o in chains]
        lines += [f"delete {o.kind} {o.family} {TABLE} {o.name}" for o in rest if o.kind in ("set", "map")]
        lines += [f"delete ct timeout {o.family} {TABLE} {o.name}" for o in rest if o.kind == "ct timeout"]
        try:
            self.nft.run("\n".join(lines) + "\n")
        except NftError as exc:
            self.log.warning("could not remove unused nftables objects (will retry): %s", exc)
            return
        for obj in stale:
            del applied.objects[obj.key]
        if dropped_tables:  # (the owners' dicts are the plans' own: rebuild, never edit them)
            applied.owned = {
                owner: {k: v for k, v in owned.items() if k[0] not in dropped_tables}
                for owner, owned in applied.owned.items()
            }
