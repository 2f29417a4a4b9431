"""Reading single values the way the original's C library did (strtol, inet_aton).

Pure functions; each returns the value or raises ValueError with a message
that says what was expected.
"""

from __future__ import annotations

import re
import unicodedata

_HEX_DIGITS = "0123456789abcdefABCDEF"


def strtol(text: str) -> tuple[int, str | None]:
    """C ``strtol(text, &end, 0)`` that must consume the whole text.

    Returns (value, base_note); base_note names a surprising base ("octal"
    or "hexadecimal") so the caller can warn.
    """
    s = text
    sign = 1
    if s and s[0] in "+-":
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    if not s:
        raise ValueError("integer expected")
    if s[:2] in ("0x", "0X"):
        digits = s[2:]
        if not digits or any(c not in _HEX_DIGITS for c in digits):
            raise ValueError("integer expected")
        return sign * int(digits, 16), "hexadecimal"
    if not s.isascii() or not s.isdigit():
        raise ValueError("integer expected")
    if len(s) > 1 and s[0] == "0":
        if any(c in "89" for c in s):
            raise ValueError(
                "integer expected (a leading 0 makes it octal, and octal has no 8 or 9)"
            )
        return sign * int(s, 8), "octal"
    return sign * int(s, 10), None


_DECIMAL_SECONDS = re.compile(r"[0-9]+\.[0-9]+\Z")
SECONDS_DECIMALS = 3  # millisecond resolution


def decimal_seconds(text: str) -> float:
    """``0.5``-style seconds (keys of type ``seconds`` whose text has a point).

    Text without a point goes through `strtol` as before, so whole numbers
    read exactly as they always did.  Raises ValueError with what is expected.
    """
    if not _DECIMAL_SECONDS.match(text):
        raise ValueError("seconds expected, e.g. 2 or 0.5")
    if len(text.partition(".")[2]) > SECONDS_DECIMALS:
        raise ValueError(f"at most {SECONDS_DECIMALS} decimals (millisecond resolution)")
    return float(text)


def format_seconds(value: float) -> str:
    """2 -> ``2``, 0.1 -> ``0.1``, 2.0 -> ``2``."""
    if isinstance(value, int):
        return str(value)
    return f"{value:.{SECONDS_DECIMALS}f}".rstrip("0").rstrip(".")


def _aton_part(part: str) -> int | None:
    """One part of an inet_aton address (decimal, 0-octal or 0x-hex)."""
    if part[:2] in ("0x", "0X"):
        digits = part[2:]
        if not digits or any(c not in _HEX_DIGITS for c in digits):
            return None
        return int(digits, 16)
    if not part or not part.isascii() or not part.isdigit():
        return None
    if len(part) > 1 and part[0] == "0":
        return None if any(c in "89" for c in part) else int(part, 8)
    return int(part)


_CANONICAL = re.compile(
    r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\Z"
)


def inet_aton(text: str) -> str | None:
    """The dotted quad glibc's inet_aton makes of `text` (``10.1`` -> 10.0.0.1), or None.

    Stricter than glibc in one way: nothing may follow the address.
    """
    if _CANONICAL.match(text):
        return text
    parts = text.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    values = [_aton_part(p) for p in parts]
    if any(v is None for v in values):
        return None
    nums: list[int] = values  # type: ignore[assignment]
    # a / a.b / a.b.c / a.b.c.d: the last part fills the remaining bytes.
    *head, last = nums
    if any(v > 0xFF for v in head) or last >= 1 << (8 * (4 - len(head))):
        return None
    value = 0
    for v in head:
        value = value << 8 | v
    value = value << (8 * (4 - len(head))) | last
    return ".".join(str(value >> s & 0xFF) for s in (24, 16, 8, 0))


def ip_to_int(dotted: str) -> int:
    a, b, c, d = (int(p) for p in dotted.split("."))
    return a << 24 | b << 16 | c << 8 | d


def is_dotted_quad(text: str) -> bool:
    """Canonical form only: four decimal parts 0-255 without leading zeros."""
    return inet_aton(text) == text


def mask_is_contiguous(dotted: str) -> bool:
    value = ip_to_int(dotted)
    inverted = ~value & 0xFFFFFFFF
    return inverted & (inverted + 1) == 0


_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)\Z")


def looks_numeric(text: str) -> bool:
    """Text meant as an IPv4 address (digits, dots, hex) rather than a host name."""
    return bool(text) and all(c in "0123456789.xXabcdefABCDEF" for c in text) and text[0].isdigit()


def is_hostname(text: str) -> bool:
    """RFC 1123 host name syntax (underscores tolerated, as resolvers do)."""
    if not text or len(text) > 253 or looks_numeric(text):
        return False
    name = text[:-1] if text.endswith(".") else text
    return all(_LABEL.match(label) for label in name.split("."))


def parse_port_ranges(text: str) -> list[tuple[int, int]]:
    """``21,10000-20000`` -> [(21, 21), (10000, 20000)]."""
    ranges: list[tuple[int, int]] = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            raise ValueError("empty item in the port list")
        low_text, sep, high_text = item.partition("-")
        try:
            low = _plain_port(low_text)
            high = _plain_port(high_text) if sep else low
        except ValueError:
            raise ValueError(f"`{item}` is not a port (1-65535) or a range like 10000-20000")
        if low > high:
            raise ValueError(f"range `{item}` runs backwards; write it as {high}-{low}")
        ranges.append((low, high))
    return ranges


def _plain_port(text: str) -> int:
    text = text.strip()
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ValueError(text)
    return int(text)


# Cc (C0 and C1 controls), Zl, Zp, Cs: what forbidden_char() refuses, tab excepted.
FORBIDDEN = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def forbidden_char(text: str) -> str | None:
    """The first character no lvs.cf value may hold, or None.

    Control characters (newline, CR, NUL, tab, escape ...), Unicode line and
    paragraph separators, and lone surrogates (bytes that were not UTF-8):
    nothing a daemon later passes to a program or a log may hide a line break
    or a terminal escape.
    """
    if "\t" in text:
        return "\t"
    m = FORBIDDEN.search(text)
    return m.group() if m else None


def describe_char(c: str) -> str:
    names = {"\n": "newline", "\r": "carriage return", "\t": "tab", "\0": "NUL", "\x1b": "escape"}
    if unicodedata.category(c) == "Cs":
        return "a byte that is not UTF-8"
    return f"U+{ord(c):04X}" + (f" ({names[c]})" if c in names else "")
