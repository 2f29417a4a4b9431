"""``run()``: one ipvsadm invocation against a table, with ipvsadm's output and status.

Exit status as ipvsadm's: 0 done; 2 a command line it refused; 255 a line
popt could not parse (or no command) and every refusal by the table
("Service already exists", ...); 1 listing a service that does not exist.
``-R`` runs each stdin line as its own invocation: a refused command line
stops the restore, a refusal by the table does not, and the status is the
last line's (all as ipvsadm does).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..model import VirtualTable
from .addresses import NUMERIC, Resolver
from .apply import KernelError, execute
from .command import UsageError
from .parse import parse_args, tryhelp
from .texts import usage_text, version_line


@dataclass(frozen=True, slots=True)
class Result:
    exit_code: int
    stdout: str
    stderr: str
    changed: bool  # the table was modified


class _Exit(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


_BLANKS = re.compile(r"[ \t\r]+")


def restore_lines(text: str, prog: str = "lvsadm") -> list[list[str]]:
    """The command lines ``-R`` reads: blank-separated words, one line each.

    As ipvsadm's config_stream: a word "ipvsadm" is dropped wherever it
    appears (so ``ipvsadm -A ...`` lines work; we drop our own name too), and
    lines without words are skipped.  Unlike ipvsadm (whose comment handling
    never triggers) a word starting with ``#`` ends the line.
    """
    lines: list[list[str]] = []
    for raw in text.split("\n"):
        words: list[str] = []
        for word in _BLANKS.split(raw):
            if not word or word in ("ipvsadm", prog):
                continue
            if word.startswith("#"):
                break
            words.append(word)
        if words:
            lines.append(words)
    return lines


@dataclass
class _Invocation:
    table: VirtualTable
    stdin: str
    now: float
    resolver: Resolver
    prog: str
    out: list[str] = field(default_factory=list)
    err: list[str] = field(default_factory=list)
    changed: bool = False

    def process(self, argv: list[str], reading_stdin: bool) -> int:
        """process_options(): the status ipvsadm's main would return (-1 -> 255)."""
        try:
            cmd = parse_args(argv, prog=self.prog, resolver=self.resolver)
        except UsageError as exc:
            self.err.append(exc.message + "\n")
            if exc.aborts:
                raise _Exit(exc.exit_code) from None
            return -1
        if cmd.kind == "help":
            self.out.append(usage_text(self.prog))
            raise _Exit(0)
        if cmd.kind == "version":
            self.out.append(version_line(self.prog))
            raise _Exit(0)
        if cmd.kind == "restore":
            if reading_stdin:  # "-R" inside -R input
                self.err.append(tryhelp(self.prog).message + "\n")
                raise _Exit(255)
            result = 0
            for line in restore_lines(self.stdin, self.prog):
                result = self.process(line, reading_stdin=True)
            return result
        try:
            stdout, changed = execute(self.table, cmd, self.now, self.resolver)
        except KernelError as exc:
            self.err.append(exc.message + "\n")
            if exc.exit_code != 255:
                raise _Exit(exc.exit_code) from None
            return -1
        self.out.append(stdout)
        self.changed = self.changed or changed
        return 0


def run(
    table: VirtualTable,
    argv: list[str],
    *,
    stdin: str = "",
    now: float = 0.0,
    resolver: Resolver | None = None,
    prog: str = "lvsadm",
) -> Result:
    """Run one ipvsadm command line (``argv`` without the program name) on ``table``.

    ``stdin`` is what ``-R`` reads; ``now`` the clock of connection expiry
    (``-L -c``); ``resolver`` answers name lookups (without one, no names
    are known: output is numeric and only numeric input is accepted);
    ``prog`` is the name used in help and error texts.
    """
    invocation = _Invocation(table, stdin, now, resolver or NUMERIC, prog)
    try:
        code = invocation.process(list(argv), reading_stdin=False)
    except _Exit as exc:
        code = exc.code
    return Result(code & 0xFF, "".join(invocation.out), "".join(invocation.err), invocation.changed)
