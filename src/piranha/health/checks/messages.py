"""Why a check failed, in the original nanny's words where it had some."""

from __future__ import annotations

import os

from ..expect import Expectation, Verdict
from .result import CheckResult

CONNECT, HANDSHAKE, WRITE, READ = "connect", "handshake", "write", "read"


def judged(verdict: Verdict, expectation: Expectation, where: str, got: int) -> CheckResult:
    """The result of a reply the expectation has decided on."""
    if verdict is Verdict.MATCH:
        return CheckResult.up()
    if verdict is Verdict.SHORT:
        return CheckResult.down(f"READ from {where} was too short[{got}>={expectation.wanted}]")
    return CheckResult.down(f"Trouble. Received results are not what we expected from ({where})")


def timed_out(phase: str, where: str, got: int = 0) -> str:
    if phase == CONNECT:
        return f"CONNECT to {where} timed out"
    if phase == HANDSHAKE:
        return f"TLS handshake with {where} timed out"
    if phase == WRITE:
        return f"WRITE operation for {where} timed out"
    return f"READ to {where} timed out" + (f" after {got} bytes" if got else "")


def failed(phase: str, where: str, exc: OSError) -> str:
    why = getattr(exc, "reason", None)  # ssl.SSLError
    if not why:
        # asyncio puts its own text in strerror ("Connect call failed ..."): use the errno's.
        why = os.strerror(exc.errno) if exc.errno else (str(exc) or type(exc).__name__)
    if phase == CONNECT:
        return f"CONNECT to {where} failed: {why}"
    if phase == HANDSHAKE:
        return f"TLS handshake with {where} failed: {why}"
    if phase == WRITE:
        return f"WRITE operation for {where} returned error: {why}"
    return f"READ from {where} returned error {exc.errno}:{why}"
