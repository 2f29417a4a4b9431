"""The virtual server table: services, destinations, connections, counters.

This is the IPVS table as the kernel keeps it and ``ipvsadm`` shows it, as
plain data plus the operations ``ipvsadm`` can ask for.  It is pure: no I/O,
no clocks (callers pass ``now``, monotonic seconds), no asyncio.  Every data
plane reports back in these types, so ``lvsadm``, the GUI and the metrics
never know which backend runs.
"""

from __future__ import annotations

import enum
import math
import random
import socket
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .connections import ConnectionTable
    from .estimator import RateEstimator
    from .schedulers import Scheduler

IPPROTO_IP = 0
IPPROTO_TCP = 6
IPPROTO_UDP = 17

PROTOCOL_NAMES = {IPPROTO_TCP: "TCP", IPPROTO_UDP: "UDP", IPPROTO_IP: "IP"}

IPVS_VERSION = "1.2.1"
CONN_TAB_SIZE = 4096
MAX_WEIGHT = 65535
MAX_PERSISTENT = 2678400  # 31 days, ipvsadm's limit
DEFAULT_PERSISTENT = 360  # ipvsadm -p without a value (the code, not the man page)


class TableError(Exception):
    """An operation the kernel would refuse; ``str()`` is the kernel's message."""


# The kernel's refusals, worded as ipvsadm prints them.
SERVICE_EXISTS = "Service already exists"
NO_SERVICE = "No such service"
DEST_EXISTS = "Destination already exists"
NO_DEST = "No such destination"
NO_SCHEDULER = "Scheduler or persistence engine not found"


class Forward(enum.Enum):
    """Packet forwarding method of a destination (``ipvsadm -m/-g/-i``)."""

    MASQ = "Masq"  # -m, NAT
    ROUTE = "Route"  # -g, direct routing (ipvsadm's default)
    TUNNEL = "Tunnel"  # -i, IP-in-IP
    LOCAL = "Local"  # the destination is an address of the director itself

    @property
    def flag(self) -> str:
        return {"Masq": "-m", "Route": "-g", "Tunnel": "-i", "Local": "-g"}[self.value]

    @classmethod
    def from_network(cls, network: str) -> Forward:
        """lvs.cf ``network`` (nat/direct/tunnel) to a forwarding method."""
        return {"nat": cls.MASQ, "direct": cls.ROUTE, "tunnel": cls.TUNNEL}[network]


def ip_to_int(address: str) -> int:
    """Dotted quad to host-order integer (fast path for schedulers)."""
    return struct.unpack("!I", socket.inet_aton(address))[0]


def int_to_ip(value: int) -> str:
    return socket.inet_ntoa(struct.pack("!I", value & 0xFFFFFFFF))


@dataclass(frozen=True, slots=True)
class ServiceKey:
    """Identity of a virtual service: protocol+VIP+port, or a firewall mark.

    For a fwmark service ``fwmark > 0``, ``address`` is ``"0.0.0.0"``,
    ``port`` is 0 and ``protocol`` is TCP (as ipvsadm creates it).
    """

    protocol: int
    address: str
    port: int
    fwmark: int = 0

    @classmethod
    def tcp(cls, address: str, port: int) -> ServiceKey:
        return cls(IPPROTO_TCP, address, port)

    @classmethod
    def udp(cls, address: str, port: int) -> ServiceKey:
        return cls(IPPROTO_UDP, address, port)

    @classmethod
    def mark(cls, fwmark: int) -> ServiceKey:
        return cls(IPPROTO_TCP, "0.0.0.0", 0, fwmark)

    @property
    def is_fwmark(self) -> bool:
        return self.fwmark != 0

    def sort_key(self) -> tuple[int, int, int, int]:
        """ipvsadm's listing order: fwmark, protocol, address, port.

        (ipvsadm compares addresses by subtracting them into a signed int,
        which misorders addresses more than 2^31 apart; we sort correctly.)
        """
        return (self.fwmark, self.protocol, ip_to_int(self.address), self.port)

    def __str__(self) -> str:
        if self.fwmark:
            return f"FWM {self.fwmark}"
        return f"{PROTOCOL_NAMES[self.protocol]} {self.address}:{self.port}"


