"""`piranha format`: print lvs.cf in the canonical layout (or write it back with -w)."""

from __future__ import annotations

import argparse
import sys

from piranha.config import ConfigError, config_path, dumps, parse, read_text, relayout, save
from piranha.runtime.machine import machine_environment


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="piranha format",
        description="Print lvs.cf in the Configuration Tool's canonical layout. "
        "Comments are dropped unless --keep-layout is given.",
    )
    parser.add_argument(
        "-c",
        "--configfile",
        metavar="FILE",
        help="configuration file (default: $PIRANHA_CONFIG or /etc/sysconfig/ha/lvs.cf)",
    )
    parser.add_argument(
        "--keep-layout",
        action="store_true",
        help="only re-indent (5/9 spaces) and space `key = value`; keep comments, blank lines and order",
    )
    parser.add_argument(
        "-w",
        "--write",
        action="store_true",
        help="replace the file (atomically, old one kept as FILE.bak) instead of printing",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    path = config_path(args.configfile)
    try:
        text = read_text(path)
    except OSError as exc:
        print(f"piranha format: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    try:
        config = parse(text, filename=str(path), environment=machine_environment())
    except ConfigError as exc:
        for diagnostic in exc.errors:
            print(diagnostic, file=sys.stderr)
        print(f"piranha format: {path} has errors; not formatting it", file=sys.stderr)
        return 2
    result = relayout(text) if args.keep_layout else dumps(config)
    if not args.write:
        sys.stdout.write(result)
        return 0
    if result == text:
        return 0
    try:
        save(path, result)
    except OSError as exc:
        print(f"piranha format: cannot write {path}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
