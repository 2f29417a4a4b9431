"""The lexical layer: line splitting, tokens, strtol, inet_aton, escapes."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from piranha.config import translate_escapes
from piranha.config.lexer import BLANK, COMMENT, TOKENS, lex, split_lines, tokenize
from piranha.config.values import (
    FORBIDDEN,
    forbidden_char,
    inet_aton,
    is_hostname,
    mask_is_contiguous,
    parse_port_ranges,
    strtol,
)


# --- lines ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a\nb\n", [("a", "\n"), ("b", "\n")]),
        ("a\r\nb\r\n", [("a", "\r\n"), ("b", "\r\n")]),
        ("a\rb\r", [("a", "\r"), ("b", "\r")]),
        ("a\nb\r\nc\rd", [("a", "\n"), ("b", "\r\n"), ("c", "\r"), ("d", "")]),
        ("\r\n\r\n", [("", "\r\n"), ("", "\r\n")]),
        ("", []),
        # only \n, \r\n and \r end lines; other Unicode breaks stay inside the line
        ("a\x0bb\x0cc\x85d\u2028e\n", [("a\x0bb\x0cc\x85d\u2028e", "\n")]),
    ],
)
def test_split_lines(text, expected):
    assert split_lines(text) == expected


@settings(max_examples=300, derandomize=True)
@given(st.text(st.sampled_from("ab \t\r\n\x0b\x0c\x85\u2028\u2029#\"'")))
def test_split_lines_joins_back_exactly(text):
    pairs = split_lines(text)
    assert "".join(t + e for t, e in pairs) == text
    assert all("\r" not in t and "\n" not in t for t, _ in pairs)


def test_line_kinds_and_indent():
    lines = lex("\ufeff  # comment\n\t \nkey = value\n   # indented comment\n")
    assert [line.kind for line in lines] == [COMMENT, BLANK, TOKENS, COMMENT]
    assert lines[0].indent == "\ufeff  "
    assert [t.text for t in lines[2].tokens] == ["key", "=", "value"]


def test_tokens_have_columns_and_spans():
    line = tokenize(3, '\tsend  = "GET / HTTP/1.0\\r\\n"   x')
    assert [(t.text, t.col, t.quoted) for t in line.tokens] == [
        ("send", 2, False),
        ("=", 8, False),
        ("GET / HTTP/1.0\\r\\n", 10, True),
        ("x", 33, False),
    ]
    third = line.tokens[2]
    assert line.text[third.start : third.end] == '"GET / HTTP/1.0\\r\\n"'


def test_quoted_tokens_end_at_the_closing_quote_even_before_trailing_blanks():
    # The original lost this line inside virtual blocks (quirk of §1.1).
    line = tokenize(1, 'expect = "HTTP"   ')
    assert line.error is None
    assert [t.text for t in line.tokens] == ["expect", "=", "HTTP"]


def test_single_quotes_may_hold_double_quotes():
    line = tokenize(1, "send = 'say \"hi\"'")
    assert line.tokens[2].text == 'say "hi"'


def test_a_quote_inside_a_plain_token_is_literal():
    assert tokenize(1, 'name = ab"c').tokens[2].text == 'ab"c'


def test_unclosed_quote_is_a_quotation_mismatch():
    line = tokenize(1, 'send = "GET / HTTP')
    assert line.error is not None
    assert line.error.col == 8
    assert "quotation mismatch" in line.error.message


def test_text_glued_to_a_closing_quote_is_an_error():
    line = tokenize(1, 'send = "abc"def')
    assert line.error is not None and line.error.col == 13
    assert "`def` directly after the closing quote" in line.error.message


@pytest.mark.parametrize(
    ("text", "col", "what"),
    [
        ("port = 8\x000", 9, "U+0000 (NUL)"),
        ("name = a\x1bb", 9, "U+001B (escape)"),
        ('send = "a\tb"', 10, "U+0009 (tab)"),
        ("x = a\u2028b", 6, "U+2028"),
        ("x = \udcff", 5, "a byte that is not UTF-8"),
    ],
)
def test_control_characters_are_refused_outside_comments(text, col, what):
    line = tokenize(1, text)
    assert line.error is not None
    assert line.error.col == col
    assert what in line.error.message


def test_comments_may_hold_anything():
    assert tokenize(1, "# \x00\x1b\t\udcff").kind == COMMENT


def test_forbidden_pattern_is_exactly_the_categories():
    for cp in range(0x3000):
        c = chr(cp)
        expected = unicodedata.category(c) in ("Cc", "Zl", "Zp", "Cs") and c != "\t"
        assert bool(FORBIDDEN.match(c)) == expected, hex(cp)
    assert forbidden_char("a\tb") == "\t"
    assert forbidden_char("plain text é") is None


# --- numbers -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "value", "base"),
    [
        ("0", 0, None),
        ("80", 80, None),
        ("-5", -5, None),
        ("+7", 7, None),
        ("010", 8, "octal"),
        ("0x10", 16, "hexadecimal"),
        ("0XfF", 255, "hexadecimal"),
        ("-0x10", -16, "hexadecimal"),
        ("00", 0, "octal"),
    ],
)
def test_strtol_base_0(text, value, base):
    assert strtol(text) == (value, base)


@pytest.mark.parametrize("text", ["", "-", "0x", "08", "1.5", "12a", " 1", "１２", "0x1g", "1e3"])
def test_strtol_rejects(text):
    with pytest.raises(ValueError):
        strtol(text)


# --- addresses ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "dotted"),
    [
        ("192.168.1.10", "192.168.1.10"),
        ("10.1", "10.0.0.1"),
        ("10.1.2", "10.1.0.2"),
        ("167772161", "10.0.0.1"),
        ("0x0a.0.0.1", "10.0.0.1"),
        ("012.0.0.1", "10.0.0.1"),
        ("10.65535", "10.0.255.255"),
        ("255.255.255.255", "255.255.255.255"),
    ],
)
def test_inet_aton_forms(text, dotted):
    assert inet_aton(text) == dotted


@pytest.mark.parametrize(
    "text",
    [
        "",
        "1.",
        ".1",
        "1..2",
        "256.0.0.1",
        "1.2.3.256",
        "10.16777216",
        "4294967296",
        "08.0.0.1",
        "0x",
        "a.b.c.d",
        "1.2.3.4.5",
        "1.2.3.4 ",
    ],
)
def test_inet_aton_rejects(text):
    assert inet_aton(text) is None


@given(st.integers(0, 2**32 - 1))
@settings(max_examples=200, derandomize=True)
def test_inet_aton_single_number_is_the_whole_address(n):
    dotted = inet_aton(str(n))
    assert dotted is not None
    assert [int(p) for p in dotted.split(".")] == [(n >> s) & 0xFF for s in (24, 16, 8, 0)]


@pytest.mark.parametrize(
    "mask", ["0.0.0.0", "255.0.0.0", "255.255.255.0", "255.255.255.252", "255.255.255.255"]
)
def test_contiguous_masks(mask):
    assert mask_is_contiguous(mask)


@pytest.mark.parametrize("mask", ["255.0.255.0", "0.255.255.255", "255.255.255.253", "1.0.0.0"])
def test_non_contiguous_masks(mask):
    assert not mask_is_contiguous(mask)


@pytest.mark.parametrize("name", ["web", "lb1.example.com", "a-b.c_d.example.", "x1"])
def test_hostnames(name):
    assert is_hostname(name)


@pytest.mark.parametrize(
    "name", ["", "-web", "web-", "a..b", "a b", "10.0.0.256", "1.2.3", "wé", "a/b", "x" * 64]
)
def test_not_hostnames(name):
    assert not is_hostname(name)


def test_port_ranges():
    assert parse_port_ranges("21,10000-20000") == [(21, 21), (10000, 20000)]
    assert parse_port_ranges(" 80 , 443 ") == [(80, 80), (443, 443)]
    for bad in ["", "80,", "0", "65536", "20-10", "a", "1-2-3", "80;443"]:
        with pytest.raises(ValueError):
            parse_port_ranges(bad)


# --- nanny's escapes -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "translated"),
    [
        ("GET / HTTP/1.0\\r\\n\\r\\n", "GET / HTTP/1.0\r\n\r\n"),
        ("\\t\\\\\\'\\\"", "\t\\'\""),
        ("\\x41\\d", "\\x41\\d"),  # other escapes stay as written
        ("end\\", "end\\"),
        ("\\\\n", "\\n"),  # an escaped backslash, then a plain n
        ("\\n", "\n"),
        ("", ""),
    ],
)
def test_translate_escapes(raw, translated):
    assert translate_escapes(raw) == translated
