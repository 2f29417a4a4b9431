"""The Backend contract between lvsd and a data plane.

The contract is declarative: lvsd owns one :class:`~piranha.table.model.VirtualTable`
holding the desired services, destinations, weights and flags, edits it
(from lvs.cf, health checks, lvsadm) and then calls :meth:`Backend.converge`.
The backend makes the data plane match the table — idempotently, and in
one transaction where it can (nft can).  Counters, rates, connection counts
and connection entries flow back into the same table through
:meth:`Backend.refresh`, so ``lvsadm``, the GUI and the metrics never know
which backend runs.

The userspace backend is different only in that it *is* the data plane in
this process: it schedules each new connection with the table's own
schedulers and connection table, so its ``refresh`` has little to do.
"""

from __future__ import annotations

import abc
import logging
from dataclasses import dataclass, field
from typing import ClassVar

from piranha.table.model import ServiceKey, VirtualTable


class BackendError(Exception):
    """The data plane could not be made to match the table.

    ``failed`` maps each service that could not be programmed to the reason
    (e.g. ``"cannot listen on 10.0.0.1:80: address not local"``); the other
    services are programmed.  lvsd logs one line per entry.
    """

    def __init__(self, failed: dict[ServiceKey, str]) -> None:
        self.failed = failed
        super().__init__("; ".join(f"{key}: {why}" for key, why in failed.items()))


@dataclass(slots=True)
class BackendOptions:
    """Settings a backend may need beyond the table itself."""

    nat_router: str | None = None  # floating NAT gateway (network = nat)
    nat_router_device: str | None = None
    sync_interface: str | None = None  # connection-state sync (ipvs syncd / conntrackd)
    sync_id: int = 0
    workers: int = 1  # userspace: SO_REUSEPORT worker processes
    use_uvloop: bool = False  # userspace only (uvloop breaks pyroute2's async API)
    # bind to virtual IPs this machine does not hold yet (a standby router's data plane,
    # whose VIPs arrive with pulse at takeover): userspace only, IP_FREEBIND
    freebind: bool = False
    extra: dict[str, str] = field(default_factory=dict)


class Backend(abc.ABC):
    """One data plane.  Lifecycle: start -> converge* / refresh* -> stop."""

    name: ClassVar[str]

    def __init__(
        self,
        table: VirtualTable,
        options: BackendOptions | None = None,
        *,
        log: logging.Logger | None = None,
    ) -> None:
        self.table = table
        self.options = options or BackendOptions()
        self.log = log or logging.getLogger(f"piranha.dataplane.{self.name}")

    @classmethod
    @abc.abstractmethod
    def unavailable_reason(cls) -> str | None:
        """None if this backend can run on this machine now, else why not."""

    @abc.abstractmethod
    async def start(self) -> None:
        """Acquire what the backend needs; reconcile leftovers of a crash."""

    @abc.abstractmethod
    async def converge(self) -> None:
        """Make the data plane match ``self.table``; raise BackendError for what failed."""

    @abc.abstractmethod
    async def refresh(self, now: float) -> None:
        """Bring counters, rates, connection counts and entries into ``self.table``."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Remove everything the backend programmed (open connections may finish)."""

    def describe(self) -> str:
        return self.name
