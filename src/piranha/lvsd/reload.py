"""Reload as a pure diff: old `Plan` vs new `Plan` -> the operations that turn one into the other.

The original lvsd (piranha-behaviour.md §3.6) matched services by VIP,
protocol and port only, ignored every changed parameter of a service that
stayed, tore down a whole virtual service when one of its real servers was
removed, and looked new services up by the old one's index.  Here:

* services are matched by their table identity — protocol+VIP+port, or the
  fwmark — so renaming a virtual block or reordering blocks changes nothing;
* a service that stays is edited in place: scheduler, flags, persistence
  and netmask (``EditService``: ``ipvsadm -E``; a scheduler that stays keeps
  its state), its name, ``fwmark_ports``, ``proxy_protocol``,
  ``sorry_server`` and the forwarding method;
* real servers are matched by address and port within their service; only
  the ones that left are removed (``RemoveServer``: lvsd drains them, see
  DRAIN_ON_REMOVE in supervisor.py), new ones are added, and weight or
  thresholds of the others change in place (``EditServer``);
* a change to the health-check settings reconfigures the checks in place
  (``RecheckServer``), keeping each server's up/down state;
* global timeouts and the two sysctls are set when they changed.

Nothing here touches a table: the supervisor applies the operations.
Established connections survive every operation except removing their
real server or their service.
"""

from __future__ import annotations

from dataclasses import dataclass

from piranha.table.model import ServiceKey

from .build import Plan, ServerPlan, ServicePlan


@dataclass(frozen=True, slots=True)
class SetTimeouts:
    tcp: int
    tcpfin: int
    udp: int


@dataclass(frozen=True, slots=True)
class SetSysctls:
    expire_quiescent_template: bool
    expire_nodest_conn: bool


@dataclass(frozen=True, slots=True)
class AddService:
    service: ServicePlan


@dataclass(frozen=True, slots=True)
class RemoveService:
    service: ServicePlan  # the old plan of the service that goes


@dataclass(frozen=True, slots=True)
class EditService:
    """The service stays; ``changed`` names what differs (ServicePlan field names)."""

    service: ServicePlan  # the new plan
    changed: tuple[str, ...]

    @property
    def table_edit(self) -> bool:
        """True when the table's service itself must be edited (``ipvsadm -E``)."""
        return bool(set(self.changed) & _TABLE_FIELDS)


@dataclass(frozen=True, slots=True)
class AddServer:
    key: ServiceKey
    server: ServerPlan


@dataclass(frozen=True, slots=True)
class RemoveServer:
    key: ServiceKey
    server: ServerPlan  # the old plan of the server that goes


@dataclass(frozen=True, slots=True)
class EditServer:
    """Weight or thresholds (or the name) of a real server that stays."""

    key: ServiceKey
    server: ServerPlan  # the new plan
    changed: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RecheckServer:
    """The health-check settings of a real server changed: reconfigure its check."""

    key: ServiceKey
    server: ServerPlan


@dataclass(frozen=True, slots=True)
class Notice:
    """A change lvsd cannot apply while running; logged."""

    message: str


Operation = (
    SetTimeouts
    | SetSysctls
    | AddService
    | RemoveService
    | EditService
    | AddServer
    | RemoveServer
    | EditServer
    | RecheckServer
    | Notice
)

# ServicePlan fields compared for EditService, in the order they are reported.
SERVICE_FIELDS: tuple[str, ...] = (
    "name", "scheduler", "sched_flags", "persistent", "netmask", "forward", "match",
    "proxy_protocol", "sorry_server", "vip", "vport", "protocol",
)  # fmt: skip
_TABLE_FIELDS = frozenset({"scheduler", "sched_flags", "persistent", "netmask"})
SERVER_FIELDS: tuple[str, ...] = ("name", "weight", "u_threshold", "l_threshold")


def diff(old: Plan, new: Plan) -> list[Operation]:
    """The operations that turn the running ``old`` into ``new``, in the order to apply them.

    Global settings first, then removed services, then the new plan's
    services in file order: each one added, or edited (service, then its
    real servers: removed, edited, added, rechecked).
    """
    ops: list[Operation] = []
    if new.timeouts != old.timeouts:
        ops.append(SetTimeouts(*new.timeouts))
    if (new.expire_quiescent_template, new.expire_nodest_conn) != (
        old.expire_quiescent_template,
        old.expire_nodest_conn,
    ):
        ops.append(SetSysctls(new.expire_quiescent_template, new.expire_nodest_conn))
    if new.dataplane != old.dataplane:
        ops.append(
            Notice(
                f"dataplane changed from {old.dataplane} to {new.dataplane}: restart lvsd "
                "to switch data planes; the running one stays"
            )
        )
    new_keys = {svc.key for svc in new.services}
    for svc in old.services:
        if svc.key not in new_keys:
            ops.append(RemoveService(svc))
    for svc in new.services:
        before = old.service(svc.key)
        if before is None:
            ops.append(AddService(svc))
        else:
            ops.extend(_service_diff(before, svc))
    return ops


def _service_diff(old: ServicePlan, new: ServicePlan) -> list[Operation]:
    ops: list[Operation] = []
    changed = tuple(f for f in SERVICE_FIELDS if getattr(old, f) != getattr(new, f))
    if changed:
        ops.append(EditService(new, changed))
    new_idents = {server.ident for server in new.servers}
    for server in old.servers:
        if server.ident not in new_idents:
            ops.append(RemoveServer(new.key, server))
    check_changed = old.check != new.check or old.name != new.name
    for server in new.servers:
        before = old.server(server.ident)
        if before is None:
            ops.append(AddServer(new.key, server))
            continue
        fields = tuple(f for f in SERVER_FIELDS if getattr(before, f) != getattr(server, f))
        if fields:
            ops.append(EditServer(new.key, server, fields))
        # the check knows the weight (slow start) and the label (logs)
        if check_changed or "weight" in fields or "name" in fields:
            ops.append(RecheckServer(new.key, server))
    return ops
