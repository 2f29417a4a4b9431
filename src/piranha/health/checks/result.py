"""The outcome of one check."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CheckResult:
    """``ok``, or why not in the original nanny's words (``CONNECT to 10.0.0.2:80 timed out``)."""

    ok: bool
    reason: str = ""

    @classmethod
    def up(cls) -> CheckResult:
        return _UP

    @classmethod
    def down(cls, reason: str) -> CheckResult:
        return cls(False, reason)


_UP = CheckResult(True)
