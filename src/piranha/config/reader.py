"""lvs.cf text -> `Config` (syntax and value types), plus a map of where each thing is.

One pass over the lines with a stack of open blocks.  Errors are collected,
not raised, and the reader recovers at the next line, so one run reports
every syntax error.  What an error makes uncertain (the block it is in, or
the global key) is remembered in ``broken`` so that the semantic checks do
not pile consequences on top ("no address" after an unreadable address line).

The `Document` records every key line and block with line indexes and the
character span of values and names: `update` edits the original text with it.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from .diagnostics import ERROR, WARNING, Diagnostic, Scope
from .environment import Environment
from .lexer import BLANK, COMMENT, TOKENS, Line, Token, lex, split_lines, tokenize
from .model import Config, Failover, Server, Virtual
from .schema import FAILOVER, GLOBAL, KEYS, SERVER, VIRTUAL, KeySpec
from .values import decimal_seconds, inet_aton, is_hostname, looks_numeric, strtol

BLOCK_WORDS = (VIRTUAL, FAILOVER, SERVER)
_SIMPLE = frozenset(("int", "bool", "port", "seconds", "host", "ip", "mask", "string", "choice"))


class Unknown:
    """A value the reader could not determine (update then treats the line as changed)."""

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return "UNKNOWN"


UNKNOWN: Any = Unknown()


@dataclass(slots=True)
class KeyLine:
    key: str
    index: int  # 0-based line index
    span: tuple[int, int]  # the value tokens' characters in the line text
    value: Any  # model value; (ip, device) for IP DEV keys; UNKNOWN if unreadable


@dataclass(slots=True)
class BlockDoc:
    kind: str  # virtual | failover | server
    name: str
    header: int  # line index of `kind NAME {`
    name_span: tuple[int, int]
    origin: int  # = the header's line number; the model block's `origin`
    closer: int | None = None
    keys: list[KeyLine] = field(default_factory=list)
    servers: list[BlockDoc] = field(default_factory=list)

    @property
    def end(self) -> int:
        return self.header if self.closer is None else self.closer


@dataclass
class Document:
    lines: list[Line]
    keys: list[KeyLine] = field(default_factory=list)  # global keys
    blocks: list[BlockDoc] = field(default_factory=list)  # virtual and failover, file order


@dataclass
class ReadResult:
    config: Config
    document: Document
    diagnostics: list[Diagnostic]
    broken: set[Scope]


@dataclass
class _Frame:
    section: str
    model: Any  # Config | Virtual | Server | Failover | None (a detached block)
    doc: BlockDoc | None
    scope: Scope
    label: str  # "virtual `www`" ...
    opened: int = 0  # line number of the header
    seen: dict[str, int] = field(default_factory=dict)  # key -> line of its last setting


def describe(section: str, name: str, parent: str | None = None) -> str:
    text = f"{section} `{name}`"
    return f"{text} of {parent}" if parent else text


class Reader:
    def __init__(self, text: str, filename: str, environment: Environment):
        self.filename = filename
        self.env = environment
        self.text = text
        self.config = Config(filename=filename)
        # Findings about the global section that no line shows (a key left
        # at its default) point at the top of the file.
        self.config.loc["{"] = (1, 1)
        self.doc = Document([])
        self.last: Line | None = None
        self.diags: list[Diagnostic] = []
        self.broken: set[Scope] = set()
        self.stack: list[_Frame] = [_Frame(GLOBAL, self.config, None, (), "the global section")]
        # After "`{` expected" was reported for a header, a lone `{` on the
        # next line is taken as that header's brace (no second error).
        self.swallow_brace = False
        self.keep = True  # build the Document for update()

    # --- reporting -------------------------------------------------------
    def report(
        self,
        severity: str,
        line: Line | int,
        col: int,
        message: str,
        token: str = "",
        *,
        key: str | None = None,
        scope: Scope | None = None,
        breaks: bool = True,
    ) -> None:
        number = line if isinstance(line, int) else line.number
        if scope is None:
            scope = self.stack[-1].scope
        self.diags.append(
            Diagnostic(severity, message, self.filename, number, col, token, key, scope)
        )
        if severity == ERROR and breaks:
            self.broken.add(scope)

    def error(self, line: Line, col: int, message: str, token: str = "", **kw: Any) -> None:
        self.report(ERROR, line, col, message, token, **kw)

    def warning(self, line: Line, col: int, message: str, token: str = "", **kw: Any) -> None:
        self.report(WARNING, line, col, message, token, **kw)

    # --- driver ----------------------------------------------------------
    def read(self, keep_document: bool = True) -> ReadResult:
        """Read the text; `keep_document` False skips what only `update` needs."""
        # Without the document, lines are made one at a time and dropped.
        lines = (
            lex(self.text)
            if keep_document
            else (tokenize(i, t, e) for i, (t, e) in enumerate(split_lines(self.text), 1))
        )
        if keep_document:
            self.doc.lines = lines
        self.keep = keep_document
        for line in lines:
            self.last = line
            if line.kind == COMMENT or line.kind == BLANK:
                continue
            if line.error is not None:
                self.lexical_error(line)
                continue
            self.statement(line)
        self.end_of_file()
        return ReadResult(self.config, self.doc, self.diags, self.broken)

    def lexical_error(self, line: Line) -> None:
        err = line.error
        assert err is not None
        self.error(line, err.col, err.message, err.token)
        # Keep the block structure: a broken header still opens its block and
        # a broken `}` line still closes one, so later lines make sense.
        first = line.tokens[0] if line.tokens else None
        if first is None:
            return
        if first.is_("}"):
            self.close(line, quiet=True)
        elif first.text in BLOCK_WORDS and not first.quoted and line.text.rstrip().endswith("{"):
            name = line.tokens[1].text if len(line.tokens) > 1 else "?"
            span = (line.tokens[1].start, line.tokens[1].end) if len(line.tokens) > 1 else (0, 0)
            self.open_block(line, first.text, name, span, broken=True)

    def statement(self, line: Line) -> None:
        tokens = line.tokens
        first = tokens[0]
        if self.swallow_brace and len(tokens) == 1 and first.is_("{"):
            self.swallow_brace = False
            return
        self.swallow_brace = False
        if first.is_("}"):
            if len(tokens) > 1:
                extra = tokens[1]
                self.error(
                    line,
                    extra.col,
                    f"unexpected `{_join(tokens[1:])}` after `}}`; a `}}` must be alone on its line",
                    extra.text,
                )
            self.close(line)
        elif first.is_("{"):
            self.error(
                line,
                first.col,
                "unexpected `{`; a block starts with `virtual NAME {` on one line",
                "{",
            )
        elif (
            first.text in BLOCK_WORDS
            and not first.quoted
            and not (len(tokens) > 1 and tokens[1].is_("="))
        ):
            self.header(line)
        else:
            self.key_line(line)

    # --- blocks ----------------------------------------------------------
    def header(self, line: Line) -> None:
        tokens = line.tokens
        kind = tokens[0].text
        rest = tokens[1:]
        usage = f"`{kind} NAME {{`"
        broken = False
        brace = next((i for i, t in enumerate(rest) if t.is_("{")), None)
        if brace is not None:
            names, after = rest[:brace], rest[brace + 1 :]
            if after:
                if not after[0].quoted and after[0].text.startswith("#"):
                    message = (
                        f"comments must be on a line of their own (`{_join(after)}` follows `{{`)"
                    )
                else:
                    message = f"unexpected `{_join(after)}` after `{{`; a block opens with {usage} and nothing else on the line"
                self.error(line, after[0].col, message, after[0].text)
                broken = True
        elif (
            rest and not rest[-1].quoted and rest[-1].text.endswith("{") and len(rest[-1].text) > 1
        ):
            self.error(
                line,
                rest[-1].col + len(rest[-1].text) - 1,
                f"put a blank before `{{`: {usage}",
                rest[-1].text,
            )
            names = [*rest[:-1], Token(rest[-1].text[:-1], rest[-1].start, rest[-1].end - 1)]
            broken = True
        else:
            names = rest
            where = f"`{kind} {_join(names)}`" if names else f"`{kind}`"
            col = len(line.text) + 1
            self.error(
                line,
                col,
                f"`{{` expected at the end of {where}; a block opens with {usage} on one line",
                "",
            )
            self.swallow_brace = True
            broken = True
        if not names:
            self.error(line, tokens[0].col, f"{kind} block without a name: write {usage}", kind)
            name, span = "?", (tokens[0].start, tokens[0].end)
            broken = True
        elif len(names) > 1:
            joined = _join(names)
            self.error(
                line,
                names[0].col,
                f"the name `{joined}` has blanks; write `{kind} {names[-1].text} {{`,"
                f' or quote the name: `{kind} "{joined}" {{`',
                joined,
            )
            name, span = names[-1].text, (names[-1].start, names[-1].end)
            broken = True
        else:
            name, span = names[0].text, (names[0].start, names[0].end)
            if not name:
                self.error(line, names[0].col, f"{kind} block with an empty name", '""')
                broken = True
        self.open_block(line, kind, name, span, broken=broken)

    def open_block(
        self, line: Line, kind: str, name: str, span: tuple[int, int], *, broken: bool
    ) -> None:
        col = len(line.indent) + 1
        top = self.stack[-1]
        if kind == SERVER:
            if top.section == SERVER:
                self.error(
                    line,
                    col,
                    f"server `{name}` starts inside {top.label} (line {top.opened}); close that one with `}}` first",
                    kind,
                    breaks=False,
                )
                self.stack.pop()
                top = self.stack[-1]
            if top.section != VIRTUAL:
                where = "at the top level" if top.section == GLOBAL else f"inside {top.label}"
                self.error(
                    line,
                    col,
                    f"server `{name}` {where}: server blocks belong inside a `virtual NAME {{` block",
                    kind,
                )
                self.stack.append(
                    _Frame(
                        SERVER,
                        None,
                        None,
                        ("detached", line.number),
                        f"server `{name}`",
                        line.number,
                    )
                )
                self.broken.add(("detached", line.number))
                return
        elif top.section != GLOBAL:
            while len(self.stack) > 1:
                open_frame = self.stack.pop()
                self.error(
                    line,
                    col,
                    f"{kind} `{name}` starts inside {open_frame.label} (line {open_frame.opened}); close that one with `}}` first",
                    kind,
                    scope=open_frame.scope,
                    breaks=False,
                )
            top = self.stack[-1]

        doc = BlockDoc(kind, name, line.number - 1, span, origin=line.number)
        if kind == SERVER:
            virtual: Virtual = top.model
            model: Any = Server(name)
            if top.model is not None:
                virtual.servers.append(model)
            assert top.doc is not None
            top.doc.servers.append(doc)
            scope: Scope = (*top.scope, "servers", len(virtual.servers) - 1)
            label = describe(SERVER, name, top.label)
        elif kind == VIRTUAL:
            model = Virtual(name)
            self.config.virtuals.append(model)
            self.doc.blocks.append(doc)
            scope = ("virtuals", len(self.config.virtuals) - 1)
            label = describe(VIRTUAL, name)
        else:
            model = Failover(name)
            self.config.failovers.append(model)
            self.doc.blocks.append(doc)
            scope = ("failovers", len(self.config.failovers) - 1)
            label = describe(FAILOVER, name)
        model.origin = line.number
        model.loc["{"] = (line.number, col)
        self.stack.append(_Frame(kind, model, doc, scope, label, line.number))
        if broken:
            self.broken.add(scope)

    def close(self, line: Line, quiet: bool = False) -> None:
        if len(self.stack) == 1:
            if not quiet:
                self.error(
                    line,
                    len(line.indent) + 1,
                    "`}` without an open block; is there one `}` too many?",
                    "}",
                )
            return
        frame = self.stack.pop()
        if frame.doc is not None:
            frame.doc.closer = line.number - 1
        if frame.model is not None:
            frame.model.loc["}"] = (line.number, len(line.indent) + 1)

    def end_of_file(self) -> None:
        last = self.last
        number = last.number if last else 1
        col = len(last.text) + 1 if last else 1
        while len(self.stack) > 1:
            frame = self.stack.pop()
            self.report(
                ERROR,
                number,
                col,
                f"{frame.label} opened on line {frame.opened} is not closed: `}}` missing at the end of the file",
                "",
                scope=frame.scope,
                breaks=False,
            )

    # --- key = value -------------------------------------------------------
    def key_line(self, line: Line) -> None:
        frame = self.stack[-1]
        tokens = line.tokens
        first = tokens[0]
        key = first.text
        spec = KEYS[frame.section].get(key)
        if spec is None:
            if "=" in key and not first.quoted and key != "=":
                name, _, value = key.partition("=")
                example = f"{name} = {value or '...'}"
                self.error(
                    line,
                    first.col,
                    f"equal (=) expected after `{name}`: put blanks around `=`, as in `{example}`",
                    key,
                    key=name or None,
                )
            else:
                self.unknown_key(line, frame, first)
            return
        if len(tokens) < 2:
            self.error(line, first.end + 1, f"`=` and a value expected after `{key}`", key, key=key)
            return
        eq = tokens[1]
        if eq.text != "=" or eq.quoted:
            if eq.text.startswith("=") and not eq.quoted:
                self.error(
                    line,
                    eq.col,
                    f"equal (=) expected after `{key}`: put blanks around `=`, as in `{key} = {eq.text[1:]}`",
                    eq.text,
                    key=key,
                )
            else:
                self.error(
                    line,
                    eq.col,
                    f"equal (=) expected after `{key}`, found `{eq.text}`",
                    eq.text,
                    key=key,
                )
            return
        values = tokens[2:]
        if len(values) == 1 and spec.type in _SIMPLE:
            value = self.convert_one(line, spec, spec.type, values[0])
        else:
            value = self.convert(line, spec, values, eq)
        if value is not UNKNOWN:
            previous = frame.seen.get(key)
            if previous is not None:
                self.warning(
                    line,
                    first.col,
                    f"`{key}` is set twice in {frame.label} (lines {previous} and {line.number}); the value on line {line.number} wins",
                    key,
                    key=key,
                )
            frame.seen[key] = line.number
            model = frame.model
            if model is not None:
                if spec.device_field:
                    setattr(model, key, value[0])
                    setattr(model, spec.device_field, value[1])
                else:
                    setattr(model, key, value)
                model.loc[key] = (line.number, values[0].col)
        if not self.keep:
            return
        span = (values[0].start, values[-1].end) if values else (len(line.text), len(line.text))
        entry = KeyLine(key, line.number - 1, span, value)
        if frame.section == GLOBAL:
            self.doc.keys.append(entry)
        elif frame.doc is not None:
            frame.doc.keys.append(entry)

    def unknown_key(self, line: Line, frame: _Frame, token: Token) -> None:
        key = token.text
        home = [s for s in (GLOBAL, VIRTUAL, SERVER, FAILOVER) if key in KEYS[s]]
        where = "at the top level" if frame.section == GLOBAL else f"in {frame.label}"
        if home:
            places = ["the global section" if s == GLOBAL else s for s in home]
            listed = (
                places[0] if len(places) == 1 else ", ".join(places[:-1]) + " and " + places[-1]
            )
            blocks = " blocks" if home[-1] != GLOBAL else ""
            message = f"`{key}` does not belong {where}; it is a keyword of {listed}{blocks}"
        else:
            message = f"unknown keyword `{key}` {where}"
            match = _did_you_mean(key, KEYS[frame.section])
            if match:
                message += f" — did you mean `{match}`?"
        self.error(line, token.col, message, key, key=key)

    # --- values -------------------------------------------------------------
    def convert(self, line: Line, spec: KeySpec, values: list[Token], eq: Token) -> Any:
        """Values other than a single token of a simple type: counts, comments, lists."""
        key = spec.key
        if not values:
            example = " (e.g. `address = 192.168.1.100 eth0:1`)" if spec.type == "hostdev" else ""
            self.error(line, eq.col + 1, f"missing value after `{key} =`{example}", "", key=key)
            return UNKNOWN
        wanted = 2 if spec.type == "hostdev" else 1
        if spec.type == "list":
            closers = [i for i, t in enumerate(values) if t.is_("]")]
            wanted = closers[0] + 1 if closers else len(values)
        for i in range(wanted, len(values)):
            tok = values[i]
            if not tok.quoted and tok.text.startswith("#"):
                self.error(
                    line,
                    tok.col,
                    f"comments must be on a line of their own (`{_join(values[i:])}` follows the value of `{key}`)",
                    tok.text,
                    key=key,
                )
                return UNKNOWN
        if spec.type == "list":
            return self.convert_list(line, spec, values)
        if len(values) < wanted:
            self.error(
                line,
                values[-1].end + 1,
                f"`{key}` needs two values, the IP address and the device, e.g. `{key} = {values[0].text} eth0:1`",
                values[0].text,
                key=key,
            )
            return UNKNOWN
        if len(values) > wanted:
            extra = values[wanted:]
            hint = "; quote a value that contains blanks" if spec.type == "string" else ""
            self.error(
                line,
                extra[0].col,
                f"too many values for `{key}`: unexpected `{_join(extra)}`{hint}",
                extra[0].text,
                key=key,
            )
            return UNKNOWN
        host = self.convert_one(line, spec, "host", values[0])
        return UNKNOWN if host is UNKNOWN else (host, values[1].text)

    def convert_one(self, line: Line, spec: KeySpec, kind: str, tok: Token) -> Any:
        key, text = spec.key, tok.text
        if kind in ("string", "choice"):
            return text
        if kind == "seconds" and "." in text:
            try:
                return decimal_seconds(text)
            except ValueError as exc:
                self.error(line, tok.col, f"`{key}` = {text}: {exc}", text, key=key)
                return UNKNOWN
        if kind in ("int", "bool", "port", "seconds"):
            try:
                number, base = strtol(text)
            except ValueError as exc:
                if kind == "port":
                    return self.service(line, spec, tok)
                what = "boolean (0 or 1)" if kind == "bool" else "integer"
                self.error(
                    line,
                    tok.col,
                    f"{what} expected for `{key}`, found `{text}`" + _detail(exc),
                    text,
                    key=key,
                )
                return UNKNOWN
            if base is not None:
                self.warning(
                    line,
                    tok.col,
                    f"`{text}` is read as {base}: {key} = {number}; write {number} if that is meant",
                    text,
                    key=key,
                )
            if kind == "bool":
                if number not in (0, 1):
                    self.error(
                        line,
                        tok.col,
                        f"boolean expected for `{key}`: 0 or 1, found `{text}`",
                        text,
                        key=key,
                    )
                    return UNKNOWN
                return bool(number)
            return number
        # host, ip, mask
        dotted = inet_aton(text)
        if dotted is not None:
            if dotted != text:
                self.warning(
                    line, tok.col, f"`{text}` is read as {dotted}; write {dotted}", text, key=key
                )
            return dotted
        if kind == "host" and is_hostname(text):
            return text
        if kind == "mask":
            message = (
                f"bad subnet mask `{text}` for `{key}`; write a dotted quad such as 255.255.255.0"
            )
        elif looks_numeric(text):
            message = (
                f"`{text}` is not a valid IPv4 address (four numbers 0-255, e.g. 192.168.1.10)"
            )
        elif kind == "ip":
            message = (
                f"`{key}` needs an IPv4 address, found `{text}` (host names are not accepted here)"
            )
        else:
            message = f"invalid host name or IP address `{text}` for `{key}`"
        self.error(line, tok.col, message, text, key=key)
        return UNKNOWN

    def service(self, line: Line, spec: KeySpec, tok: Token) -> Any:
        text = tok.text
        port = None
        if text and text.isascii() and (text[0].isalpha()):
            port = self.env.service_port(text)
            if port is None:
                message = f"unknown service name `{text}` for `{spec.key}` (not in /etc/services for tcp); write the port number"
            else:
                return port
        else:
            message = f"port number or service name expected for `{spec.key}`, found `{text}`"
        self.error(line, tok.col, message, text, key=spec.key)
        return UNKNOWN

    def convert_list(self, line: Line, spec: KeySpec, values: list[Token]) -> Any:
        if len(values) < 2 or not values[0].is_("[") or not values[-1].is_("]"):
            self.error(
                line,
                values[0].col,
                f"list expected for `{spec.key}`: `{spec.key} = [ a b ]` (brackets separated by blanks)",
                values[0].text,
                key=spec.key,
            )
            return UNKNOWN
        return [t.text for t in values[1:-1]]


def _join(tokens: list[Token]) -> str:
    return " ".join(t.text if not t.quoted else f'"{t.text}"' for t in tokens)


def _detail(exc: ValueError) -> str:
    text = str(exc)
    return (
        ""
        if text == "integer expected"
        else f" ({text.removeprefix('integer expected (').rstrip(')')})"
    )


def _did_you_mean(word: str, candidates: Any) -> str | None:
    lowered = {c.lower(): c for c in candidates}
    match = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[match[0]] if match else None


def read(
    text: str,
    filename: str = "lvs.cf",
    environment: Environment | None = None,
    keep_document: bool = True,
) -> ReadResult:
    """Syntax and value types only; see `piranha.config.parse` for the whole job."""
    return Reader(text, filename, environment or Environment()).read(keep_document)


__all__ = ["TOKENS", "UNKNOWN", "BlockDoc", "Document", "KeyLine", "ReadResult", "read"]
