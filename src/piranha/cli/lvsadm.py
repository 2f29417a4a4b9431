"""``lvsadm``: ipvsadm for piranha's table.

The command line, outputs and exit statuses are ipvsadm 1.31's
(:mod:`piranha.table.ipvsadm`).  The table lives in ``lvsd``; lvsadm checks
the command line here (so ``-h``, ``-v`` and refused command lines answer
without a daemon), then hands it to lvsd over the control socket, which
runs it on the live table and sends back what to print.

Request (JSON line): ``{"op": "lvsadm", "argv": [...], "stdin": "...",
"prog": "lvsadm"}``; answer: ``{"exit_code": int, "stdout": str, "stderr":
str, "changed": bool}`` (the fields of :class:`piranha.table.ipvsadm.Result`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

from piranha.runtime.control import ControlClient, ControlError, NotRunning
from piranha.runtime.paths import socket_path
from piranha.runtime.resolver import SystemResolver
from piranha.table.ipvsadm import Result, UsageError, parse_args
from piranha.table.ipvsadm.texts import usage_text, version_line

# Runs one command line (argv without the program name, stdin for -R) on the live table.
TableRunner = Callable[[list[str], str], Result]

__all__ = ["SystemResolver", "TableRunner", "lvsd_socket", "main", "no_lvsd_message"]

# Appended to ipvsadm's help: where the table lives and what an edit lasts for.
HELP_NOTE = """
{prog} works on the table of the running lvsd (through its control socket
{socket}). Changes made with {prog} are run-time only, as with ipvsadm: lvs.cf
is not changed; a reload of lvsd applies what changed in lvs.cf, a restart
rebuilds the table from lvs.cf, and health checks keep re-adding and
re-weighting the real servers they manage.
Start lvsd with 'piranha lvsd' (or 'systemctl start pulse' on a router).
"""


def lvsd_socket() -> Path:
    """lvsd's control socket: ``$PIRANHA_RUN_DIR/lvsd.sock``, else /run/piranha (root)
    or ``$XDG_RUNTIME_DIR/piranha`` (see piranha.runtime.paths)."""
    return socket_path("lvsd")


def no_lvsd_message(path: Path) -> str:
    return (
        f"lvsadm: no running lvsd (no control socket at {path}) — start one with "
        "'piranha lvsd' (or 'systemctl start pulse' on a router)"
    )


def _live_table_runner(prog: str) -> TableRunner | None:
    """A runner for lvsd's live table, or None (after saying why) if lvsd is not running.

    This is the one place that knows where the table is.
    """
    path = lvsd_socket()
    if not path.exists():
        print(no_lvsd_message(path), file=sys.stderr)
        return None

    def runner(argv: list[str], stdin: str) -> Result:
        with ControlClient(path, timeout=30.0) as client:
            answer = client.call("lvsadm", argv=argv, stdin=stdin, prog=prog)
        return Result(
            int(answer["exit_code"]),
            str(answer.get("stdout", "")),
            str(answer.get("stderr", "")),
            bool(answer.get("changed", False)),
        )

    return runner


def _program_name(argv: list[str] | None) -> str:
    if argv is not None:
        return "lvsadm"
    return os.path.basename(sys.argv[0]) or "lvsadm"


def main(argv: list[str] | None = None, runner: TableRunner | None = None) -> int:
    """``lvsadm ARGS...``; ``runner`` replaces the live table (tests, lvsd-less use)."""
    args = sys.argv[1:] if argv is None else list(argv)
    prog = _program_name(argv)
    try:
        cmd = parse_args(args, prog=prog, resolver=SystemResolver())
    except UsageError as exc:
        sys.stderr.write(exc.message + "\n")
        return exc.exit_code
    if cmd.kind == "help":
        sys.stdout.write(usage_text(prog) + HELP_NOTE.format(prog=prog, socket=lvsd_socket()))
        return 0
    if cmd.kind == "version":
        sys.stdout.write(version_line(prog))
        return 0

    if runner is None:
        runner = _live_table_runner(prog)
        if runner is None:
            return 255
    stdin = sys.stdin.read() if cmd.kind == "restore" else ""
    try:
        result = runner(args, stdin)
    except NotRunning as exc:
        print(no_lvsd_message(exc.path), file=sys.stderr)
        return 255
    except ControlError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 255
    try:
        sys.stdout.write(result.stdout)
        sys.stdout.flush()
    except BrokenPipeError:  # `lvsadm -Ln | head`
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    sys.stderr.write(result.stderr)
    return result.exit_code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
