"""Config -> lvs.cf text in the original Configuration Tool's layout.

Layout (parse.php ``write_config``): global ``key = value`` lines at column
0 in the GUI's key order, then every failover block, then every virtual
block; block keys indented 5 spaces, ``server`` headers 5, server keys 9,
server closers 5, block closers at column 0; no blank lines.  A key is
written when it is set and differs from its default, or when the GUI always
wrote it (`KeySpec.always`).
"""

from __future__ import annotations

from typing import Any

from .schema import FAILOVER, GLOBAL, KEYS, SERVER, VIRTUAL, KeySpec
from .values import format_seconds

BLOCK_INDENT = " " * 5
SERVER_KEY_INDENT = " " * 9
_SPECIAL = {"=", "{", "}", "[", "]"}


def render_token(value: str, force_quotes: bool = False) -> str | None:
    """`value` as one lvs.cf token: bare when it can be, else quoted; None if impossible.

    Quotes are needed for an empty value, blanks, a leading quote or ``#``,
    and the bare words ``= { } [ ]``.  ``"`` is preferred; ``'`` when the
    value holds ``"``.  A value needing quotes that holds both cannot be
    written (lvs.cf has no escapes).
    """
    needs = value == "" or value in _SPECIAL or value[0] in "\"'#" or " " in value or "\t" in value
    if not needs and not force_quotes:
        return value
    if '"' not in value:
        return f'"{value}"'
    if "'" not in value:
        return f"'{value}'"
    return None if needs else value


def format_value(spec: KeySpec, block: Any) -> str:
    """The text after ``key = `` for `spec` in `block` (which must be writable)."""
    value = getattr(block, spec.key)
    kind = spec.type
    if kind == "bool":
        return "1" if value else "0"
    if kind in ("int", "port"):
        return str(value)
    if kind == "seconds":
        return format_seconds(value)
    if kind == "hostdev":
        return f"{_token(value)} {_token(getattr(block, spec.device_field or ''))}"
    if kind == "list":
        return " ".join(["[", *(_token(x) for x in value), "]"])
    return _token(value, spec.gui_quoted)


def _token(value: str, force_quotes: bool = False) -> str:
    token = render_token(value, force_quotes)
    if token is None:  # check()/writability() refuse such values before we get here
        raise ValueError(f"cannot write {value!r} as an lvs.cf token")
    return token


def is_set(spec: KeySpec, block: Any) -> bool:
    """Whether the key has a value to write (IP DEV keys need both halves)."""
    value = getattr(block, spec.key)
    if value is None:
        return False
    # IP DEV with no device: only the default address (writability() refuses the rest)
    return not (spec.device_field and getattr(block, spec.device_field) is None)


def differs_from_default(spec: KeySpec, block: Any) -> bool:
    if spec.device_field:
        return (
            getattr(block, spec.device_field) is not None
            or getattr(block, spec.key) != spec.default
        )
    return getattr(block, spec.key) != spec.default


def canonical_keys(section: str, block: Any) -> list[KeySpec]:
    """The keys dumps() writes for `block`, in order."""
    out = []
    for spec in KEYS[section].values():
        if not is_set(spec, block):
            continue
        always = (
            spec.always if isinstance(spec.always, bool) else getattr(block, spec.always) is True
        )
        if always or differs_from_default(spec, block):
            out.append(spec)
    return out


def key_line(indent: str, spec: KeySpec, block: Any) -> str:
    return f"{indent}{spec.key} = {format_value(spec, block)}"


def block_lines(
    section: str, block: Any, indent: str = "", key_indent: str | None = None
) -> list[str]:
    """``virtual NAME {`` ... ``}`` (with servers) as lines without line ends."""
    if key_indent is None:
        key_indent = indent + (BLOCK_INDENT if section != SERVER else "    ")
    lines = [f"{indent}{section} {_token(block.name)} {{"]
    lines += [key_line(key_indent, spec, block) for spec in canonical_keys(section, block)]
    if section == VIRTUAL:
        for server in block.servers:
            lines += block_lines(SERVER, server, key_indent)
    lines.append(f"{indent}}}")
    return lines


def dump_lines(config: Any) -> list[str]:
    lines = [key_line("", spec, config) for spec in canonical_keys(GLOBAL, config)]
    for failover in config.failovers:
        lines += block_lines(FAILOVER, failover)
    for virtual in config.virtuals:
        lines += block_lines(VIRTUAL, virtual)
    return lines


def dumps(config: Any) -> str:
    """A fresh lvs.cf for `config` in the canonical layout (comments are not kept).

    Raises ConfigError when a value cannot be written (see `check`).
    """
    from .checks import writability
    from .diagnostics import ConfigError

    problems = writability(config)
    if problems:
        raise ConfigError(problems)
    return "".join(line + "\n" for line in dump_lines(config))
