"""Re-indent lvs.cf to the canonical layout, keeping comments, blank lines and order."""

from __future__ import annotations

from .lexer import BOM, Line
from .reader import BlockDoc, read

_INDENTS = {0: "", 1: " " * 5, 2: " " * 9}


def relayout(text: str) -> str:
    """Canonical indents (0/5/9) and ``key = value`` spacing; everything else as written.

    Comment lines and line ends are kept; blank lines lose their blanks;
    values keep their exact spelling (quotes included).  `text` must be free
    of syntax errors (``piranha format`` parses it first).
    """
    result = read(text)
    lines = result.document.lines
    depth: dict[int, int] = {}  # line index -> indent level of that line
    for kl in result.document.keys:
        depth[kl.index] = 0

    def mark(block: BlockDoc, level: int) -> None:
        depth[block.header] = level
        if block.closer is not None:
            depth[block.closer] = level
        for kl in block.keys:
            depth[kl.index] = level + 1
        for server in block.servers:
            mark(server, level + 1)

    for block in result.document.blocks:
        mark(block, 0)
    return "".join(_relaid(line, depth.get(line.number - 1)) + line.eol for line in lines)


def _relaid(line: Line, level: int | None) -> str:
    if line.kind == "blank":
        return BOM if line.text.startswith(BOM) else ""
    if line.kind != "tokens" or level is None:
        return line.text
    bom = BOM if line.indent.startswith(BOM) else ""
    raw = [line.text[t.start : t.end] for t in line.tokens]
    return bom + _INDENTS[level] + " ".join(raw)
