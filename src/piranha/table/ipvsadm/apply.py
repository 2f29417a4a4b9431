"""Carry out one parsed command on a :class:`VirtualTable` (ipvsadm's "kernel calls").

Refusals are worded as libipvs' ``ipvs_strerror`` words them for that
call: a missing service is "No such service" for -E/-D/-Z but "Service not
defined" for -a/-e/-d; a lower threshold above the upper one is the
kernel's ERANGE, "Numerical result out of range".

-E and -e replace every parameter, as ipvsadm does: ``-E`` without ``-s``
sets wlc and without ``-p`` makes the service non-persistent; ``-e``
without ``-m``/``-i`` switches the server to direct routing and its weight
to 1.  That is how ipvsadm behaves and what scripts written for it expect.
"""

from __future__ import annotations

import dataclasses

from ..model import (
    IPPROTO_TCP,
    IPPROTO_UDP,
    NO_SCHEDULER,
    SERVICE_EXISTS,
    Destination,
    Service,
    SyncDaemon,
    TableError,
    VirtualTable,
)
from .addresses import AF_INET6, Resolver
from .command import Command
from .render import ListOptions, render_list, render_save
from .tables import sched_flag_set

# libipvs' words for errors the model does not raise itself
SERVICE_NOT_DEFINED = "Service not defined"  # -a/-e/-d on a missing service (ESRCH)
OUT_OF_RANGE = "Numerical result out of range"  # ERANGE: l_threshold > u_threshold
DAEMON_RUNNING = "Daemon has already run"
NO_DAEMON = "No daemon is running"
NO_AF_SUPPORT = "Operation not supported with specified address family"
NO_PROTOCOL = "Protocol not available"

PERSISTENCE_ENGINES = ("sip",)

_MODIFYING = {
    "add-service",
    "edit-service",
    "delete-service",
    "flush",
    "zero",
    "add-server",
    "edit-server",
    "delete-server",
    "set",
    "start-daemon",
    "stop-daemon",
}


class KernelError(Exception):
    """The table refused the command: ipvsadm prints ``message`` and exits ``exit_code``."""

    def __init__(self, message: str, exit_code: int = 255) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def list_options(cmd: Command) -> ListOptions:
    has = cmd.has
    return ListOptions(
        numeric=cmd.numeric,
        connections=has("connection"),
        service=cmd.service.key() if has("service-address") else None,
        timeout=has("timeout"),
        daemon=has("daemon"),
        stats=has("stats"),
        rate=has("rate"),
        thresholds=has("thresholds"),
        persistent_conn=has("persistent-conn"),
        exact=has("exact"),
        nosort=has("nosort"),
        tun_info=has("tun-info"),
    )


def execute(table: VirtualTable, cmd: Command, now: float, resolver: Resolver) -> tuple[str, bool]:
    """Run ``cmd``; returns (stdout, changed) or raises :class:`KernelError`."""
    if cmd.kind == "list":
        try:
            return render_list(table, list_options(cmd), now, resolver), False
        except TableError as exc:  # list_service: ipvsadm exits 1 here
            raise KernelError(str(exc), 1) from None
    if cmd.kind == "save":
        return render_save(table, numeric=cmd.numeric, resolver=resolver), False
    handler = _HANDLERS[cmd.kind]
    try:
        handler(table, cmd, now)
    except TableError as exc:
        raise KernelError(str(exc)) from None
    return "", cmd.kind in _MODIFYING


def _check_pe(name: str) -> None:
    if name and name not in PERSISTENCE_ENGINES:
        raise TableError(NO_SCHEDULER)


def _add_service(table: VirtualTable, cmd: Command, now: float) -> None:
    svc = cmd.service
    if svc.af == AF_INET6:
        raise TableError(NO_AF_SUPPORT)
    if not svc.fwmark and svc.protocol not in (IPPROTO_TCP, IPPROTO_UDP):
        raise TableError(NO_PROTOCOL)
    key = svc.key()
    if key in table.services:
        raise TableError(SERVICE_EXISTS)
    _check_pe(svc.pe_name)
    table.add_service(
        key,
        svc.scheduler,
        persistent=svc.timeout if svc.persistent else 0,
        netmask=str(svc.netmask),
        sched_flags=sched_flag_set(svc.scheduler, svc.sched_flags),
        ops=svc.ops,
        pe_name=svc.pe_name,
    )


