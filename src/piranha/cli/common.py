"""What the daemons' command lines share."""

from __future__ import annotations

import sys
from pathlib import Path

from piranha.config import Config, ConfigError, load


def read_config(path: Path, prog: str, environment=None) -> Config | None:
    """The configuration, or None after saying on stderr what is wrong (``<prog>: ...``)."""
    try:
        return load(path, environment) if environment is not None else load(path)
    except OSError as exc:
        print(f"{prog}: failed to open {path}: {exc.strerror or exc}", file=sys.stderr)
    except ConfigError as exc:
        print(f"{prog}: error parsing {path}:", file=sys.stderr)
        for diagnostic in exc.diagnostics:
            print(diagnostic, file=sys.stderr)
    return None