@dataclass(slots=True)
class Stats:
    """Cumulative counters, as ``ipvsadm --stats`` shows them (64-bit)."""

    conns: int = 0
    inpkts: int = 0
    outpkts: int = 0
    inbytes: int = 0
    outbytes: int = 0

    def zero(self) -> None:
        self.conns = self.inpkts = self.outpkts = self.inbytes = self.outbytes = 0


@dataclass(slots=True)
class Rates:
    """Per-second rates as ``ipvsadm --rate`` shows them."""

    cps: int = 0
    inpps: int = 0
    outpps: int = 0
    inbps: int = 0
    outbps: int = 0


@dataclass(slots=True, eq=False)
class Destination:
    """A real server inside one service (IPVS "dest")."""

    address: str
    port: int
    weight: int = 1
    forward: Forward = Forward.ROUTE
    u_threshold: int = 0  # 0 = no upper connection limit
    l_threshold: int = 0  # 0 = none (then 3/4 of u_threshold re-opens)
    activeconns: int = 0
    inactconns: int = 0
    persistconns: int = 0  # templates pointing here
    overloaded: bool = False
    available: bool = True  # False once deleted (the kernel's "trash")
    last_weight: int = 0  # last non-zero weight (Maglev keeps the slot)
    stats: Stats = field(default_factory=Stats)
    rates: Rates = field(default_factory=Rates)
    estimator: RateEstimator | None = None
    addr_int: int = 0  # cached ip_to_int(address)

    def __post_init__(self) -> None:
        self.addr_int = ip_to_int(self.address)
        if self.weight > 0:
            self.last_weight = self.weight

    @property
    def key(self) -> tuple[str, int]:
        return (self.address, self.port)

    @property
    def overhead(self) -> int:
        """The kernel's cost estimate: an active connection weighs 256 inactive ones."""
        return (self.activeconns << 8) + self.inactconns

    @property
    def totalconns(self) -> int:
        return self.activeconns + self.inactconns

    def set_weight(self, weight: int) -> None:
        self.weight = weight
        if weight > 0:
            self.last_weight = weight

    def sort_key(self) -> tuple[int, int]:
        return (self.addr_int, self.port)


@dataclass(frozen=True, slots=True)
class MarkMatch:
    """Which packets a firewall mark groups: protocol, address, a port range.

    The kernel only sees the mark; somebody has to set it.  The guide made
    admins write iptables rules for that by hand; here the nftables data
    plane generates them from these, and the userspace data plane listens
    on them.
    """

    protocol: int
    address: str
    port_lo: int
    port_hi: int

    def __contains__(self, port: int) -> bool:
        return self.port_lo <= port <= self.port_hi


@dataclass(slots=True, eq=False)
class Service:
    """A virtual service (IPVS "svc") and its destinations in kernel list order.

    ``name``, ``match`` and ``proxy_protocol`` are piranha's additions for
    the data planes: the lvs.cf virtual server name (for logs), what a
    fwmark service groups, and the PROXY v2 header (userspace only).
    """

    key: ServiceKey
    scheduler_name: str = "wlc"
    sched_flags: frozenset[str] = frozenset()  # e.g. {"sh-fallback", "sh-port"}
    persistent: int = 0  # persistence timeout in seconds, 0 = not persistent
    netmask: str = "255.255.255.255"  # persistence granularity
    ops: bool = False  # one-packet scheduling (UDP)
    pe_name: str = ""  # persistence engine ("sip"), not used by piranha
    destinations: list[Destination] = field(default_factory=list)
    stats: Stats = field(default_factory=Stats)
    rates: Rates = field(default_factory=Rates)
    estimator: RateEstimator | None = None
    scheduler: Scheduler | None = None
    rng: random.Random = field(default_factory=random.Random)
    name: str | None = None
    match: tuple[MarkMatch, ...] = ()
    proxy_protocol: bool = False

    def find(self, address: str, port: int) -> Destination | None:
        for dest in self.destinations:
            if dest.address == address and dest.port == port:
                return dest
        return None

    @property
    def netmask_int(self) -> int:
        return ip_to_int(self.netmask)


