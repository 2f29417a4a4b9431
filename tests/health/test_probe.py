"""nanny's start-up normalisation of a check (piranha-behaviour.md §4.1)."""

from dataclasses import replace

from piranha.health.probe import (
    DATAGRAM,
    HTTP_EXPECT,
    HTTP_SEND,
    NO_MONITOR_NOTE,
    PROGRAM,
    STREAM,
    build_probe,
)
from piranha.health.spec import CheckSpec

BASE = CheckSpec(
    address="10.0.0.2",
    port=8080,
    vport=8080,
    protocol="tcp",
    send=None,
    expect=None,
    use_regex=False,
    send_program=None,
    tls=False,
    timeout=10.0,
)


def test_connect_only_without_send_expect_or_program():
    p = build_probe(BASE)
    assert p.kind == STREAM and p.send is None and p.expectation is None and p.notes == ()


def test_virtual_port_80_gets_the_default_web_probe():
    p = build_probe(replace(BASE, vport=80))
    assert p.send == HTTP_SEND.encode() and p.expectation is not None
    assert p.expectation.text == HTTP_EXPECT
    assert p.notes == (NO_MONITOR_NOTE,)


def test_the_default_keys_on_the_virtual_port_not_the_real_one():
    assert build_probe(replace(BASE, port=80, vport=8080)).send is None
    assert build_probe(replace(BASE, port=8080, vport=80)).send == HTTP_SEND.encode()


def test_no_default_web_probe_once_anything_is_configured_or_over_udp():
    assert build_probe(replace(BASE, vport=80, expect="220")).send is None
    assert build_probe(replace(BASE, vport=80, send="x")).expectation is None
    assert build_probe(replace(BASE, vport=80, send_program="/bin/true")).kind == PROGRAM
    udp = build_probe(replace(BASE, vport=80, protocol="udp"))
    assert udp.kind == DATAGRAM and udp.send is None


def test_send_program_wins_over_send_and_says_so():
    p = build_probe(replace(BASE, send="quit", send_program="/bin/check %h", expect="OK"))
    assert p.kind == PROGRAM and p.program == "/bin/check %h" and p.expect_text == "OK"
    assert p.notes == (
        "External program use requested: (/bin/check %h), IGNORING send string option (quit)",
    )


def test_escapes_are_translated_unless_suppressed():
    raw = replace(BASE, send=r"GET / HTTP/1.0\r\n\r\n", expect=r"HTTP\t\q")
    p = build_probe(raw)
    assert p.send == b"GET / HTTP/1.0\r\n\r\n"
    assert p.expectation is not None and p.expectation.text == "HTTP\t\\q"
    q = build_probe(replace(raw, translate_escapes=False))
    assert q.send == rb"GET / HTTP/1.0\r\n\r\n"


def test_program_expect_is_translated_too():
    p = build_probe(replace(BASE, send_program="/bin/x", expect=r"OK\n"))
    assert p.expect_text == "OK\n"


def test_empty_strings_count_as_not_set():
    p = build_probe(replace(BASE, vport=80, send="", expect=""))
    assert p.send == HTTP_SEND.encode()


def test_a_bad_regex_fails_every_check_with_the_original_message():
    p = build_probe(replace(BASE, expect="(", use_regex=True))
    assert p.error is not None and p.error.startswith("Error '")
    assert p.error.endswith("' processing expected regular expression")


def test_tls_only_for_tcp():
    assert build_probe(replace(BASE, tls=True)).tls
    assert not build_probe(replace(BASE, tls=True, protocol="udp")).tls
