"""use_regex: POSIX ERE read by Python's re, accepting exactly what `piranha check` accepts."""

import re
import warnings

import pytest
from hypothesis import given
from hypothesis import strategies as st

from piranha.config import parse
from piranha.config.regex import compile_expect, posix_to_python


def found(pattern: str, text: str) -> bool:
    return compile_expect(pattern).search(text) is not None


def test_bracket_classes_mean_what_posix_says():
    assert found("[[:digit:]]{3}", "HTTP/1.0 200")
    assert not found("^[[:digit:]]+$", "12a")
    assert found("^[[:alpha:]]+$", "Server")
    assert found("[[:space:]]OK", "200 OK")
    assert found("[^[:space:]]+", "x")
    assert not found("[[:upper:]]", "lower only")
    assert found("[[:xdigit:]]{4}", "beef")
    assert found("[[:punct:]]", "a-b")


def test_a_backslash_in_brackets_is_itself():
    assert found(r"[\n]", "\\")  # POSIX: backslash or n, not newline
    assert found(r"[\n]", "n")
    assert not found(r"[\n]", "\n")


def test_equivalence_and_collating_elements_of_one_character():
    assert found("[[=a=]]", "a")
    assert found("x[[.-.]]y", "x-y")


def test_gnu_word_boundaries():
    assert found(r"\<OK\>", "200 OK\r\n")
    assert not found(r"\<OK\>", "NOTOKAY")


def test_dot_matches_a_newline_as_in_posix():
    assert found("HTTP.*OK", "HTTP/1.0 200\nOK")


def test_translation_leaves_ordinary_expressions_alone():
    for p in ["HTTP/1\\.[01] 200", "(a|b)+c?", "^220 ", "x{2,3}", "[abc]", "[]a]", "[^]a]"]:
        assert posix_to_python(p) == p


def test_an_invalid_posix_range_still_compiles_as_the_check_accepted_it():
    # [\-+] is a backslash-to-plus range in POSIX (invalid); Python reads an escaped dash.
    assert found(r"[\-+]", "-")


def _check_accepts(expect: str) -> bool:
    text = (
        f'virtual v {{\n  address = 10.0.0.1 eth0:1\n  use_regex = 1\n  expect = "{expect}"\n}}\n'
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parse(text)
    except Exception:
        return False
    return True


def _health_accepts(expect: str) -> bool:
    from piranha.config import translate_escapes

    try:
        compile_expect(translate_escapes(expect))
    except re.error:
        return False
    return True


@pytest.mark.parametrize("expect", ["(", "[[:alpha:]", "a{2,1}", "*x", "ok)", "[z-a]", r"\\"])
def test_bad_expressions_are_refused_by_both(expect):
    assert _check_accepts(expect) == _health_accepts(expect)


@given(st.text(alphabet="ab()[]{}|*+?.^$\\:-,12 ", max_size=10))
def test_nanny_compiles_exactly_what_piranha_check_accepts(expect):
    if '"' in expect:
        return
    assert _check_accepts(expect) == _health_accepts(expect)
