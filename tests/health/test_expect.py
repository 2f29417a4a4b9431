"""Judging replies: prefix, splat, regex; fragmentation never changes a verdict."""

from hypothesis import given
from hypothesis import strategies as st

from piranha.config.regex import compile_expect
from piranha.health.expect import MAX_REPLY, Expectation, Verdict


def regex(text: str) -> Expectation:
    return Expectation.regex(text, compile_expect(text))


def test_plain_is_a_prefix_match_on_the_first_bytes():
    e = Expectation.plain("HTTP")
    assert e.judge(b"HTTP/1.0 200 OK\r\n", closed=False) is Verdict.MATCH
    assert e.judge(b"XHTTP/1.0", closed=False) is Verdict.MISMATCH
    assert e.judge(b"http/1.0", closed=False) is Verdict.MISMATCH


def test_plain_waits_for_enough_bytes_and_reports_short_replies():
    e = Expectation.plain("220 ready")
    assert e.judge(b"220 re", closed=False) is Verdict.MORE
    assert e.judge(b"220 re", closed=True) is Verdict.SHORT
    assert e.wanted == 9


def test_plain_decides_a_wrong_prefix_without_waiting():
    assert Expectation.plain("220").judge(b"5", closed=False) is Verdict.MISMATCH


def test_splat_accepts_any_byte_but_not_silence():
    e = Expectation.plain("*")
    assert e.judge(b"\x00", closed=False) is Verdict.MATCH
    assert e.judge(b"", closed=False) is Verdict.MORE
    assert e.judge(b"", closed=True) is Verdict.SHORT


def test_a_star_inside_a_longer_expect_is_literal():
    e = Expectation.plain("* OK")
    assert e.judge(b"* OK IMAP4 ready", closed=False) is Verdict.MATCH
    assert e.judge(b"x OK IMAP4 ready", closed=False) is Verdict.MISMATCH


def test_regex_is_searched_until_it_matches_or_the_reply_ends():
    e = regex("200 OK")
    assert e.judge(b"HTTP/1.0 20", closed=False) is Verdict.MORE
    assert e.judge(b"HTTP/1.0 200 OK\r\n", closed=False) is Verdict.MATCH
    assert e.judge(b"HTTP/1.0 500 Oops\r\n", closed=True) is Verdict.MISMATCH


def test_regex_gives_up_after_max_reply_bytes():
    e = regex("needle")
    assert e.judge(b"x" * MAX_REPLY, closed=False) is Verdict.MISMATCH


def test_regex_finds_a_body_far_behind_the_headers():
    # The original read 254 bytes; an ldirectord-style receive string sits in the body.
    reply = b"HTTP/1.1 200 OK\r\n" + b"X-Pad: " + b"p" * 600 + b"\r\n\r\nwebserverisworking\n"
    assert regex("webserverisworking").judge(reply, closed=True) is Verdict.MATCH


def test_non_ascii_expect_matches_utf8_replies():
    assert Expectation.plain("é").judge("é!".encode(), closed=False) is Verdict.MATCH
    assert regex("ü+").judge("grüüße".encode(), closed=True) is Verdict.MATCH


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(data)) for c in cuts})
    parts, last = [], 0
    for p in points:
        parts.append(data[last:p])
        last = p
    parts.append(data[last:])
    return [p for p in parts if p]


def _incremental(e: Expectation, chunks: list[bytes]) -> Verdict:
    data = b""
    for chunk in chunks:
        data += chunk
        verdict = e.judge(data, closed=False)
        if verdict is not Verdict.MORE:
            return verdict
    return e.judge(data, closed=True)


@given(
    expect=st.text(alphabet="HTP/1.0 2OK*", min_size=1, max_size=6),
    reply=st.binary(max_size=20) | st.sampled_from([b"HTTP/1.0 200 OK", b"220 ok", b"*"]),
    cuts=st.lists(st.integers(min_value=0, max_value=20), max_size=5),
)
def test_fragmentation_never_changes_a_plain_verdict(expect, reply, cuts):
    e = Expectation.plain(expect)
    assert _incremental(e, _split(reply, cuts)) is _incremental(e, [reply] if reply else [])


@given(
    pattern=st.sampled_from(["OK", "^HTTP", "2[0-9][0-9]", "a|b", "x.y"]),
    reply=st.binary(max_size=20) | st.sampled_from([b"HTTP/1.0 200 OK", b"x\ny"]),
    cuts=st.lists(st.integers(min_value=0, max_value=20), max_size=5),
)
def test_fragmentation_never_changes_a_regex_verdict(pattern, reply, cuts):
    e = regex(pattern)
    assert _incremental(e, _split(reply, cuts)) is _incremental(e, [reply] if reply else [])
