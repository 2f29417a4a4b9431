"""From a configured check to the probe that runs: nanny's start-up normalisation.

As the original nanny did at start-up:

* ``send_program`` wins over ``send`` (which is dropped, and the drop logged);
* the virtual port 80 with none of send/expect/send_program configured gets
  the default web probe ``GET / HTTP/1.0\\r\\n\\r\\n`` expecting ``HTTP``
  (logged "no monitor configured, assuming web service on port 80");
  unlike the original only for TCP — an HTTP request over UDP means nothing;
* backslash escapes in send and expect are translated unless suppressed
  (``-T``), with the same function ``piranha check`` uses;
* a ``use_regex`` expect is compiled once, here.

An empty ``send`` or ``expect`` counts as not set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from piranha.config import translate_escapes
from piranha.config.regex import compile_expect

from .expect import ENCODING, ERRORS, Expectation
from .spec import CheckSpec

HTTP_SEND = "GET / HTTP/1.0\r\n\r\n"
HTTP_EXPECT = "HTTP"
HTTP_PORT = 80
NO_MONITOR_NOTE = "no monitor configured, assuming web service on port 80"

STREAM, DATAGRAM, PROGRAM = "stream", "datagram", "program"


@dataclass(frozen=True)
class Probe:
    """What one check does; `kind` is stream (TCP/TLS), datagram (UDP) or program."""

    kind: str
    send: bytes | None = None
    expectation: Expectation | None = None
    program: str | None = None
    expect_text: str | None = None  # escape-translated expect (program output compare)
    tls: bool = False
    # Lines nanny logs once at start (normalisation it applied).
    notes: tuple[str, ...] = ()
    # A setting that makes every check fail, in the original's words.
    error: str | None = None


def build_probe(check: CheckSpec) -> Probe:
    send = check.send or None
    expect = check.expect or None
    program = check.send_program or None
    notes: list[str] = []
    if program is not None and send is not None:
        notes.append(
            f"External program use requested: ({program}), IGNORING send string option ({send})"
        )
        send = None
    default_web = False
    if (
        check.vport == HTTP_PORT
        and check.protocol == "tcp"
        and send is None
        and expect is None
        and program is None
    ):
        notes.append(NO_MONITOR_NOTE)
        send, expect, default_web = HTTP_SEND, HTTP_EXPECT, True
    if check.translate_escapes and not default_web:
        send = translate_escapes(send) if send is not None else None
        expect = translate_escapes(expect) if expect is not None else None

    if program is not None:
        return Probe(PROGRAM, program=program, expect_text=expect, notes=tuple(notes))

    expectation: Expectation | None = None
    error: str | None = None
    if expect is not None:
        if check.use_regex and not default_web:
            try:
                expectation = Expectation.regex(expect, compile_expect(expect))
            except re.error as exc:
                error = f"Error '{exc}' processing expected regular expression"
        else:
            expectation = Expectation.plain(expect)
    return Probe(
        DATAGRAM if check.protocol == "udp" else STREAM,
        send=send.encode(ENCODING, ERRORS) if send is not None else None,
        expectation=expectation,
        tls=check.tls and check.protocol == "tcp",
        notes=tuple(notes),
        error=error,
    )
