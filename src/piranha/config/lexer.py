"""Lines and tokens of lvs.cf.

Rules (the original's, minus its bugs): lines end with \\n, \\r\\n or a lone
\\r; blanks are spaces and tabs; a line whose first non-blank character is
``#`` is a comment; a token starting with ``"`` or ``'`` runs to the next
identical quote on the same line and must be followed by a blank or the end
of the line; there are no escapes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NamedTuple

from .values import FORBIDDEN, describe_char

BLANKS = " \t"
QUOTES = "\"'"
BOM = "\ufeff"
_EOL = re.compile(r"\r\n|\r|\n")
_BLANKS = re.compile(r"[ \t]*")
_PLAIN = re.compile(r"[^ \t]+")
_OTHER_BREAKS = re.compile("[\v\f\x1c\x1d\x1e\x85\u2028\u2029]")

BLANK, COMMENT, TOKENS = "blank", "comment", "tokens"


class Token(NamedTuple):
    text: str  # quotes removed
    start: int  # offsets into the line text: text[start:end] is the token as written
    end: int
    quoted: bool = False

    @property
    def col(self) -> int:
        """1-based column of its first character (the opening quote)."""
        return self.start + 1

    def is_(self, word: str) -> bool:
        """An unquoted token spelling `word` (quoted `"{"` is a name, not a brace)."""
        return not self.quoted and self.text == word


@dataclass(slots=True)
class LexError:
    col: int
    message: str
    token: str


@dataclass(slots=True)
class Line:
    number: int  # 1-based
    text: str  # without its line end
    eol: str  # "\n", "\r\n", "\r", or "" (last line without one)
    kind: str = BLANK
    tokens: list[Token] = field(default_factory=list)
    indent: str = ""
    error: LexError | None = None


def split_lines(text: str) -> list[tuple[str, str]]:
    """(text, line end) pairs; ``"".join(t + e for t, e in split_lines(s)) == s``."""
    if not _OTHER_BREAKS.search(text):
        # str.splitlines is fast, but also breaks at \v \f \x1c-\x1e \x85 \u2028 \u2029
        out = []
        for piece in text.splitlines(keepends=True):
            if piece.endswith("\r\n"):
                out.append((piece[:-2], "\r\n"))
            elif piece.endswith(("\n", "\r")):
                out.append((piece[:-1], piece[-1]))
            else:
                out.append((piece, ""))
        return out
    out = []
    pos, n = 0, len(text)
    while pos < n:
        m = _EOL.search(text, pos)
        if m is None:
            out.append((text[pos:], ""))
            break
        out.append((text[pos : m.start()], m.group()))
        pos = m.end()
    return out


def lex(text: str) -> list[Line]:
    return [tokenize(i + 1, t, e) for i, (t, e) in enumerate(split_lines(text))]


def tokenize(number: int, text: str, eol: str = "") -> Line:
    body = text.lstrip(BLANKS)
    if number == 1 and body.startswith(BOM):
        body = body[1:].lstrip(BLANKS)
    i = len(text) - len(body)
    if not body:
        return Line(number, text, eol, BLANK, [], text)
    if body[0] == "#":
        return Line(number, text, eol, COMMENT, [], text[:i])
    tokens: list[Token] = []
    line = Line(number, text, eol, TOKENS, tokens, text[:i])
    n = len(text)
    if '"' not in body and "'" not in body:
        new = tuple.__new__  # Token(...) without the keyword-argument machinery
        if body.isascii() and not FORBIDDEN.search(body):
            # The common case.  Without control characters, ASCII whitespace
            # is just space and tab, so str.split() finds the tokens.
            pos = i
            for part in body.split():
                start = text.index(part, pos)
                pos = start + len(part)
                tokens.append(new(Token, (part, start, pos, False)))
            return line
        tokens.extend(new(Token, (m.group(), *m.span(), False)) for m in _PLAIN.finditer(text, i))
        i = n
    while i < n:
        c = text[i]
        if c in QUOTES:
            close = text.find(c, i + 1)
            if close < 0:
                line.error = LexError(
                    i + 1,
                    f"quotation mismatch: the {_quote_name(c)} quote opened here is not closed on this line",
                    text[i:],
                )
                break
            end = close + 1
            if end < n and text[end] not in BLANKS:
                rest = _PLAIN.match(text, end).group()  # type: ignore[union-attr]
                line.error = LexError(
                    end + 1,
                    f"`{rest}` directly after the closing quote; put a blank between them,"
                    f" or put the whole value inside the quotes",
                    rest,
                )
                break
            tokens.append(Token(text[i + 1 : close], i, end, True))
        else:
            end = _PLAIN.match(text, i).end()  # type: ignore[union-attr]
            tokens.append(Token(text[i:end], i, end))
        i = _BLANKS.match(text, end).end()  # type: ignore[union-attr]
    _forbid(line)
    return line


def _forbid(line: Line) -> None:
    """Control characters and the like are errors outside comments.

    Tabs separate tokens, so they are only an error inside quotes."""
    text = line.text
    m = FORBIDDEN.search(text)
    col = m.start() if m else len(text)
    for tok in line.tokens:
        if tok.quoted and "\t" in tok.text:
            col = min(col, text.index("\t", tok.start))
            break
    if col == len(text) or (line.error is not None and line.error.col - 1 < col):
        return
    bad = text[col]
    tokens = [t for t in line.tokens if t.end <= col]
    token = next((t.text for t in line.tokens if t.start <= col < t.end), bad)
    line.tokens = tokens
    line.error = LexError(
        col + 1,
        f"{describe_char(bad)} is not allowed in lvs.cf values"
        + ("; write \\t for a tab in send/expect" if bad == "\t" else ""),
        token,
    )


def _quote_name(c: str) -> str:
    return "double" if c == '"' else "single"
