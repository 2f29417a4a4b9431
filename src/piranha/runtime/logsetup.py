"""Logging the way the original daemons did it.

In the foreground (``--nodaemon``) every message goes to stdout as
``<prefix>: <message>`` (``pulse: ...``, ``lvs: ...``, ``nanny: ...``), which
is what operators and the original lvsd's sorry-server logic read.  As a
daemon, messages go to syslog with the daemon's ident, facility daemon,
priority info (debug with ``-v``).  If there is no syslog socket, stderr.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys


class _PrefixFormatter(logging.Formatter):
    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def format(self, record: logging.LogRecord) -> str:
        return f"{self.prefix}: {record.getMessage()}"


def setup_logging(
    ident: str,
    *,
    foreground: bool,
    verbose: bool = False,
    prefix: str | None = None,
    stream=None,
) -> logging.Logger:
    """Configure and return the logger ``piranha.<ident>``.

    ``prefix`` is the stdout prefix when different from ``ident`` (lvsd
    prints ``lvs:`` as the original did).
    """
    logger = logging.getLogger(f"piranha.{ident}")
    logger.handlers.clear()
    logger.propagate = False
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)
    handler: logging.Handler
    if foreground:
        handler = logging.StreamHandler(stream or sys.stdout)
        handler.setFormatter(_PrefixFormatter(prefix or ident))
    elif os.path.exists("/dev/log"):
        handler = logging.handlers.SysLogHandler(
            address="/dev/log", facility=logging.handlers.SysLogHandler.LOG_DAEMON
        )
        handler.ident = f"{ident}[{os.getpid()}]: "
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_PrefixFormatter(prefix or ident))
    logger.addHandler(handler)
    return logger
