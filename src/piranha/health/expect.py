"""Judging a reply against ``expect``: how many bytes are enough, and do they match.

Pure logic, fed the bytes received so far.  The original did a single
``read()`` and judged whatever it got, so a reply split across TCP segments
failed; here the reader keeps reading while the verdict is ``MORE``.

* plain mode: a prefix match — the reply's first ``len(expect)`` bytes must
  equal ``expect``; the one-character expect ``*`` accepts any byte (the
  original's "splat");
* regex mode: the expression is searched in the reply so far (decoded as
  UTF-8, undecodable bytes kept as surrogates) until it matches, the peer
  closes, or ``MAX_REPLY`` bytes have arrived.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

# The most of a reply a regex is searched in (the original read 254 bytes;
# an HTTP body behind a few headers needs more).
MAX_REPLY = 64 * 1024
ENCODING = "utf-8"
ERRORS = "surrogateescape"


class Verdict(enum.Enum):
    MATCH = "match"
    MISMATCH = "mismatch"
    SHORT = "short"  # the peer closed before `expect` could be judged
    MORE = "more"  # keep reading


@dataclass(frozen=True)
class Expectation:
    """``expect`` ready for judging; build with `plain` or `regex`."""

    text: str
    pattern: re.Pattern[str] | None = None

    @classmethod
    def plain(cls, text: str) -> Expectation:
        return cls(text)

    @classmethod
    def regex(cls, text: str, pattern: re.Pattern[str]) -> Expectation:
        return cls(text, pattern)

    @property
    def wanted(self) -> int:
        """Bytes a plain expectation needs (for the "too short" message)."""
        return len(self.text.encode(ENCODING, ERRORS))

    def judge(self, data: bytes, closed: bool) -> Verdict:
        """The verdict on `data` (everything received); `closed`: no more will come."""
        if self.pattern is not None:
            if self.pattern.search(data.decode(ENCODING, ERRORS)):
                return Verdict.MATCH
            if closed or len(data) >= MAX_REPLY:
                return Verdict.MISMATCH
            return Verdict.MORE
        if self.text == "*":
            if data:
                return Verdict.MATCH
            return Verdict.SHORT if closed else Verdict.MORE
        want = self.text.encode(ENCODING, ERRORS)
        if len(data) < len(want):
            # A differing byte already decides; waiting would only turn a
            # wrong answer into a timeout.
            if not want.startswith(data):
                return Verdict.MISMATCH
            return Verdict.SHORT if closed else Verdict.MORE
        return Verdict.MATCH if data[: len(want)] == want else Verdict.MISMATCH