@dataclass(slots=True, eq=False)
class Connection:
    """One entry of the connection table, or a persistence template.

    ``ipvsadm -L -n -c`` lists these.  A template (``template=True``) has
    client port 0, the client address masked by the service's netmask, and
    for fwmark services protocol ``IPPROTO_IP`` with the mark rendered as
    the virtual address (mark 100 -> ``0.0.0.100``) and virtual port 0.
    """

    protocol: int
    caddr: str
    cport: int
    vaddr: str
    vport: int
    daddr: str
    dport: int
    state: str  # "ESTABLISHED", "FIN_WAIT", ... ; "UDP"; templates "NONE" (TCP) / "UDP"
    expires: float  # absolute deadline, same clock as the `now` callers pass
    timeout: float = 0.0  # the timeout of the current state, seconds
    service: Service | None = None
    dest: Destination | None = None
    template: bool = False
    controller: Connection | None = None  # the template this connection was scheduled by
    n_control: int = 0  # connections a template controls (it cannot expire while > 0)
    inactive: bool = True  # counted in InActConn (not ESTABLISHED)
    pe_name: str = ""
    pe_data: str = ""
    # Bookkeeping of ConnectionTable: the deadline its expiry heap holds for
    # this entry (always <= expires; the entry is re-armed when reached early).
    armed_at: float = field(default=math.inf, repr=False)


@dataclass(slots=True)
class Timeouts:
    """``ipvsadm --set tcp tcpfin udp``; the kernel defaults."""

    tcp: int = 900
    tcpfin: int = 120
    udp: int = 300


@dataclass(slots=True)
class SyncDaemon:
    state: str  # "master" | "backup"
    mcast_interface: str = "eth0"
    syncid: int = 0


@dataclass(slots=True, eq=False)
class TrashEntry:
    """A deleted destination the kernel still holds (see VirtualTable.trash)."""

    service: Service
    dest: Destination
    idle_since: float | None = None  # first time seen without connections


# The kernel frees a trashed destination once nothing has referred to it for
# IP_VS_DEST_TRASH_PERIOD (ip_vs_ctl.c, ip_vs_dest_trash_expire).
DEST_TRASH_PERIOD = 60.0


