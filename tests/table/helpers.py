"""Shared builders for the table tests."""

from __future__ import annotations

from piranha.table.model import Destination, Service, ServiceKey, VirtualTable

VIP = "10.0.0.1"
KEY = ServiceKey.tcp(VIP, 80)


def addr(n: int) -> str:
    """Real server number n."""
    return f"10.1.0.{n}"


def build(
    scheduler: str,
    weights: list[int],
    *,
    key: ServiceKey = KEY,
    table: VirtualTable | None = None,
    **service_options: object,
) -> tuple[VirtualTable, Service]:
    """A service whose destination *list* is 10.1.0.1, 10.1.0.2, ... in that order.

    The table adds at the head, so they are added last to first.
    """
    table = table or VirtualTable()
    svc = table.add_service(key, scheduler, **service_options)  # type: ignore[arg-type]
    for n in range(len(weights), 0, -1):
        table.add_dest(key, addr(n), 80, weight=weights[n - 1])
    assert [d.address for d in svc.destinations] == [addr(n) for n in range(1, len(weights) + 1)]
    return table, svc


def number(dest: Destination | None) -> int | None:
    """10.1.0.n -> n (None stays None)."""
    return None if dest is None else int(dest.address.rsplit(".", 1)[1])


def pick(svc: Service, caddr: int = 0x0A0A0A0A, cport: int = 1234, daddr: int = 0x0A000001,
         now: float = 0.0) -> int | None:
    assert svc.scheduler is not None
    return number(svc.scheduler.schedule(svc, caddr, cport, daddr, 80, now))


def picks(svc: Service, count: int) -> list[int | None]:
    return [pick(svc) for _ in range(count)]


def connect(table: VirtualTable, svc: Service, n: int, now: float = 0.0, *,
            client: str = "192.0.2.1", vport: int = 80, protocol: int = 6):
    """Schedule a connection from client:n through the connection table."""
    assert table.connections is not None
    return table.connections.schedule(svc, protocol, client, n, svc.key.address if not svc.key.is_fwmark else VIP, vport, now)


def set_load(svc: Service, n: int, active: int = 0, inactive: int = 0,
             overloaded: bool | None = None) -> None:
    """Give destination n these counts, telling the scheduler as the table would."""
    dest = svc.destinations[n - 1]
    dest.activeconns = active
    dest.inactconns = inactive
    if overloaded is not None:
        dest.overloaded = overloaded
    assert svc.scheduler is not None
    svc.scheduler.load_changed(svc, dest)
