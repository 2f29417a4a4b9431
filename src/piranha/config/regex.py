"""``use_regex``: nanny's POSIX extended regular expressions, run by Python's ``re``.

The original compiled ``expect`` with ``regcomp(REG_EXTENDED)`` and searched
the reply with ``regexec``.  Python's ``re`` reads almost every ERE the same
way; where a reply could match differently we translate:

* bracket classes ``[[:alpha:]]``, ``[[:digit:]]`` ... (Python would read
  them as a set of the characters ``[:alph``), equivalence classes
  ``[[=a=]]`` and collating elements ``[[.-.]]`` (single characters only);
* a backslash inside brackets is a literal backslash in POSIX;
* GNU's word boundaries ``\\<`` and ``\\>``;
* ``.`` matches a newline in POSIX (without REG_NEWLINE): ``re.DOTALL``.

Not translated (documented in docs/nanny.md): back-references in EREs,
``$`` (POSIX: only at the very end; Python: also before a final newline),
Python-only syntax such as ``(?i)`` or ``\\d`` that glibc rejects or reads
differently, and leftmost-longest versus leftmost-first alternation (which
decides *where* a match is, never *whether* there is one).

It lives in ``config`` because ``piranha check`` validates ``expect`` with
this very function (config.rules) and the health checker compiles it with
it too, so a file that passes the check never fails to compile at run time.
"""

from __future__ import annotations

import re
import warnings

_CLASSES = {
    "alpha": "a-zA-Z",
    "digit": "0-9",
    "alnum": "a-zA-Z0-9",
    "upper": "A-Z",
    "lower": "a-z",
    "space": r" \t\n\r\f\v",
    "blank": r" \t",
    "punct": r"!-/:-@\[-`{-~",
    "print": r" -~",
    "graph": r"!-~",
    "cntrl": r"\x00-\x1f\x7f",
    "xdigit": "0-9A-Fa-f",
}
_SPECIAL_IN_SET = set("\\]^-[")


def posix_to_python(pattern: str) -> str:
    """Rewrite the POSIX-only parts of an ERE for ``re`` (see the module docstring)."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            if nxt == "<":
                out.append(r"\b(?=\w)")
            elif nxt == ">":
                out.append(r"\b(?<=\w)")
            else:
                out.append(pattern[i : i + 2])
            i += 2
        elif c == "[":
            translated, i = _bracket(pattern, i)
            out.append(translated)
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _bracket(pattern: str, start: int) -> tuple[str, int]:
    """Translate the bracket expression at ``pattern[start]``; return it and the index after it."""
    i = start + 1
    n = len(pattern)
    parts = ["["]
    if i < n and pattern[i] == "^":
        parts.append("^")
        i += 1
    first = True
    while i < n:
        c = pattern[i]
        if c == "]" and not first:
            parts.append("]")
            return "".join(parts), i + 1
        first = False
        if c == "[" and i + 1 < n and pattern[i + 1] in ":=.":
            kind = pattern[i + 1]
            end = pattern.find(kind + "]", i + 2)
            if end != -1:
                name = pattern[i + 2 : end]
                if kind == ":" and name in _CLASSES:
                    parts.append(_CLASSES[name])
                    i = end + 2
                    continue
                if kind in "=." and len(name) == 1:
                    parts.append(_escape_in_set(name))
                    i = end + 2
                    continue
        if c == "\\":
            parts.append("\\\\")  # POSIX: a backslash in brackets is itself
        elif c == "[":
            parts.append("\\[")  # Python would warn about a nested set
        else:
            parts.append(c)
        i += 1
    # No closing bracket: leave the rest as written, so that re reports the
    # same error piranha check reported.
    return pattern[start:], n


def _escape_in_set(ch: str) -> str:
    return "\\" + ch if ch in _SPECIAL_IN_SET else ch


def compile_expect(text: str) -> re.Pattern[str]:
    """Compile an (already escape-translated) ``expect`` for searching replies.

    Raises ``re.error`` exactly when ``piranha check`` rejects it.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "possible nested set" for [[:alpha:]]
        re.compile(text)  # the check's verdict: raises for what it rejects
        try:
            return re.compile(posix_to_python(text), re.DOTALL)
        except re.error:  # pragma: no cover - a translation bug must not break a valid check
            return re.compile(text, re.DOTALL)
