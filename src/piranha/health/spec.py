"""What a health monitor is told: the check and the real server it guards.

`monitor_spec` is the one place where lvs.cf keys become check settings;
lvsd, the standalone ``piranha nanny`` and pulse's failover services all
build their monitors from these two records.
"""

from __future__ import annotations

from dataclasses import dataclass

from piranha.config import Config, Failover, Server, Virtual


@dataclass(frozen=True)
class CheckSpec:
    """One probe of one address, as configured (before nanny's normalisation).

    ``port`` is the port probed (the real server's), ``vport`` the virtual
    service's: the default HTTP probe keys on ``vport`` as the original did.
    ``timeout`` is both the interval between checks and the I/O timeout of
    one check, in seconds.
    """

    address: str
    port: int
    vport: int
    protocol: str  # "tcp" | "udp"
    send: str | None
    expect: str | None
    use_regex: bool
    send_program: str | None
    tls: bool
    timeout: float
    translate_escapes: bool = True


@dataclass(frozen=True)
class MonitorSpec:
    """A check plus what to do with its verdicts for one real server.

    ``label`` is ``<virtual>/<server>`` (lvs.cf names; empty for a
    standalone nanny).  ``weight`` is the configured weight, ``reentry``
    the seconds a failed server must pass checks before it is re-admitted,
    ``scale`` the ceiling of load monitoring (weight × scale).
    ``lvs_mode`` False is a failover service (fos): the check probes the
    partner router's service address and never touches a table.
    """

    check: CheckSpec
    label: str
    vip: str
    reentry: float
    quiesce: bool
    weight: int
    load_monitor: str | None
    rsh_command: str
    scale: int = 10
    lvs_mode: bool = True

    @property
    def interval(self) -> float:
        return self.check.timeout


def monitor_spec(config: Config, virtual: Virtual, server: Server) -> MonitorSpec:
    """The monitor of `server` in `virtual`, from lvs.cf."""
    check = CheckSpec(
        address=server.address,
        port=virtual.server_port(server),
        vport=virtual.port,
        protocol=virtual.protocol,
        send=virtual.send,
        expect=virtual.expect,
        use_regex=bool(virtual.use_regex),
        send_program=virtual.send_program,
        tls=bool(virtual.check_tls),
        timeout=float(virtual.timeout),
    )
    load = virtual.load_monitor
    return MonitorSpec(
        check=check,
        label=f"{virtual.name}/{server.name}",
        vip=virtual.address,
        reentry=float(virtual.reentry),
        quiesce=bool(virtual.quiesce_server),
        weight=int(server.weight),
        load_monitor=None if load in (None, "", "none") else load,
        rsh_command=config.rsh_command,
    )


def failover_monitor_spec(config: Config, failover: Failover) -> MonitorSpec:
    """The monitor of a failover service (fos): probes the partner's service address.

    The original ran nanny ``--fos`` with the re-entry time defaulting to
    the interval; a failover service has no weight and no table.
    """
    timeout = float(failover.timeout)
    check = CheckSpec(
        address=failover.address,
        port=failover.port,
        vport=failover.port,
        protocol=failover.protocol,
        send=failover.send,
        expect=failover.expect,
        use_regex=bool(failover.use_regex),
        send_program=failover.send_program,
        tls=False,
        timeout=timeout,
    )
    return MonitorSpec(
        check=check,
        label=failover.name,
        vip=failover.address,
        reentry=timeout,
        quiesce=False,
        weight=1,
        load_monitor=None,
        rsh_command=config.rsh_command,
        lvs_mode=False,
    )
