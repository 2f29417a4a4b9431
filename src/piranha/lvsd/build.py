"""lvs.cf -> the virtual service table lvsd wants: a `Plan`.

Pure: names are resolved only through the ``resolve_host`` passed in.  A
plan holds every *active* virtual service in file order with its *active*
real servers, plus the global settings lvsd applies to the table.  Real
servers are not put in the table here: as in the original, a real server
enters the table only when its health check admits it.

Which settings go where:

* the table's service: protocol+VIP+port or fwmark (the identity), scheduler
  and its flags, persistence and its netmask, ``match`` (what a fwmark
  service groups, from ``fwmark_ports``), ``proxy_protocol``, the name;
* each destination: address, port, the forwarding method of ``network``,
  weight (from the health checker, up to the configured one), thresholds;
* the health checker: everything in `CHECK_KEYS`, see `check_settings`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from piranha.config import Config, Server, Virtual
from piranha.config.values import inet_aton
from piranha.table.ipvsadm.tables import sched_flag_set, sched_flags_from_names
from piranha.table.model import (
    IPPROTO_TCP,
    IPPROTO_UDP,
    Forward,
    MarkMatch,
    ServiceKey,
    VirtualTable,
)

DEFAULT_NETMASK = "255.255.255.255"

# Keys of a virtual block that only the health checker reads: a change to one
# of them reconfigures the checks of every real server of that service and
# touches nothing in the table.
CHECK_KEYS: tuple[str, ...] = (
    "address", "port", "protocol", "send", "expect", "use_regex", "send_program",
    "load_monitor", "timeout", "reentry", "quiesce_server", "client_monitor", "check_tls",
)  # fmt: skip

ResolveHost = Callable[[str], "str | None"]


@dataclass(frozen=True, slots=True)
class ServerPlan:
    """One active real server of one active virtual service."""

    virtual: str  # the virtual block's name
    name: str
    address: str
    port: int
    weight: int
    u_threshold: int = 0
    l_threshold: int = 0
    # the block itself, for piranha.health.monitor_spec; not part of equality
    server: Server | None = field(default=None, compare=False, repr=False)

    @property
    def ident(self) -> tuple[str, int]:
        """What makes a real server the same one across reloads: address and port."""
        return (self.address, self.port)

    @property
    def label(self) -> str:
        return f"{self.virtual}/{self.name}"


@dataclass(frozen=True, slots=True)
class ServicePlan:
    """One active virtual service: table settings, checks, and its real servers."""

    key: ServiceKey
    name: str
    vip: str
    vport: int
    protocol: int
    scheduler: str
    sched_flags: frozenset[str]
    persistent: int
    netmask: str
    forward: Forward
    match: tuple[MarkMatch, ...] = ()
    proxy_protocol: bool = False
    sorry_server: str | None = None
    servers: tuple[ServerPlan, ...] = ()
    # the health checker's settings (CHECK_KEYS and rsh_command), to notice changes
    check: tuple[object, ...] = ()
    # the block itself, for piranha.health.monitor_spec; not part of equality
    virtual: Virtual | None = field(default=None, compare=False, repr=False)

    def server(self, ident: tuple[str, int]) -> ServerPlan | None:
        for server in self.servers:
            if server.ident == ident:
                return server
        return None

    @property
    def table_settings(self) -> tuple[object, ...]:
        """The settings ``ipvsadm -E`` changes (a difference means edit_service)."""
        return (self.scheduler, self.sched_flags, self.persistent, self.netmask)


@dataclass(frozen=True, slots=True)
class Plan:
    """What lvsd makes of a whole lvs.cf."""

    timeouts: tuple[int, int, int]  # tcp, tcpfin, udp; 0 = leave as is
    expire_quiescent_template: bool
    expire_nodest_conn: bool
    services: tuple[ServicePlan, ...]
    dataplane: str = "auto"
    # names that did not resolve: "virtual www: host `web1.example` does not resolve"
    problems: tuple[str, ...] = ()

    def service(self, key: ServiceKey) -> ServicePlan | None:
        for svc in self.services:
            if svc.key == key:
                return svc
        return None


def _address(text: str, resolve_host: ResolveHost) -> str | None:
    return inet_aton(text) or resolve_host(text)


def service_key(virtual: Virtual, vip: str) -> ServiceKey:
    """The table identity of a virtual block: its fwmark, else protocol+VIP+port."""
    if virtual.fwmark:
        return ServiceKey.mark(virtual.fwmark)
    proto = IPPROTO_UDP if virtual.protocol == "udp" else IPPROTO_TCP
    return ServiceKey(proto, vip, virtual.port)


def sched_flags_of(virtual: Virtual) -> frozenset[str]:
    """``sched_flags`` as the table names them (``flag-1`` under sh is ``sh-fallback``)."""
    names = frozenset(virtual.sched_flag_list())
    return sched_flag_set(virtual.scheduler, sched_flags_from_names(names))


def check_settings(config: Config, virtual: Virtual) -> tuple[object, ...]:
    """The values the health checks of ``virtual`` depend on, for change detection."""
    return (*(getattr(virtual, key) for key in CHECK_KEYS), config.rsh_command)


def plan(config: Config, resolve_host: ResolveHost) -> Plan:
    """The plan for ``config``: active virtual services in file order, active servers each."""
    problems: list[str] = []
    services: list[ServicePlan] = []
    forward = Forward.from_network(config.network)
    for virtual in config.active_virtuals():
        vip = _address(virtual.address, resolve_host)
        if vip is None:
            problems.append(
                f"virtual {virtual.name}: address `{virtual.address}` does not resolve; "
                "the service is not set up"
            )
            continue
        servers: list[ServerPlan] = []
        for server in virtual.servers:
            if not server.active:
                continue
            planned = _server_plan(virtual, server, resolve_host)
            if planned is None:
                problems.append(
                    f"virtual {virtual.name}: real server {server.name}: address "
                    f"`{server.address}` does not resolve; it is not used"
                )
                continue
            servers.append(planned)
        services.append(_service_plan(config, virtual, vip, forward, tuple(servers)))
    return Plan(
        timeouts=(config.tcp_timeout, config.tcpfin_timeout, config.udp_timeout),
        expire_quiescent_template=config.expire_quiescent_template,
        expire_nodest_conn=config.expire_nodest_conn,
        services=tuple(services),
        dataplane=config.dataplane,
        problems=tuple(problems),
    )


def _server_plan(virtual: Virtual, server: Server, resolve_host: ResolveHost) -> ServerPlan | None:
    address = _address(server.address, resolve_host)
    if address is None:
        return None
    return ServerPlan(
        virtual=virtual.name,
        name=server.name,
        address=address,
        # A fwmark service's destinations carry port 0, as `ipvsadm -a -f N -r
        # IP:0` does: traffic keeps the client's destination port (80 stays 80,
        # 443 stays 443).  The server's port is only the health-check port then
        # (piranha.health.monitor_spec reads it from the config).  The original
        # added IP:rport, which under NAT sent every grouped port to one port.
        port=0 if virtual.fwmark else virtual.server_port(server),
        weight=server.weight,
        u_threshold=server.uthreshold,
        l_threshold=server.lthreshold,
        server=server,
    )


def _service_plan(
    config: Config,
    virtual: Virtual,
    vip: str,
    forward: Forward,
    servers: tuple[ServerPlan, ...],
) -> ServicePlan:
    protocol = IPPROTO_UDP if virtual.protocol == "udp" else IPPROTO_TCP
    netmask = DEFAULT_NETMASK
    if virtual.persistent and virtual.pmask:
        netmask = virtual.pmask
    match: tuple[MarkMatch, ...] = ()
    if virtual.fwmark:
        match = tuple(
            MarkMatch(protocol, vip, low, high) for low, high in virtual.fwmark_port_ranges()
        )
    return ServicePlan(
        key=service_key(virtual, vip),
        name=virtual.name,
        vip=vip,
        vport=virtual.port,
        protocol=protocol,
        scheduler=virtual.scheduler,
        sched_flags=sched_flags_of(virtual),
        persistent=virtual.persistent,
        netmask=netmask,
        forward=forward,
        match=match,
        proxy_protocol=virtual.proxy_protocol,
        sorry_server=virtual.sorry_server,
        servers=servers,
        check=check_settings(config, virtual),
        virtual=virtual,
    )


# -- the table ------------------------------------------------------------------


def install_service(table: VirtualTable, svc: ServicePlan) -> None:
    """``ipvsadm -A`` for ``svc`` (no real servers), plus piranha's own fields."""
    table.add_service(
        svc.key,
        svc.scheduler,
        persistent=svc.persistent,
        netmask=svc.netmask,
        sched_flags=svc.sched_flags,
    )
    label_service(table, svc)


