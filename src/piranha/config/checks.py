"""Semantic checks: is this configuration something the daemons can run?

Works on a `Config` however it was made (read from a file, or built by the
GUI), so it re-checks what the reader already guarantees for files: types,
ranges, names, and that every value can be written back to lvs.cf.  This
module checks single values; rules.py the rules between keys and blocks,
which run only on blocks whose values are sound.
Locations come from each block's ``loc``; a configuration built in code has
none and its diagnostics name the block instead.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .diagnostics import ERROR, WARNING, Diagnostic, Scope, sort_key
from .environment import Environment
from .model import SECTION_OF, Config, Failover, Server, Virtual
from .rules import Rules, blocks_of, is_int, location, suggest
from .schema import KEYS, KeySpec
from .values import (
    SECONDS_DECIMALS,
    describe_char,
    forbidden_char,
    format_seconds,
    inet_aton,
    is_hostname,
    mask_is_contiguous,
)
from .writer import render_token

Block = Config | Virtual | Server | Failover
MAX_DEVICE = 15  # IFNAMSIZ - 1


@dataclass
class Finding:
    diagnostic: Diagnostic
    involves: tuple[Scope, ...]  # every block the finding depends on


def check(config: Config, environment: Environment | None = None) -> list[Diagnostic]:
    """Semantic checks only: every error and warning, in file order."""
    return sorted((f.diagnostic for f in findings(config, environment)), key=sort_key)


def findings(config: Config, environment: Environment | None = None) -> list[Finding]:
    return _Checker(config, environment or Environment()).run()


def writability(config: Config) -> list[Diagnostic]:
    """Only what stops the writer: wrong types and values lvs.cf cannot hold."""
    checker = _Checker(config, Environment.hermetic())
    checker.all_blocks(values_only=True)
    return [f.diagnostic for f in checker.found if f.diagnostic.is_error]


class _Checker(Rules):
    def __init__(self, config: Config, env: Environment):
        self.config = config
        self.env = env
        self.file = config.filename
        self.found: list[Finding] = []
        self._resolved: dict[str, str | None] = {}

    # --- reporting -----------------------------------------------------------
    def add(
        self,
        severity: str,
        block: Block,
        scope: Scope,
        label: str,
        key: str | None,
        message: str,
        token: Any = "",
        involves: Iterable[Scope] | None = None,
    ) -> None:
        line, col = location(block, key)
        if not line and label and label not in message:
            message = f"{message} ({label})"  # no line to point at: say which block
        diag = Diagnostic(severity, message, self.file, line, col, _token_text(token), key, scope)
        self.found.append(Finding(diag, tuple(involves) if involves is not None else (scope,)))

    def error(self, *args: Any, **kw: Any) -> None:
        self.add(ERROR, *args, **kw)

    def warning(self, *args: Any, **kw: Any) -> None:
        self.add(WARNING, *args, **kw)

    # --- driver --------------------------------------------------------------------
    def run(self) -> list[Finding]:
        self.all_blocks(values_only=False)
        if id(self.config) in self.sound:
            self.global_rules()
        self.cross_block_rules()
        return self.found

    def all_blocks(self, values_only: bool) -> None:
        """Check every value; then, for blocks whose values are sound, their rules."""
        cfg = self.config
        self.sound: set[int] = set()  # id() of blocks without value errors
        self.values(cfg, (), "", values_only)
        for i, v in enumerate(blocks_of(cfg.virtuals, Virtual)):
            scope = ("virtuals", i)
            label = f"virtual `{v.name}`"
            self.name(v, scope, label, "virtual")
            self.values(v, scope, label, values_only)
            servers_sound = True
            for j, s in enumerate(blocks_of(v.servers, Server)):
                sscope = (*scope, "servers", j)
                slabel = f"server `{s.name}` of {label}"
                self.name(s, sscope, slabel, "server")
                self.values(s, sscope, slabel, values_only)
                servers_sound &= id(s) in self.sound
            if not values_only and id(v) in self.sound:
                for j, s in enumerate(blocks_of(v.servers, Server)):
                    if id(s) in self.sound:
                        self.server_rules(
                            v, s, (*scope, "servers", j), f"server `{s.name}` of {label}"
                        )
                if servers_sound:
                    self.virtual_rules(v, scope, label)
        for i, f in enumerate(blocks_of(cfg.failovers, Failover)):
            scope = ("failovers", i)
            label = f"failover `{f.name}`"
            self.name(f, scope, label, "failover")
            self.values(f, scope, label, values_only)
            if not values_only and id(f) in self.sound:
                self.failover_rules(f, scope, label)

    # --- every value: type, range, choice, writability ---------------------------
    def name(self, block: Block, scope: Scope, label: str, kind: str) -> None:
        name = getattr(block, "name", None)
        if not isinstance(name, str) or not name:
            self.error(block, scope, label, "{", f"a {kind} block needs a non-empty name", name)
        elif (bad := forbidden_char(name)) is not None:
            self.error(
                block,
                scope,
                label,
                "{",
                f"{describe_char(bad)} in the name of a {kind} block",
                name,
            )
        elif render_token(name) is None:
            self.error(
                block,
                scope,
                label,
                "{",
                f"the name of {label} holds both kinds of quote; lvs.cf cannot write it",
                name,
            )

    def values(self, block: Block, scope: Scope, label: str, values_only: bool) -> None:
        section = SECTION_OF[type(block)]
        where = f" in {label}" if label else ""
        errors_before = sum(f.diagnostic.is_error for f in self.found)
        for spec in KEYS[section].values():
            value = getattr(block, spec.key, None)
            if (
                value == spec.default
                and type(value) is type(spec.default)
                and not spec.device_field
            ):
                continue  # defaults are valid
            if value is None:
                if spec.device_field and getattr(block, spec.device_field, None) is not None:
                    self.error(
                        block,
                        scope,
                        label,
                        spec.key,
                        f"`{spec.device_field}` is set but `{spec.key}` is not{where}",
                    )
                elif spec.default is not None:
                    self.error(
                        block,
                        scope,
                        label,
                        spec.key,
                        f"`{spec.key}` must have a value{where} (its default is {_token_text(spec.default)})",
                    )
                continue
            problem = _type_problem(spec, value)
            if problem is None:
                problem = self.value_problem(spec, value, block, values_only)
            if problem is not None:
                head, dash, hint = problem.partition(" — ")
                self.error(block, scope, label, spec.key, f"{head}{where}{dash}{hint}", value)
            elif spec.unused and not values_only:
                self.warning(
                    block, scope, label, spec.key, f"`{spec.key}` has {spec.meaning}{where}", value
                )
        if sum(f.diagnostic.is_error for f in self.found) == errors_before:
            self.sound.add(id(block))

    def value_problem(
        self, spec: KeySpec, value: Any, block: Block, values_only: bool
    ) -> str | None:
        problem = self.unwritable(spec, value, block)
        if problem is not None or values_only:
            return problem
        key, kind = spec.key, spec.type
        if kind in ("int", "port", "seconds") and spec.range is not None:
            low, high = spec.range
            if not low <= value <= high:
                show = format_seconds if kind == "seconds" else str
                return f"`{key}` = {show(value)} is out of range {show(low)}-{show(high)}"
            if kind == "seconds" and round(value, SECONDS_DECIMALS) != value:
                return f"`{key}` = {value} has more than {SECONDS_DECIMALS} decimals"
        elif kind == "choice" and value not in spec.choices:
            hint = suggest(value, spec.choices)
            what = (
                f"unknown scheduler `{value}`"
                if key == "scheduler"
                else f"`{key}` = {value} is not valid"
            )
            return f"{what} (known: {', '.join(spec.choices)})" + (
                f" — did you mean `{hint}`?" if hint else ""
            )
        elif kind in ("host", "ip", "mask", "hostdev"):
            return self.address_problem(spec, value)
        return None

    def unwritable(self, spec: KeySpec, value: Any, block: Block) -> str | None:
        """What stops the value from being written as lvs.cf (the writers refuse it)."""
        key = spec.key
        texts = value if spec.type == "list" else [value] if isinstance(value, str) else []
        for text in texts:
            bad = forbidden_char(text)
            if bad is not None:
                return f"{describe_char(bad)} in `{key}`; lvs.cf values are single lines without control characters"
            if render_token(text, spec.gui_quoted) is None:
                return (
                    f"`{key}` holds both `\"` and `'` and blanks; lvs.cf has no way to quote that"
                )
        if spec.device_field:
            return self.device_problem(spec, value, getattr(block, spec.device_field, None))
        return None

    def address_problem(self, spec: KeySpec, value: str) -> str | None:
        key = spec.key
        dotted = inet_aton(value)
        if dotted is not None:
            if dotted != value:
                return f"`{key}` = {value} must be written as a dotted quad: {dotted}"
            if spec.type == "mask" and not mask_is_contiguous(value):
                return f"`{key}` = {value} is not a netmask (its one-bits must be contiguous, e.g. 255.255.255.0)"
            if (
                value == "0.0.0.0"
                and spec.default is None
                and spec.type != "mask"
                and not spec.unused
            ):
                return (
                    f"`{key}` = 0.0.0.0 is not a usable address; remove the line to leave it unset"
                )
            return None
        if spec.type in ("ip", "mask"):
            return f"`{key}` = {value} is not an IPv4 {'netmask' if spec.type == 'mask' else 'address'}"
        if not is_hostname(value):
            return f"`{key}` = {value} is neither an IPv4 address nor a host name"
        if spec.unused:
            return None
        address = self.lookup(value)
        if address is None:
            return f"cannot resolve host name `{value}` for `{key}`; use an IPv4 address or fix name resolution"
        if address == "0.0.0.0" and key in ("primary", "primary_private", "backup_private"):
            return f"`{key}` = {value} resolves to 0.0.0.0"
        return None

    def device_problem(self, spec: KeySpec, address: str, device: Any) -> str | None:
        key = spec.key
        if device is None:
            if address == spec.default:
                return None
            return f"`{key}` needs a device as well, e.g. `{key} = {address} eth0:1`"
        if not isinstance(device, str):
            return f"the device of `{key}` must be a string"
        if not device or len(device) > MAX_DEVICE:
            return f"device `{device}` of `{key}` must be 1-{MAX_DEVICE} characters"
        if (
            any(c in device for c in " \t/\"'")
            or forbidden_char(device)
            or device.startswith("#")
            or device in (".", "..")
        ):
            return f"`{device}` is not a valid device name for `{key}` (e.g. eth0 or eth0:1)"
        return None

    def lookup(self, name: str) -> str | None:
        if name not in self._resolved:
            self._resolved[name] = self.env.resolve_host(name)
        return self._resolved[name]


# --- value-level helpers ---------------------------------------------------------------
def _type_problem(spec: KeySpec, value: Any) -> str | None:
    kind = spec.type
    if kind in ("int", "port"):
        return None if is_int(value) else f"`{spec.key}` must be an integer, not {value!r}"
    if kind == "seconds":
        ok = (is_int(value) or isinstance(value, float)) and math.isfinite(value)
        return None if ok else f"`{spec.key}` must be a number of seconds, not {value!r}"
    if kind == "bool":
        return None if isinstance(value, bool) else f"`{spec.key}` must be a boolean, not {value!r}"
    if kind == "list":
        ok = isinstance(value, list) and all(isinstance(x, str) for x in value)
        return None if ok else f"`{spec.key}` must be a list of strings"
    return None if isinstance(value, str) else f"`{spec.key}` must be a string, not {value!r}"


def _token_text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, list):
        return " ".join(str(x) for x in value)
    return "" if value is None else str(value)


__all__ = ["Finding", "check", "findings", "writability"]
