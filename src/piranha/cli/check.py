"""`piranha check`: validate lvs.cf.

Exit 0 when there is no error (warnings go to stderr), 2 with one
``FILE:LINE:COL: error: ...`` line per error, 1 when the file cannot be read.
"""

from __future__ import annotations

import argparse
import sys

from piranha.config import ConfigError, config_path, parse, read_text
from piranha.runtime.machine import machine_environment


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="piranha check", description="Validate lvs.cf.")
    parser.add_argument(
        "-c",
        "--configfile",
        metavar="FILE",
        help="configuration file (default: $PIRANHA_CONFIG or /etc/sysconfig/ha/lvs.cf)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    path = config_path(args.configfile)
    try:
        text = read_text(path)
    except OSError as exc:
        print(f"piranha check: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    try:
        config = parse(text, filename=str(path), environment=machine_environment())
    except ConfigError as exc:
        shown = exc.diagnostics if not args.quiet else exc.errors
        for diagnostic in shown:
            print(diagnostic, file=sys.stderr)
        return 2
    if not args.quiet:
        for diagnostic in config.warnings:
            print(diagnostic, file=sys.stderr)
        virtuals, failovers = len(config.virtuals), len(config.failovers)
        print(
            f"{path}: OK ({virtuals} virtual server{'s' * (virtuals != 1)}, "
            f"{failovers} failover service{'s' * (failovers != 1)}, "
            f"{len(config.warnings)} warning{'s' * (len(config.warnings) != 1)})"
        )
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
