"""nanny's backslash escapes for send/expect strings."""

from __future__ import annotations

_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", "'": "'", '"': '"'}


def translate_escapes(s: str) -> str:
    r"""Translate ``\n \r \t \\ \' \"`` as nanny does; any other ``\x`` stays as written.

    lvs.cf keeps backslashes literal (``send = "GET / HTTP/1.0\r\n\r\n"``
    holds backslash-r); the health checker translates them just before use.
    A trailing lone backslash stays.
    """
    if "\\" not in s:
        return s
    out: list[str] = []
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c == "\\" and i + 1 < n and s[i + 1] in _ESCAPES:
            out.append(_ESCAPES[s[i + 1]])
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)
