"""The configuration as data: `Config`, `Virtual`, `Server`, `Failover`.

Attribute names are the lvs.cf keywords; the fields come from the schema
table (schema.py), so a keyword added there appears here too.  Two-value
keys are split: ``address = IP DEV`` fills ``address`` and ``device``;
``nat_router = IP DEV`` fills ``nat_router`` and ``nat_router_device``.

``==`` compares values only: ``loc`` (line and column of each key as read),
``origin`` (which block of the file this one was read from; ``update`` uses
it to find the block again), ``filename`` and ``warnings`` are bookkeeping.
"""

from __future__ import annotations

import inspect
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

from .diagnostics import Diagnostic
from .schema import FAILOVER, GLOBAL, KEYS, SERVER, VIRTUAL, KeySpec

_PY_TYPES = {
    "int": "int", "bool": "bool", "port": "int", "seconds": "float", "host": "str", "ip": "str", "mask": "str",
    "string": "str", "choice": "str", "hostdev": "str", "list": "list[str]",
}  # fmt: skip

Loc = dict[str, tuple[int, int]]


def _annotation(spec: KeySpec) -> str:
    t = _PY_TYPES[spec.type]
    return f"{t} | None" if spec.default is None else t


def _default(spec: KeySpec) -> Any:
    if isinstance(spec.default, list):  # pragma: no cover - no key has a list default
        return field(default_factory=lambda d=spec.default: list(d))
    return spec.default


def _with_schema_fields(section: str):
    """Class decorator: add one field per schema key of `section`, then make a dataclass.

    Fields already annotated in the class body come first (``name``), then
    the schema's keys in canonical order, then the rest of the body's
    annotations (child lists and bookkeeping).
    """

    def decorate(cls: type) -> type:
        own = dict(inspect.get_annotations(cls))
        head = {k: v for k, v in own.items() if k == "name"}
        tail = {k: v for k, v in own.items() if k != "name"}
        generated: dict[str, Any] = {"_kw": KW_ONLY}
        for spec in KEYS[section].values():
            generated[spec.key] = _annotation(spec)
            setattr(cls, spec.key, _default(spec))
            if spec.device_field:
                generated[spec.device_field] = "str | None"
                setattr(cls, spec.device_field, None)
        cls.__annotations__ = {**head, **generated, **tail}
        return dataclass(eq=True)(cls)

    return decorate


def _bookkeeping() -> Any:
    return field(default_factory=dict, compare=False, repr=False)


@_with_schema_fields(SERVER)
class Server:
    """``server NAME { ... }`` inside a virtual block: one real server."""

    name: str
    loc: Loc = _bookkeeping()
    origin: int | None = field(default=None, compare=False, repr=False)


@_with_schema_fields(VIRTUAL)
class Virtual:
    """``virtual NAME { ... }``: one virtual service and its real servers."""

    name: str
    servers: list[Server] = field(default_factory=list)
    loc: Loc = _bookkeeping()
    origin: int | None = field(default=None, compare=False, repr=False)

    def server_port(self, server: Server) -> int:
        """The port of `server`: its own ``port``, else this virtual's ``port``.

        Unlike the original (which copied the virtual's port when it read the
        ``server`` line), it does not matter where in the block ``port =`` is.
        For a fwmark service this is the health-check port; traffic keeps the
        destination port the client used, as in IPVS.
        """
        return self.port if server.port is None else server.port

    def fwmark_port_ranges(self) -> list[tuple[int, int]]:
        """``fwmark_ports`` as inclusive (low, high) ranges; [] when unset.

        Raises ValueError for text that `check` would reject.
        """
        from .values import parse_port_ranges

        return [] if self.fwmark_ports is None else parse_port_ranges(self.fwmark_ports)

    def sched_flag_list(self) -> list[str]:
        """``sched_flags`` as a list of flag names; [] when unset."""
        if not self.sched_flags:
            return []
        return [f.strip() for f in self.sched_flags.split(",") if f.strip()]


@_with_schema_fields(FAILOVER)
class Failover:
    """``failover NAME { ... }``: one failover service (service = fos)."""

    name: str
    loc: Loc = _bookkeeping()
    origin: int | None = field(default=None, compare=False, repr=False)


@_with_schema_fields(GLOBAL)
class Config:
    """A whole lvs.cf: the global keys, the failover and the virtual blocks."""

    virtuals: list[Virtual] = field(default_factory=list)
    failovers: list[Failover] = field(default_factory=list)
    loc: Loc = _bookkeeping()
    filename: str = field(default="lvs.cf", compare=False, repr=False)
    warnings: list[Diagnostic] = field(default_factory=list, compare=False, repr=False)

    @property
    def effective_primary_private(self) -> str:
        """Second heartbeat address of the primary: ``primary_private``, else ``primary``."""
        return self.primary if self.primary_private is None else self.primary_private

    @property
    def effective_backup_private(self) -> str:
        """Second heartbeat address of the backup: ``backup_private``, else ``backup``.

        (The original overwrote ``backup_private`` with ``backup`` whenever
        ``primary_private`` was absent; here each follows its own key.)
        """
        return self.backup if self.backup_private is None else self.backup_private

    def active_virtuals(self) -> list[Virtual]:
        return [v for v in self.virtuals if v.active]

    def active_failovers(self) -> list[Failover]:
        return [f for f in self.failovers if f.active]


Block = Config | Virtual | Server | Failover

SECTION_OF: dict[type, str] = {Config: GLOBAL, Virtual: VIRTUAL, Server: SERVER, Failover: FAILOVER}


def schema_fields(block: Block) -> list[str]:
    """Names of the model fields that hold lvs.cf values (keys and devices)."""
    names = []
    for spec in KEYS[SECTION_OF[type(block)]].values():
        names.append(spec.key)
        if spec.device_field:
            names.append(spec.device_field)
    return names
