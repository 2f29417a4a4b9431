"""Edit lvs.cf text to match a `Config`, changing as few lines as possible.

Every line whose meaning did not change is kept byte for byte (comments,
blank lines, indentation, line ends, key order, duplicate keys).  A changed
value rewrites the value on its line only (the last one, if the key is set
twice); a key that became unset loses all its lines; a new key goes where
the canonical order puts it among the keys the block already has, indented
like its neighbour.  Blocks are matched by ``origin`` (the line their
header was read from): a renamed block changes its header line only, a
deleted block loses its lines, a new block is written in the canonical
layout after the block that precedes it in the model (or after the last
block of its kind), and if the model reorders blocks their text moves.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .diagnostics import ConfigError
from .environment import Environment
from .lexer import Line
from .model import Config, Failover, Virtual
from .reader import BlockDoc, KeyLine, read
from .schema import FAILOVER, GLOBAL, KEYS, ORDER, SERVER, VIRTUAL
from .writer import (
    BLOCK_INDENT,
    block_lines,
    differs_from_default,
    format_value,
    is_set,
    render_token,
)

Out = list[tuple[str, str]]  # (line text, line end)


def update(original_text: str, config: Config, environment: Environment | None = None) -> str:
    """`original_text` edited so that it reads as `config`.

    `config` should come from parsing `original_text` (its blocks' origins
    point into it); blocks without a matching origin are treated as new.
    Raises ConfigError if `original_text` has syntax errors or `config`
    holds a value lvs.cf cannot express.
    """
    from .checks import writability

    problems = writability(config)
    if problems:
        raise ConfigError(problems)
    result = read(original_text, config.filename, environment)
    errors = [d for d in result.diagnostics if d.is_error]
    if errors:
        raise ConfigError(errors)
    return _Updater(result.document, config, original_text).run()


@dataclass
class _Item:
    """A line of a container, or a whole child block."""

    index: int  # first line index
    block: BlockDoc | None = None


@dataclass
class _KeyEdits:
    rewrite: dict[int, str] = field(default_factory=dict)
    remove: set[int] = field(default_factory=set)
    after: dict[int, list[str]] = field(default_factory=dict)
    before: dict[int, list[str]] = field(default_factory=dict)
    start: list[str] = field(default_factory=list)


class _Updater:
    def __init__(self, doc: Any, config: Config, text: str):
        self.lines: list[Line] = doc.lines
        self.doc = doc
        self.config = config
        eols = Counter(line.eol for line in self.lines if line.eol)
        self.eol = eols.most_common(1)[0][0] if eols else "\n"
        self.ends_without_eol = bool(self.lines) and self.lines[-1].eol == ""

    def run(self) -> str:
        out = self.top_level()
        if not out:
            return ""
        fixed = [(text, eol or self.eol) for text, eol in out]
        if self.ends_without_eol:
            fixed[-1] = (fixed[-1][0], "")
        return "".join(text + eol for text, eol in fixed)

    # --- the pieces ---------------------------------------------------------------
    def original(self, index: int) -> tuple[str, str]:
        line = self.lines[index]
        return line.text, line.eol

    def new(self, text: str) -> tuple[str, str]:
        return text, self.eol

    def items(self, start: int, stop: int, children: list[BlockDoc]) -> list[_Item]:
        """Lines start..stop-1 as items, each child block as one item."""
        by_header = {b.header: b for b in children}
        items, i = [], start
        while i < stop:
            child = by_header.get(i)
            if child is not None:
                items.append(_Item(i, child))
                i = child.end + 1
            else:
                items.append(_Item(i))
                i += 1
        return items

    # --- keys -------------------------------------------------------------------------
    def key_edits(
        self, section: str, block: Any, key_lines: list[KeyLine], default_indent: str
    ) -> _KeyEdits:
        edits = _KeyEdits()
        by_key: dict[str, list[KeyLine]] = {}
        for kl in key_lines:
            by_key.setdefault(kl.key, []).append(kl)
        # Where a new key attaches: after the key before it in canonical
        # order (after that key's last line, or after the new line written
        # for it), else before the first line of the key after it, else at
        # the start of the block.  key -> (how, line index, indent)
        anchors: dict[str, tuple[str, int | None, str]] = {
            key: ("after", entries[-1].index, self.lines[entries[-1].index].indent)
            for key, entries in by_key.items()
        }
        order = ORDER[section]
        for spec in KEYS[section].values():
            entries = by_key.get(spec.key, [])
            if not is_set(spec, block):
                edits.remove.update(kl.index for kl in entries)
                anchors.pop(spec.key, None)
                continue
            if entries:
                last = entries[-1]
                if last.value != _model_value(spec, block):
                    text = self.lines[last.index].text
                    a, b = last.span
                    edits.rewrite[last.index] = text[:a] + format_value(spec, block) + text[b:]
                continue
            if not differs_from_default(spec, block):
                continue  # absent already means this value
            rank = order[spec.key]
            earlier = [k for k in anchors if order[k] < rank]
            later = [k for k in anchors if order[k] > rank]
            if earlier:
                how, where, indent = anchors[max(earlier, key=order.__getitem__)]
            elif later:  # only keys of the file can come later: new ones go in order
                successor = min(later, key=order.__getitem__)
                how, where, indent = "before", by_key[successor][0].index, anchors[successor][2]
            else:
                how, where, indent = "start", None, default_indent
            text = f"{indent}{spec.key} = {format_value(spec, block)}"
            if how == "start":
                edits.start.append(text)
            else:
                assert where is not None
                (edits.after if how == "after" else edits.before).setdefault(where, []).append(text)
            anchors[spec.key] = (how, where, indent)
        return edits

    def emit_line(self, out: Out, index: int, edits: _KeyEdits) -> None:
        out.extend(self.new(t) for t in edits.before.get(index, []))
        if index not in edits.remove:
            if index in edits.rewrite:
                out.append((edits.rewrite[index], self.lines[index].eol))
            else:
                out.append(self.original(index))
        out.extend(self.new(t) for t in edits.after.get(index, []))

    # --- children (blocks inside a container) ---------------------------------------------
    def arrange(
        self, docs: list[BlockDoc], models: list[Any]
    ) -> tuple[dict[int, list[tuple[Any, BlockDoc | None]]], list[tuple[Any, None]]]:
        """Which model blocks go where.

        Returns ({header index of a kept file block: [(model, doc or None), ...]},
        [(model, None) ...] for new blocks when no file block of the kind is
        left).  Kept file blocks are the slots; the models that matched a
        file block fill the slots in model order, each new block follows the
        model block before it.
        """
        by_origin = {d.origin: d for d in docs}
        used: set[int] = set()
        matched: list[tuple[Any, BlockDoc | None]] = []
        for m in models:
            d = by_origin.get(m.origin) if m.origin is not None else None
            if d is not None and d.origin not in used:
                used.add(d.origin)
                matched.append((m, d))
            else:
                matched.append((m, None))
        slots = [d for d in docs if d.origin in used]  # file order
        groups: list[list[tuple[Any, BlockDoc | None]]] = []
        leading: list[tuple[Any, BlockDoc | None]] = []
        for m, d in matched:
            if d is not None:
                groups.append([(m, d)])
            elif groups:
                groups[-1].append((m, None))
            else:
                leading.append((m, None))
        if not slots:
            return {}, [(m, None) for m, _ in leading]
        placed: dict[int, list[tuple[Any, BlockDoc | None]]] = {}
        for slot, group in zip(slots, groups, strict=True):
            placed[slot.header] = group
        placed[slots[0].header] = leading + placed[slots[0].header]
        return placed, []

    def blank_after(self, block: BlockDoc) -> bool:
        """Whether the file separates this block from what follows with a blank line.

        New blocks placed after it then get one too, to match."""
        following = block.end + 1
        return following < len(self.lines) and self.lines[following].kind == "blank"

    # --- blocks -----------------------------------------------------------------------
    def render_block(
        self,
        section: str,
        model: Any,
        doc: BlockDoc | None,
        indent: str,
        key_indent: str | None = None,
        gap: bool = False,
    ) -> Out:
        if doc is None:
            lines = block_lines(section, model, indent, key_indent)
            return [self.new(t) for t in ([""] if gap else []) + lines]
        out: Out = []
        header = self.lines[doc.header]
        if model.name != doc.name:
            a, b = doc.name_span
            token = render_token(model.name) or model.name
            out.append((header.text[:a] + token + header.text[b:], header.eol))
        else:
            out.append(self.original(doc.header))
        assert doc.closer is not None
        key_indent = header.indent + (BLOCK_INDENT if section != SERVER else "    ")
        edits = self.key_edits(section, model, doc.keys, key_indent)
        out.extend(self.new(t) for t in edits.start)
        body = self.items(doc.header + 1, doc.closer, doc.servers)
        if section == VIRTUAL:
            server_indent = (
                self.lines[doc.servers[0].header].indent
                if doc.servers
                else self.lines[doc.keys[0].index].indent
                if doc.keys
                else key_indent
            )
            first_keys = doc.servers[0].keys if doc.servers else []
            if first_keys:
                server_key_indent = self.lines[first_keys[0].index].indent
            else:  # one more step of this block's own indentation
                own = self.lines[doc.keys[0].index].indent if doc.keys else key_indent
                step = (
                    own[len(header.indent) :]
                    if own.startswith(header.indent) and own != header.indent
                    else "    "
                )
                server_key_indent = server_indent + step
            placed, homeless = self.arrange(doc.servers, model.servers)
            for item in body:
                if item.block is None:
                    self.emit_line(out, item.index, edits)
                else:
                    gap = self.blank_after(item.block)
                    for m, d in placed.get(item.index, []):
                        out.extend(
                            self.render_block(SERVER, m, d, server_indent, server_key_indent, gap)
                        )
            for m, _ in homeless:
                out.extend(self.render_block(SERVER, m, None, server_indent, server_key_indent))
        else:
            for item in body:
                self.emit_line(out, item.index, edits)
        out.append(self.original(doc.closer))
        return out

    def top_level(self) -> Out:
        cfg = self.config
        doc = self.doc
        edits = self.key_edits(GLOBAL, cfg, doc.keys, "")
        virtual_docs = [b for b in doc.blocks if b.kind == VIRTUAL]
        failover_docs = [b for b in doc.blocks if b.kind == FAILOVER]
        v_placed, v_homeless = self.arrange(
            virtual_docs, [v for v in cfg.virtuals if isinstance(v, Virtual)]
        )
        f_placed, f_homeless = self.arrange(
            failover_docs, [f for f in cfg.failovers if isinstance(f, Failover)]
        )
        out: Out = []
        pending_start = list(edits.start)
        pending_failovers = f_homeless

        def flush_start() -> None:
            out.extend(self.new(t) for t in pending_start)
            pending_start.clear()

        def flush_failovers() -> None:
            nonlocal pending_failovers
            for m, _ in pending_failovers:
                out.extend(self.render_block(FAILOVER, m, None, ""))
            pending_failovers = []

        for item in self.items(0, len(self.lines), doc.blocks):
            if item.block is None:
                self.emit_line(out, item.index, edits)
                continue
            flush_start()
            placed = v_placed if item.block.kind == VIRTUAL else f_placed
            group = placed.get(item.index, [])
            if item.block.kind == VIRTUAL and group:
                flush_failovers()
            section = item.block.kind
            gap = self.blank_after(item.block)
            for m, d in group:
                out.extend(self.render_block(section, m, d, "", gap=gap))
        flush_start()
        flush_failovers()
        for m, _ in v_homeless:
            out.extend(self.render_block(VIRTUAL, m, None, ""))
        return out


def _model_value(spec: Any, block: Any) -> Any:
    if spec.device_field:
        return (getattr(block, spec.key), getattr(block, spec.device_field))
    return getattr(block, spec.key)


__all__ = ["update"]