def update_service(table: VirtualTable, svc: ServicePlan) -> None:
    """``ipvsadm -E`` for ``svc``: the same scheduler keeps its state, a new one starts afresh."""
    table.edit_service(
        svc.key,
        svc.scheduler,
        persistent=svc.persistent,
        netmask=svc.netmask,
        sched_flags=svc.sched_flags,
    )
    label_service(table, svc)


def label_service(table: VirtualTable, svc: ServicePlan) -> None:
    service = table.get(svc.key)
    service.name = svc.name
    service.match = svc.match
    service.proxy_protocol = svc.proxy_protocol


# -- what the original would have run (--test-start) -------------------------


def service_argv(svc: ServicePlan) -> list[str]:
    """``-t VIP:PORT`` / ``-u VIP:PORT`` / ``-f MARK``, as lvsadm reads it."""
    key = svc.key
    if key.is_fwmark:
        return ["-f", str(key.fwmark)]
    return ["-u" if key.protocol == IPPROTO_UDP else "-t", f"{key.address}:{key.port}"]


def add_service_argv(svc: ServicePlan) -> list[str]:
    """The ``lvsadm -A`` line that sets ``svc`` up, as the original's ``ipvsadm -A``."""
    argv = ["-A", *service_argv(svc), "-s", svc.scheduler]
    if svc.persistent > 0:
        argv += ["-p", str(svc.persistent)]
        if svc.netmask != DEFAULT_NETMASK:
            argv += ["-M", svc.netmask]
    if svc.sched_flags:
        argv += ["-b", ",".join(sorted(svc.sched_flags))]
    return argv


def add_server_argv(svc: ServicePlan, server: ServerPlan, weight: int) -> list[str]:
    """The ``lvsadm -a`` line for one real server of ``svc`` at ``weight``."""
    argv = ["-a", *service_argv(svc), "-r", f"{server.address}:{server.port}", svc.forward.flag]
    argv += ["-w", str(weight)]
    if server.u_threshold:
        argv += ["-x", str(server.u_threshold)]
    if server.l_threshold:
        argv += ["-y", str(server.l_threshold)]
    return argv
