"""One parsed ipvsadm command line (ipvsadm.c's ``struct ipvs_command_entry``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..model import IPPROTO_TCP, Forward, ServiceKey
from .addresses import AF_INET6


class UsageError(Exception):
    """A command line ipvsadm would refuse before touching the table.

    ``message`` is ipvsadm's text (without the final newline) and
    ``exit_code`` its exit status: 2 for validation errors, 255 for a line
    popt cannot make sense of.  ``aborts`` is False for the popt errors that
    ipvsadm reports by returning -1 instead of exiting, which matters only
    inside ``-R`` (restore goes on with the next line).
    """

    def __init__(self, message: str, exit_code: int, *, aborts: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.aborts = aborts


@dataclass(slots=True)
class ServiceSpec:
    """The virtual service a command names, and -A/-E's parameters for it."""

    af: int = 0  # 0 until -t/-u/-f says (ipvsadm memsets the struct)
    protocol: int = 0
    address: str = "0.0.0.0"
    port: int = 0
    fwmark: int = 0
    scheduler: str = ""  # "" until -s; -A/-E default it to wlc
    persistent: bool = False
    timeout: int = 0
    netmask: str | int = "255.255.255.255"  # dotted for IPv4, prefix length for IPv6
    ops: bool = False
    pe_name: str = ""
    sched_flags: int = 0  # IP_VS_SVC_F_SCHED1..3 bits

    def key(self) -> ServiceKey:
        if self.fwmark:
            if self.af == AF_INET6:  # another service than the IPv4 one of that mark
                return ServiceKey(IPPROTO_TCP, "::", 0, self.fwmark)
            return ServiceKey.mark(self.fwmark)
        return ServiceKey(self.protocol, self.address, self.port)

    @property
    def is_zero(self) -> bool:
        """No service given (``-Z`` alone zeroes everything)."""
        return not self.fwmark and self.address == "0.0.0.0" and not self.port


@dataclass(slots=True)
class DestSpec:
    """The real server of -a/-e/-d."""

    af: int = 0
    address: str = "0.0.0.0"
    port: int = 0
    forward: Forward = Forward.ROUTE  # ipvsadm's default: -g
    weight: int = 1
    u_threshold: int = 0
    l_threshold: int = 0
    tun_type: str = "ipip"
    tun_port: int = 0
    tun_flags: int = 0  # 0 nocsum, 1 csum, 2 remcsum (IP_VS_TUNNEL_ENCAP_FLAG_*)


@dataclass(slots=True)
class DaemonSpec:
    """--start-daemon / --stop-daemon."""

    state: str = ""  # "master" | "backup"
    mcast_interface: str = ""
    syncid: int = 0
    sync_maxlen: int = 0
    mcast_group: str = ""
    mcast_port: int = 0
    mcast_ttl: int = 0


@dataclass(slots=True)
class Command:
    """What an ipvsadm command line asks for.

    ``kind`` is ipvsadm's command name ("add-service", "list", "save",
    "set", ...) or "help"/"version"; ``options`` holds ipvsadm's names of
    the options given ("numeric", "service-address", "stats", ...).
    """

    kind: str
    prog: str = "lvsadm"
    options: set[str] = field(default_factory=set)
    service: ServiceSpec = field(default_factory=ServiceSpec)
    dest: DestSpec = field(default_factory=DestSpec)
    timeouts: tuple[int, int, int] = (0, 0, 0)
    daemon: DaemonSpec = field(default_factory=DaemonSpec)

    def has(self, option: str) -> bool:
        return option in self.options

    @property
    def numeric(self) -> bool:
        return "numeric" in self.options

    @property
    def ipv6(self) -> bool:
        return self.service.af == AF_INET6 or self.dest.af == AF_INET6
