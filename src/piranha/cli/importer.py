"""``piranha import ldirectord FILE [-o OUT]``: another balancer's configuration as lvs.cf.

Writes the lvs.cf to stdout (or OUT, atomically, keeping OUT.bak) with the
notes — what did not carry over, by line of FILE — as comments at its top
and on stderr.  The result is checked as ``piranha check`` would: exit 0
when it is valid, 2 (and nothing written) when it is not, 1 when FILE
cannot be read.  The conversion rules are in docs/import-ldirectord.md.
"""

from __future__ import annotations

import argparse
import sys

from piranha import __version__
from piranha.config import ConfigError, Environment, dumps, parse, save
from piranha.config.ldirectord import convert

KINDS = ("ldirectord",)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="piranha import",
        description="Convert another load balancer's configuration to lvs.cf.",
    )
    p.add_argument("kind", choices=KINDS, help="what FILE is: ldirectord (ldirectord.cf)")
    p.add_argument("file", metavar="FILE", help="the configuration to convert")
    p.add_argument("-o", "--output", metavar="OUT", help="write lvs.cf here (default: stdout)")
    return p


def render(text: str, source: str, environment: Environment | None = None) -> tuple[str, list[str]]:
    """The lvs.cf text for ldirectord.cf `text`, and the notes as `source:line: note:` lines."""
    conversion = convert(text, environment)
    notes = [
        f"{source}:{n.line}: note: {n.message}" if n.line else f"{source}: note: {n.message}"
        for n in conversion.notes
    ]
    header = [
        f"# Converted from {source} by `piranha import ldirectord` (piranha {__version__}).",
        "# Review these notes, then run `piranha check -c` on this file:",
    ]
    header += [f"#   {n!s}" for n in conversion.notes] or ["#   (none)"]
    return "\n".join(header) + "\n" + dumps(conversion.config), notes


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    try:
        with open(args.file, encoding="utf-8", errors="surrogateescape") as f:
            text = f.read()
    except OSError as exc:
        print(f"piranha import: cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    environment = Environment()
    lvs_cf, notes = render(text, args.file, environment)
    for line in notes:
        print(line, file=sys.stderr)
    target = args.output or "<stdout>"
    try:
        parse(lvs_cf, filename=target, environment=environment)
    except ConfigError as exc:
        print(
            "piranha import: the converted lvs.cf does not pass the check; nothing written:",
            file=sys.stderr,
        )
        print(str(exc), file=sys.stderr)
        return 2
    if args.output:
        try:
            save(args.output, lvs_cf)
        except OSError as exc:
            print(
                f"piranha import: cannot write {args.output}: {exc.strerror or exc}",
                file=sys.stderr,
            )
            return 1
    else:
        sys.stdout.write(lvs_cf)
    return 0
