"""What each button does to the configuration: pure edits of a copy of a Config.

Shared by the panels and the JSON API, so both make exactly the same
changes.  Nothing here reads or writes files; the store validates and saves.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from piranha.config import Config, Diagnostic, Failover, Server, Virtual

from .fields import FieldSpec


def edited(config: Config) -> Config:
    """A copy to edit (blocks keep their origin, so the writer finds their lines again)."""
    return copy.deepcopy(config)


def unique_name(base: str, taken: Iterable[str]) -> str:
    names = set(taken)
    if base not in names:
        return base
    n = 2
    while f"{base}_{n}" in names:
        n += 1
    return f"{base}_{n}"


# --- global settings and redundancy ------------------------------------------------------
def set_global(config: Config, values: dict[str, Any]) -> None:
    for name, value in values.items():
        setattr(config, name, value)
    if "primary_private" in values and values["primary_private"] is None:
        config.backup_private = (
            None  # as the original: no private heartbeat path without the primary's
        )
    if config.network != "nat":
        # Direct routing and tunnelling have no NAT router (the original cleared it too).
        config.nat_router = config.nat_router_device = config.nat_nmask = None


def set_redundancy(config: Config, values: dict[str, Any], enable: bool | None) -> None:
    for name, value in values.items():
        setattr(config, name, value)
    if isinstance(config.monitor_links, bool):  # a checkbox here, an int in lvs.cf
        config.monitor_links = int(config.monitor_links)
    if enable is not None:
        config.backup_active = enable
    if config.primary_private is None:
        config.backup_private = None


# --- virtual servers -------------------------------------------------------------------------
def add_virtual(config: Config) -> int:
    """ADD: a new inactive virtual server (defaults as the daemons read them); returns its index."""
    name = unique_name("[server_name]", (v.name for v in config.virtuals))
    config.virtuals.append(Virtual(name=name, address="0.0.0.0", device="eth0:1"))
    return len(config.virtuals) - 1


def delete_virtual(config: Config, index: int) -> Virtual:
    return config.virtuals.pop(index)


def toggle_virtual(config: Config, index: int) -> bool:
    virtual = config.virtuals[index]
    virtual.active = not virtual.active
    return virtual.active


def set_block(block: Virtual | Server | Failover, values: dict[str, Any]) -> None:
    for name, value in values.items():
        setattr(block, name, value)


# --- real servers ----------------------------------------------------------------------------
def add_server(virtual: Virtual) -> int:
    name = unique_name("[unnamed]", (s.name for s in virtual.servers))
    virtual.servers.append(Server(name=name, address="0.0.0.0"))
    return len(virtual.servers) - 1


def delete_server(virtual: Virtual, index: int) -> Server:
    return virtual.servers.pop(index)


def toggle_server(virtual: Virtual, index: int) -> bool:
    server = virtual.servers[index]
    server.active = not server.active
    return server.active


# --- failover services -----------------------------------------------------------------------
def add_failover(config: Config) -> int:
    name = unique_name("[service_name]", (f.name for f in config.failovers))
    config.failovers.append(Failover(name=name, address="0.0.0.0", device="eth0:1"))
    return len(config.failovers) - 1


def delete_failover(config: Config, index: int) -> Failover:
    return config.failovers.pop(index)


def toggle_failover(config: Config, index: int) -> bool:
    failover = config.failovers[index]
    failover.active = not failover.active
    return failover.active


# --- diagnostics back to fields -----------------------------------------------------------
def field_messages(
    diagnostics: Iterable[Diagnostic], scope: tuple[Any, ...], specs: list[FieldSpec]
) -> tuple[dict[str, list[str]], list[str]]:
    """Split `diagnostics` into messages per field of the block at `scope`, and the rest."""
    by_key: dict[str, str] = {}
    for spec in specs:
        for key in spec.diagnostic_keys:
            by_key.setdefault(key, spec.name)
    per_field: dict[str, list[str]] = {}
    general: list[str] = []
    for d in diagnostics:
        name = by_key.get(d.key or "") if tuple(d.scope) == tuple(scope) else None
        if name is not None:
            per_field.setdefault(name, []).append(d.message)
        else:
            general.append(d.message)
    return per_field, general