@dataclass(eq=False)
class VirtualTable:
    """The whole table: what ``ipvsadm -L`` lists and ``ipvsadm`` edits.

    The operations below are the ones ipvsadm's commands map to, with the
    kernel's refusals raised as :class:`TableError`.  Connection scheduling,
    persistence templates and expiry live in :mod:`piranha.table.connections`;
    ``connections`` is created with the table.

    Deleted destinations go to the kernel's "trash" (``trash``), modelled
    because administrators see it (nanny removes a failed server and adds it
    back): connections and templates keep pointing at the deleted
    destination (no new ones are scheduled to it, ``available`` is False),
    and re-adding the same address:port to the same service before it is
    purged revives the *same* destination with its connection counts, its
    statistics and its live connections (ip_vs_ctl.c ``ip_vs_add_dest`` ->
    ``ip_vs_trash_get_dest``).  A trashed destination is dropped once it has
    had no connection or template for ``DEST_TRASH_PERIOD`` seconds (checked
    by ``purge_trash``, which ``ConnectionTable.expire`` calls; the kernel's
    30-second timer granularity and the references lblc/lblcr caches hold
    are not modelled).  If the service itself was deleted and created again,
    a revived destination starts with zeroed statistics, as the kernel does
    when a destination changes service.  After ``delete_dest`` /
    ``delete_service``, callers pass each deleted destination to
    ``connections.flush_dest`` (that is where ``expire_nodest_conn`` acts).

    Scheduler hooks: ``add_dest``/``edit_dest``/``delete_dest`` call the
    scheduler's ``add_dest``/``upd_dest``/``del_dest`` (schedulers/base.py);
    code that changes Destination fields directly must call them too.
    """

    services: dict[ServiceKey, Service] = field(default_factory=dict)
    timeouts: Timeouts = field(default_factory=Timeouts)
    daemons: dict[str, SyncDaemon] = field(default_factory=dict)
    # sysctls with the kernel's defaults (peers.md (c))
    expire_quiescent_template: bool = False
    expire_nodest_conn: bool = False
    conn_tab_size: int = CONN_TAB_SIZE
    connections: ConnectionTable | None = None
    trash: dict[tuple[ServiceKey, str, int], TrashEntry] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.connections is None:
            from .connections import ConnectionTable  # late import: it imports this module

            self.connections = ConnectionTable(self)

    # -- services ---------------------------------------------------------

    def get(self, key: ServiceKey) -> Service:
        try:
            return self.services[key]
        except KeyError:
            raise TableError(NO_SERVICE) from None

    def add_service(
        self,
        key: ServiceKey,
        scheduler: str = "wlc",
        *,
        persistent: int = 0,
        netmask: str = "255.255.255.255",
        sched_flags: frozenset[str] = frozenset(),
        ops: bool = False,
        pe_name: str = "",
    ) -> Service:
        if key in self.services:
            raise TableError(SERVICE_EXISTS)
        svc = Service(
            key,
            scheduler,
            sched_flags=frozenset(sched_flags),
            persistent=persistent,
            netmask=netmask,
            ops=ops,
            pe_name=pe_name,
        )
        svc.scheduler = _make_scheduler(svc)
        svc.estimator = _make_estimator()
        self.services[key] = svc
        return svc

    def edit_service(
        self,
        key: ServiceKey,
        scheduler: str | None = None,
        *,
        persistent: int | None = None,
        netmask: str | None = None,
        sched_flags: frozenset[str] | None = None,
        ops: bool | None = None,
    ) -> Service:
        """Change a service; the scheduler is re-created only when its name changes.

        As in ``ip_vs_edit_service``: a new scheduler starts from scratch (rr
        cursor at the head, empty lblc cache); the same scheduler keeps its
        state and merely sees the new flags at its next decision.
        """
        svc = self.get(key)
        if scheduler is not None and scheduler != svc.scheduler_name:
            old = (svc.scheduler_name, svc.sched_flags, svc.scheduler)
            svc.scheduler_name = scheduler
            if sched_flags is not None:
                svc.sched_flags = frozenset(sched_flags)
            try:
                svc.scheduler = _make_scheduler(svc)
            except TableError:
                svc.scheduler_name, svc.sched_flags, svc.scheduler = old
                raise
        elif sched_flags is not None:
            svc.sched_flags = frozenset(sched_flags)
        if persistent is not None:
            svc.persistent = persistent
        if netmask is not None:
            svc.netmask = netmask
        if ops is not None:
            svc.ops = ops
        return svc

    def delete_service(self, key: ServiceKey) -> None:
        svc = self.get(key)
        # __ip_vs_del_service: every destination is unlinked into the trash;
        # connections keep running on them until they expire.  The deleted
        # Service object keeps its list so callers can pass each destination
        # to ConnectionTable.flush_dest.
        for dest in svc.destinations:
            self._to_trash(svc, dest)
        del self.services[key]

    def clear(self) -> None:
        for key in list(self.services):
            self.delete_service(key)

    # -- destinations -----------------------------------------------------

    def add_dest(
        self,
        key: ServiceKey,
        address: str,
        port: int,
        *,
        weight: int = 1,
        forward: Forward = Forward.ROUTE,
        u_threshold: int = 0,
        l_threshold: int = 0,
    ) -> Destination:
        svc = self.get(key)
        if svc.find(address, port) is not None:
            raise TableError(DEST_EXISTS)
        trashed = self.trash.pop((key, address, port), None)
        if trashed is not None:
            dest = trashed.dest
            if trashed.service is not svc:
                # the service was deleted and created again meanwhile
                dest.stats.zero()
                if dest.estimator is not None:
                    dest.estimator.reset(dest.stats)
                dest.rates = Rates()
            dest.last_weight = weight  # __ip_vs_update_dest(add=1): even 0
            dest.weight = weight
            dest.forward = forward
            _update_thresholds(dest, u_threshold, l_threshold)
            dest.available = True
        else:
            dest = Destination(
                address,
                port,
                weight=weight,
                forward=forward,
                u_threshold=u_threshold,
                l_threshold=l_threshold,
            )
            dest.estimator = _make_estimator()
        # The kernel adds a new dest at the head of the service's list
        # (list_add_rcu in __ip_vs_update_dest), which is the order the
        # schedulers walk and `ipvsadm -L --nosort` shows.
        svc.destinations.insert(0, dest)
        if svc.scheduler is not None:
            svc.scheduler.add_dest(svc, dest)
        return dest

    def edit_dest(
        self,
        key: ServiceKey,
        address: str,
        port: int,
        *,
        weight: int | None = None,
        forward: Forward | None = None,
        u_threshold: int | None = None,
        l_threshold: int | None = None,
    ) -> Destination:
        """``ipvsadm -e``: None keeps a value.  Overload per ``__ip_vs_update_dest``."""
        svc = self.get(key)
        dest = svc.find(address, port)
        if dest is None:
            raise TableError(NO_DEST)
        if weight is not None:
            dest.set_weight(weight)
        if forward is not None:
            dest.forward = forward
        _update_thresholds(
            dest,
            dest.u_threshold if u_threshold is None else u_threshold,
            dest.l_threshold if l_threshold is None else l_threshold,
        )
        if svc.scheduler is not None:
            svc.scheduler.upd_dest(svc, dest)
        return dest

    def delete_dest(self, key: ServiceKey, address: str, port: int) -> Destination:
        svc = self.get(key)
        dest = svc.find(address, port)
        if dest is None:
            raise TableError(NO_DEST)
        index = svc.destinations.index(dest)
        del svc.destinations[index]
        if svc.scheduler is not None:
            svc.scheduler.del_dest(svc, dest, index)
        self._to_trash(svc, dest)
        return dest

    def purge_trash(self, now: float) -> list[Destination]:
        """Forget trashed destinations idle for DEST_TRASH_PERIOD; returns them."""
        purged = []
        for tkey, entry in list(self.trash.items()):
            dest = entry.dest
            if dest.activeconns or dest.inactconns or dest.persistconns:
                entry.idle_since = None
            elif entry.idle_since is None:
                entry.idle_since = now
            elif now >= entry.idle_since + DEST_TRASH_PERIOD:
                del self.trash[tkey]
                purged.append(dest)
        return purged

    # -- counters and timeouts -------------------------------------------

    def zero(self, key: ServiceKey | None = None) -> None:
        services = [self.get(key)] if key is not None else list(self.services.values())
        for svc in services:
            svc.stats.zero()
            if svc.estimator is not None:
                svc.estimator.reset(svc.stats)
            svc.rates = Rates()
            for dest in svc.destinations:
                dest.stats.zero()
                if dest.estimator is not None:
                    dest.estimator.reset(dest.stats)
                dest.rates = Rates()

    def set_timeouts(self, tcp: int, tcpfin: int, udp: int) -> None:
        """0 leaves a value unchanged, as the kernel does."""
        if tcp:
            self.timeouts.tcp = tcp
        if tcpfin:
            self.timeouts.tcpfin = tcpfin
        if udp:
            self.timeouts.udp = udp

    def sorted_services(self) -> list[Service]:
        return sorted(self.services.values(), key=lambda s: s.key.sort_key())

    # -- internal ---------------------------------------------------------

    def _to_trash(self, svc: Service, dest: Destination) -> None:
        # Callers then run ConnectionTable.flush_dest(dest, now), which is
        # where the expire_nodest_conn sysctl takes effect.
        dest.available = False
        self.trash[(svc.key, dest.address, dest.port)] = TrashEntry(svc, dest)


def _update_thresholds(dest: Destination, u_threshold: int, l_threshold: int) -> None:
    """Thresholds as ``__ip_vs_update_dest`` sets them.

    The OVERLOAD flag is cleared when the new upper threshold is 0 or higher
    than the old one, and is never set here: only binding a connection sets
    it (``ip_vs_bind_dest``), unbinding one clears it (``ip_vs_unbind_dest``).
    """
    if u_threshold == 0 or u_threshold > dest.u_threshold:
        dest.overloaded = False
    dest.u_threshold = u_threshold
    dest.l_threshold = l_threshold


def _make_scheduler(svc: Service) -> Scheduler:
    from .schedulers import create  # late import: schedulers import this module

    try:
        return create(svc)
    except KeyError:
        raise TableError(NO_SCHEDULER) from None


def _make_estimator() -> RateEstimator:
    from .estimator import RateEstimator  # late import: estimator imports this module

    return RateEstimator()