def _edit_service(table: VirtualTable, cmd: Command, now: float) -> None:
    svc = cmd.service
    key = svc.key()
    existing: Service = table.get(key)
    _check_pe(svc.pe_name)
    table.edit_service(
        key,
        svc.scheduler,
        persistent=svc.timeout if svc.persistent else 0,
        netmask=str(svc.netmask),
        sched_flags=sched_flag_set(svc.scheduler, svc.sched_flags),
        ops=svc.ops,
    )
    existing.pe_name = svc.pe_name  # the kernel replaces (or clears) the engine too


def _flush_dests(table: VirtualTable, dests: list[Destination], now: float) -> None:
    # Connections to a deleted destination live on until they expire, or go
    # at once with the expire_nodest_conn sysctl: the connection table decides.
    if table.connections is not None:
        for dest in dests:
            table.connections.flush_dest(dest, now)


def _delete_service(table: VirtualTable, cmd: Command, now: float) -> None:
    svc = table.get(cmd.service.key())
    table.delete_service(svc.key)
    _flush_dests(table, list(svc.destinations), now)


def _flush(table: VirtualTable, cmd: Command, now: float) -> None:
    dests = [d for svc in table.services.values() for d in svc.destinations]
    table.clear()
    _flush_dests(table, dests, now)


def _zero(table: VirtualTable, cmd: Command, now: float) -> None:
    svc = cmd.service
    table.zero(None if svc.is_zero else svc.key())


def _service_for_dest(table: VirtualTable, cmd: Command) -> Service:
    svc = table.services.get(cmd.service.key())
    if svc is None:
        raise TableError(SERVICE_NOT_DEFINED)
    return svc


def _check_dest(cmd: Command) -> None:
    dest = cmd.dest
    if dest.af == AF_INET6:
        raise TableError(NO_AF_SUPPORT)
    if dest.l_threshold > dest.u_threshold:
        raise TableError(OUT_OF_RANGE)
    if dest.tun_type != "ipip":
        raise TableError(
            f"Tunnel type `{dest.tun_type}' is not supported: piranha's tunnels are ipip"
        )


def _add_server(table: VirtualTable, cmd: Command, now: float) -> None:
    svc = _service_for_dest(table, cmd)
    _check_dest(cmd)  # before "Destination already exists", as in the kernel
    dest = cmd.dest
    table.add_dest(
        svc.key,
        dest.address,
        dest.port,
        weight=dest.weight,
        forward=dest.forward,
        u_threshold=dest.u_threshold,
        l_threshold=dest.l_threshold,
    )


def _edit_server(table: VirtualTable, cmd: Command, now: float) -> None:
    svc = _service_for_dest(table, cmd)
    _check_dest(cmd)  # before "No such destination", as in the kernel
    dest = cmd.dest
    table.edit_dest(
        svc.key,
        dest.address,
        dest.port,
        weight=dest.weight,
        forward=dest.forward,
        u_threshold=dest.u_threshold,
        l_threshold=dest.l_threshold,
    )


def _delete_server(table: VirtualTable, cmd: Command, now: float) -> None:
    svc = _service_for_dest(table, cmd)
    dest = table.delete_dest(svc.key, cmd.dest.address, cmd.dest.port)
    _flush_dests(table, [dest], now)


def _set(table: VirtualTable, cmd: Command, now: float) -> None:
    table.set_timeouts(*cmd.timeouts)


def _start_daemon(table: VirtualTable, cmd: Command, now: float) -> None:
    spec = cmd.daemon
    if spec.state in table.daemons:
        raise TableError(DAEMON_RUNNING)
    wanted = {
        "state": spec.state,
        "mcast_interface": spec.mcast_interface,
        "syncid": spec.syncid,
        "sync_maxlen": spec.sync_maxlen,
        "mcast_group": spec.mcast_group,
        "mcast_port": spec.mcast_port,
        "mcast_ttl": spec.mcast_ttl,
    }
    # SyncDaemon may not have every field 1.31 knows; keep the ones it has
    known = {f.name for f in dataclasses.fields(SyncDaemon)}
    table.daemons[spec.state] = SyncDaemon(**{k: v for k, v in wanted.items() if k in known})


def _stop_daemon(table: VirtualTable, cmd: Command, now: float) -> None:
    if table.daemons.pop(cmd.daemon.state, None) is None:
        raise TableError(NO_DAEMON)


_HANDLERS = {
    "add-service": _add_service,
    "edit-service": _edit_service,
    "delete-service": _delete_service,
    "flush": _flush,
    "zero": _zero,
    "add-server": _add_server,
    "edit-server": _edit_server,
    "delete-server": _delete_server,
    "set": _set,
    "start-daemon": _start_daemon,
    "stop-daemon": _stop_daemon,
}
