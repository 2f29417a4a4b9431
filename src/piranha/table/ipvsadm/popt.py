"""The slice of libpopt that ipvsadm's command line goes through.

ipvsadm parses with popt, and its quirks are part of the command line an
operator knows: short flags combine (``-Lnc``), an argument may be glued on
(``-w5``, ``-w=5``, ``--weight=5``) or be the next word, ``-p`` takes its
timeout only when the next word does not start with ``-``, words that are
not options are collected as "leftovers" (``--set 900 120 300``), ``--``
ends the options, long names must be spelled in full, and a single dash
never introduces a long name (``-list`` is ``-l -i -s t``).

This is popt 1.16+'s ``poptGetNextOpt`` reduced to what ipvsadm's option
table uses (no aliases, no callbacks, no ``POPT_ARGFLAG_ONEDASH``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# popt's error codes and texts (poptStrerror)
ERROR_NOARG = -10
ERROR_BADOPT = -11
ERROR_UNWANTEDARG = -12
END = -1

ERROR_TEXTS = {
    ERROR_NOARG: "missing argument",
    ERROR_BADOPT: "unknown option",
    ERROR_UNWANTEDARG: "option does not take an argument",
}


@dataclass(frozen=True, slots=True)
class OptionSpec:
    """One row of a popt option table."""

    long: str | None
    short: str | None
    tag: str  # what poptGetNextOpt returns for it
    takes_arg: bool = False
    optional_arg: bool = False  # POPT_ARGFLAG_OPTIONAL


@dataclass(slots=True)
class Option:
    """One option as poptGetNextOpt returned it."""

    tag: str
    arg: str | None


@dataclass(slots=True)
class PoptContext:
    """Walks ``argv`` (``argv[0]`` is the program name, skipped as popt does)."""

    table: tuple[OptionSpec, ...]
    argv: list[str]
    next: int = 1
    next_char: str | None = None  # rest of a short-option cluster
    rest_leftover: bool = False  # after "--"
    leftovers: list[str] = field(default_factory=list)
    next_leftover: int = 0

    def _find_long(self, name: str) -> OptionSpec | None:
        if not name:
            return None
        for spec in self.table:  # first match wins, as in findOption
            if spec.long == name:
                return spec
        return None

    def _find_short(self, char: str) -> OptionSpec | None:
        for spec in self.table:
            if spec.short == char:
                return spec
        return None

    def get_next(self) -> Option | int:
        """The next option, ``END`` (-1) when done, or a negative error code."""
        while True:
            long_arg: str | None = None
            spec: OptionSpec | None = None

            if self.next_char is None and self.next == len(self.argv):
                return END

            if self.next_char is None:
                word = self.argv[self.next]
                self.next += 1
                if self.rest_leftover or not word.startswith("-") or word == "-":
                    self.leftovers.append(word)
                    continue
                if word == "--":
                    self.rest_leftover = True
                    continue
                body = word[1:]
                double_dash = body.startswith("-")
                if double_dash:
                    body = body[1:]
                    name, eq, value = body.partition("=")
                    if eq:
                        long_arg = value
                    spec = self._find_long(name)
                    if spec is None:
                        return ERROR_BADOPT
                else:
                    # A single dash starts a cluster of short options.
                    self.next_char = word[1:]

            if self.next_char is not None and spec is None:
                chars = self.next_char
                self.next_char = None
                if not chars:  # left over by "-x=" with nothing after the '='
                    return ERROR_BADOPT
                spec = self._find_short(chars[0])
                if spec is None:
                    return ERROR_BADOPT
                rest = chars[1:]
                if rest:
                    # popt skips one '=' after a short option: -w=5 is -w 5
                    self.next_char = rest[1:] if rest[0] == "=" else rest

            assert spec is not None
            if not spec.takes_arg:
                if long_arg is not None or (
                    self.next_char is not None and self.next_char.startswith("=")
                ):
                    return ERROR_UNWANTEDARG
                return Option(spec.tag, None)

            arg: str | None
            if long_arg is not None:
                arg = long_arg
            elif self.next_char is not None:
                chars = self.next_char
                arg = chars[1:] if chars.startswith("=") else chars
                self.next_char = None
            elif self.next == len(self.argv):
                if not spec.optional_arg:
                    return ERROR_NOARG
                arg = None
            elif spec.optional_arg and self.argv[self.next].startswith("-"):
                arg = None  # "-p -M ..." : the optional timeout was left out
            else:
                arg = self.argv[self.next]
                self.next += 1
            return Option(spec.tag, arg)

    def bad_option(self) -> str:
        """poptBadOption: the argv word processed last."""
        return self.argv[self.next - 1] if self.next > 0 else ""

    def get_arg(self) -> str | None:
        """poptGetArg: the next leftover word."""
        if self.next_leftover < len(self.leftovers):
            self.next_leftover += 1
            return self.leftovers[self.next_leftover - 1]
        return None
