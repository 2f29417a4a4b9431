"""The rules that tie keys together: what the daemons need beyond valid single values.

A mixin of the checker in checks.py (which first makes sure every value
has the right type and range): failover of the routers, the virtual
services and their real servers, failover services, and conflicts between
blocks.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .diagnostics import Scope
from .escapes import translate_escapes
from .model import Config, Failover, Server, Virtual
from .regex import compile_expect
from .schema import SCHED_FLAGS
from .values import parse_port_ranges

if TYPE_CHECKING:  # pragma: no cover
    from .environment import Environment

Block = Config | Virtual | Server | Failover


class Rules:
    config: Config
    env: Environment
    sound: set[int]

    def error(self, *args: Any, **kw: Any) -> None:  # pragma: no cover - see _Checker
        raise NotImplementedError

    def warning(self, *args: Any, **kw: Any) -> None:  # pragma: no cover - see _Checker
        raise NotImplementedError

    # --- global rules -------------------------------------------------------
    def global_rules(self) -> None:
        c = self.config
        g: Scope = ()

        def err(key: str, message: str, token: Any = "") -> None:
            self.error(c, g, "", key, message, token)

        def warn(
            key: str, message: str, token: Any = "", involves: Iterable[Scope] | None = None
        ) -> None:
            self.warning(c, g, "", key, message, token, involves)

        if c.backup_active is True:
            if c.backup in (None, "0.0.0.0"):
                err(
                    "backup_active",
                    "backup_active = 1 but no `backup` address is set — set `backup = IP` of the backup router, or `backup_active = 0`",
                    1,
                )
            if c.primary in (None, "0.0.0.0"):
                err(
                    "backup_active",
                    "backup_active = 1 but `primary` is not set — the routers cannot tell which one is the primary; set `primary = IP`",
                    1,
                )
            elif c.backup == c.primary:
                err(
                    "backup",
                    f"`backup` = {c.backup} is the same address as `primary`; the two routers need different addresses",
                    c.backup,
                )
        if c.network == "tunnel" and self.env.tunnel_possible is False:
            err(
                "network",
                "network = tunnel, but this machine cannot tunnel (kernel IPVS and the ipip module are needed); use `network = direct` or `nat`",
                "tunnel",
            )
        if c.network == "nat":
            uses_virtuals = c.service == "lvs" and any(
                v.active for v in blocks_of(c.virtuals, Virtual)
            )
            if c.nat_router is None and (c.backup_active is True or uses_virtuals):
                warn(
                    "network",
                    "network = nat without `nat_router`: the real servers need a gateway address that moves with the active router; set `nat_router = IP DEVICE`",
                    "nat",
                    involves=[g, *_scopes(c)],
                )
        elif c.nat_router is not None:
            warn(
                "nat_router", f"`nat_router` has no effect with network = {c.network}", c.nat_router
            )
        if c.nat_nmask is not None and c.nat_router is None:
            warn("nat_nmask", "`nat_nmask` has no effect without `nat_router`", c.nat_nmask)
        if is_seconds(c.keepalive) and is_seconds(c.deadtime) and 0 < c.deadtime <= c.keepalive:
            warn(
                "deadtime",
                f"deadtime = {c.deadtime} is not longer than keepalive = {c.keepalive}: the backup will take over after a single late heartbeat; use several keepalives",
                c.deadtime,
            )
        if c.service == "fos" and not any(
            f.active is True for f in blocks_of(c.failovers, Failover)
        ):
            warn(
                "service",
                "service = fos but no failover block is active: pulse has nothing to run",
                "fos",
                involves=[g, *_scopes(c)],
            )
        if c.service == "lvs" and not any(v.active is True for v in blocks_of(c.virtuals, Virtual)):
            warn(
                "service",
                "service = lvs but no virtual block is active: pulse has nothing to run",
                "lvs",
                involves=[g, *_scopes(c)],
            )
        if isinstance(c.heartbeat_key_file, str) and not c.heartbeat_key_file.startswith("/"):
            err(
                "heartbeat_key_file",
                "`heartbeat_key_file` must be an absolute path",
                c.heartbeat_key_file,
            )
        for key in ("active_cmd", "inactive_cmd"):
            self.command_rule(c, g, "", key)
        if c.dataplane in ("nftables", "ipvs"):
            for i, v in enumerate(blocks_of(c.virtuals, Virtual)):
                if v.proxy_protocol is True:
                    self.warning(
                        v,
                        ("virtuals", i),
                        f"virtual `{v.name}`",
                        "proxy_protocol",
                        f"`proxy_protocol` needs the userspace data plane; it has no effect with dataplane = {c.dataplane}",
                        1,
                    )

    def command_rule(self, block: Block, scope: Scope, label: str, key: str) -> None:
        value = getattr(block, key, None)
        if isinstance(value, str) and value and not value.startswith("/"):
            where = f" in {label}" if label else ""
            self.warning(
                block,
                scope,
                label,
                key,
                f"`{key}` is run without a shell or PATH search; start it with an absolute path{where}",
                value,
            )

    # --- virtual and server rules ----------------------------------------------
    def virtual_rules(self, v: Virtual, scope: Scope, label: str) -> None:
        if v.active is True and v.address in (None, "0.0.0.0"):
            self.error(
                v,
                scope,
                label,
                "active" if "address" not in v.loc else "address",
                f"{label} is active but has no address — add `address = IP DEVICE` (e.g. `address = 192.168.1.100 eth0:1`) or set `active = 0`",
                "",
            )
        if v.sorry_server == "0.0.0.0":
            self.error(
                v,
                scope,
                label,
                "sorry_server",
                f"`sorry_server` = 0.0.0.0 is not a usable address in {label}",
                v.sorry_server,
            )
        self.fwmark_rules(v, scope, label)
        if v.pmask is not None and v.persistent == 0:
            self.warning(
                v,
                scope,
                label,
                "pmask",
                f"`pmask` has no effect without `persistent` in {label}",
                v.pmask,
            )
        self.sched_flag_rules(v, scope, label)
        self.check_rules(v, scope, label)
        if v.check_tls is True and v.protocol == "udp":
            self.warning(
                v,
                scope,
                label,
                "check_tls",
                f"`check_tls` has no effect for a udp service ({label})",
                1,
            )
        if (
            v.active is True
            and not any(s.active is True for s in blocks_of(v.servers, Server))
            and v.sorry_server is None
        ):
            self.warning(
                v,
                scope,
                label,
                "active",
                f"{label} is active but has no active real server; it will refuse every connection",
                1,
            )
        self.duplicate_names(
            blocks_of(v.servers, Server), scope, "servers", f"server blocks in {label}"
        )
        seen: dict[tuple[str, int], tuple[Server, int]] = {}
        for j, s in enumerate(blocks_of(v.servers, Server)):
            if (
                s.active is not True
                or s.address in (None, "0.0.0.0")
                or not is_int(v.server_port(s))
            ):
                continue
            ident = (s.address, v.server_port(s))
            if ident in seen:
                first, _ = seen[ident]
                self.error(
                    s,
                    (*scope, "servers", j),
                    f"server `{s.name}` of {label}",
                    "address",
                    f"server `{s.name}` and server `{first.name}`{_at(first)} of {label} are the same real server ({ident[0]}:{ident[1]}); change the address or port, or set active = 0",
                    s.address,
                    involves=[scope],
                )
            else:
                seen[ident] = (s, j)

    def fwmark_rules(self, v: Virtual, scope: Scope, label: str) -> None:
        if v.fwmark_ports is None or not isinstance(v.fwmark_ports, str):
            return
        if v.fwmark == 0:
            self.error(
                v,
                scope,
                label,
                "fwmark_ports",
                f"`fwmark_ports` needs `fwmark` (the firewall mark that groups these ports) in {label}",
                v.fwmark_ports,
            )
            return
        try:
            ranges = parse_port_ranges(v.fwmark_ports)
        except ValueError as exc:
            self.error(
                v,
                scope,
                label,
                "fwmark_ports",
                f"`fwmark_ports` = {v.fwmark_ports}: {exc} (write e.g. `21,10000-20000`) in {label}",
                v.fwmark_ports,
            )
            return
        if is_int(v.port) and not any(low <= v.port <= high for low, high in ranges):
            self.error(
                v,
                scope,
                label,
                "port" if "port" in v.loc else "fwmark_ports",
                f"`port` = {v.port} is not among fwmark_ports {v.fwmark_ports} in {label}; for a fwmark service `port` is the health-check port, so set it to one of the grouped ports",
                v.port,
            )

    def sched_flag_rules(self, v: Virtual, scope: Scope, label: str) -> None:
        if not isinstance(v.sched_flags, str):
            return
        flags = [f.strip() for f in v.sched_flags.split(",")]
        for flag in flags:
            if flag not in SCHED_FLAGS:
                hint = suggest(flag, SCHED_FLAGS)
                self.error(
                    v,
                    scope,
                    label,
                    "sched_flags",
                    f"unknown scheduler flag `{flag}` in {label}; known: {', '.join(SCHED_FLAGS)}"
                    + (f" — did you mean `{hint}`?" if hint else ""),
                    flag,
                )
                continue
            owner = SCHED_FLAGS[flag]
            if owner is not None and owner != v.scheduler:
                self.error(
                    v,
                    scope,
                    label,
                    "sched_flags",
                    f"scheduler flag `{flag}` needs `scheduler = {owner}` ({label} uses {v.scheduler})",
                    flag,
                )
            elif owner is None and v.scheduler not in ("sh", "mh"):
                self.warning(
                    v,
                    scope,
                    label,
                    "sched_flags",
                    f"scheduler flag `{flag}` has no effect with scheduler {v.scheduler} ({label})",
                    flag,
                )

    def check_rules(self, block: Virtual | Failover, scope: Scope, label: str) -> None:
        if block.use_regex is True:
            if block.expect is None:
                self.warning(
                    block,
                    scope,
                    label,
                    "use_regex",
                    f"`use_regex` has no effect without `expect` in {label}",
                    1,
                )
            elif isinstance(block.expect, str):
                try:
                    compile_expect(translate_escapes(block.expect))
                except re.error as exc:
                    self.error(
                        block,
                        scope,
                        label,
                        "expect",
                        f"`expect` is not a valid regular expression (use_regex = 1): {exc} in {label}",
                        block.expect,
                    )
        if block.send_program is not None and block.send is not None:
            self.warning(
                block,
                scope,
                label,
                "send",
                f"`send` is ignored when `send_program` is set in {label}",
                block.send,
            )
        if (
            isinstance(block, Virtual)
            and block.check_tls is True
            and block.send_program is not None
        ):
            self.warning(
                block,
                scope,
                label,
                "check_tls",
                f"`check_tls` has no effect on `send_program` in {label}",
                1,
            )

    def server_rules(self, v: Virtual, s: Server, scope: Scope, label: str) -> None:
        if s.active is True and s.address in (None, "0.0.0.0"):
            self.error(
                s,
                scope,
                label,
                "address" if "address" in s.loc else "active",
                f"{label} is active but has no address — add `address = IP` or set `active = 0`",
                "",
            )
        if (
            is_int(s.uthreshold)
            and is_int(s.lthreshold)
            and s.uthreshold
            and s.lthreshold > s.uthreshold
        ):
            self.warning(
                s,
                scope,
                label,
                "lthreshold",
                f"`lthreshold` = {s.lthreshold} is above `uthreshold` = {s.uthreshold} in {label}",
                s.lthreshold,
            )

    # --- failover rules ------------------------------------------------------------
    def failover_rules(self, f: Failover, scope: Scope, label: str) -> None:
        if f.active is True:
            if f.address in (None, "0.0.0.0"):
                self.error(
                    f,
                    scope,
                    label,
                    "active",
                    f"{label} is active but has no address — add `address = IP DEVICE` or set `active = 0`",
                    "",
                )
            for key in ("start_cmd", "stop_cmd"):
                if getattr(f, key) is None:
                    self.error(
                        f,
                        scope,
                        label,
                        "active",
                        f"{label} is active but has no `{key}`; pulse needs it to move the service",
                        "",
                    )
        for key in ("start_cmd", "stop_cmd"):
            self.command_rule(f, scope, label, key)
        self.check_rules(f, scope, label)

    # --- rules across blocks ------------------------------------------------------
    def cross_block_rules(self) -> None:
        c = self.config
        virtuals = [v for v in blocks_of(c.virtuals, Virtual) if id(v) in self.sound]
        failovers = [f for f in blocks_of(c.failovers, Failover) if id(f) in self.sound]
        self.duplicate_names(virtuals, None, "virtuals", "virtual blocks")
        self.duplicate_names(failovers, None, "failovers", "failover blocks")
        seen: dict[tuple[Any, ...], int] = {}
        for i, v in enumerate(virtuals):
            if v.active is not True or v.address in (None, "0.0.0.0"):
                continue
            if v.fwmark:
                ident: tuple[Any, ...] = ("fwmark", v.fwmark)
                shown = f"fwmark {v.fwmark}"
            else:
                ident = (v.protocol, v.address, v.port)
                shown = f"{str(v.protocol).upper()} {v.address}:{v.port}"
            if ident in seen:
                j = seen[ident]
                first = virtuals[j]
                self.error(
                    v,
                    ("virtuals", i),
                    f"virtual `{v.name}`",
                    "address" if not v.fwmark else "fwmark",
                    f"virtual `{v.name}` is the same service as virtual `{first.name}`{_at(first)} ({shown}); change the address, port, protocol or fwmark, or set active = 0",
                    shown,
                    involves=[("virtuals", i), ("virtuals", j)],
                )
            else:
                seen[ident] = i
        fseen: dict[tuple[Any, ...], int] = {}
        for i, f in enumerate(failovers):
            if f.active is not True or f.address in (None, "0.0.0.0"):
                continue
            ident = (f.protocol, f.address, f.port)
            if ident in fseen:
                first_f = failovers[fseen[ident]]
                self.error(
                    f,
                    ("failovers", i),
                    f"failover `{f.name}`",
                    "address",
                    f"failover `{f.name}` is the same service as failover `{first_f.name}`{_at(first_f)} ({f.address}:{f.port}); change one, or set active = 0",
                    f.address,
                    involves=[("failovers", i), ("failovers", fseen[ident])],
                )
            else:
                fseen[ident] = i

    def duplicate_names(
        self, blocks: list[Any], parent: Scope | None, field: str, what: str
    ) -> None:
        first: dict[str, int] = {}
        for i, b in enumerate(blocks):
            if not isinstance(b.name, str):
                continue
            scope: Scope = (*(parent or ()), field, i)
            if b.name in first:
                other = blocks[first[b.name]]
                self.warning(
                    b,
                    scope,
                    "",
                    "{",
                    f"two {what} are named `{b.name}`{_at(other, ' (the other is on line {})')}; the GUI and the logs cannot tell them apart",
                    b.name,
                )
            else:
                first[b.name] = i


# --- helpers -----------------------------------------------------------------------------
def blocks_of(items: Any, kind: type) -> list[Any]:
    return [x for x in items if isinstance(x, kind)] if isinstance(items, list) else []


def _scopes(c: Config) -> list[Scope]:
    return [("virtuals", i) for i in range(len(c.virtuals))] + [
        ("failovers", i) for i in range(len(c.failovers))
    ]


def location(block: Block, key: str | None) -> tuple[int, int]:
    loc = getattr(block, "loc", None) or {}
    if key is not None and key in loc:
        return loc[key]
    return loc.get("{", (0, 0))


def _at(block: Block, template: str = " (line {})") -> str:
    line, _ = location(block, "{")
    return template.format(line) if line else ""


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_seconds(value: Any) -> bool:
    return is_int(value) or isinstance(value, float)


def suggest(word: Any, choices: Iterable[str]) -> str | None:
    if not isinstance(word, str):
        return None
    lowered = {c.lower(): c for c in choices}
    match = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.5)
    return lowered[match[0]] if match else None
