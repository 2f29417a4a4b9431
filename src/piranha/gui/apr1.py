"""Apache's ``$apr1$`` MD5 password hash (``htpasswd -m``), for migrating old password files.

The original piranha-passwd ran ``htpasswd``, whose default on RHEL was this
format.  We only verify such hashes (and replace them with argon2 at the
next login); new passwords are never stored this way.
"""

from __future__ import annotations

import hashlib
import hmac

MAGIC = b"$apr1$"
_ITOA64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# Byte triples of the final digest, in the order the encoding takes them.
_GROUPS = ((0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5))


def _to64(value: int, count: int) -> str:
    out = []
    for _ in range(count):
        out.append(_ITOA64[value & 0x3F])
        value >>= 6
    return "".join(out)


def apr1(password: str, salt: str) -> str:
    """``$apr1$<salt>$<hash>`` for `password` (UTF-8) and `salt` (at most 8 characters used)."""
    pw = password.encode("utf-8")
    salt_b = salt.encode("ascii")[:8]
    ctx = hashlib.md5(pw + MAGIC + salt_b)
    alternate = hashlib.md5(pw + salt_b + pw).digest()
    for left in range(len(pw), 0, -16):
        ctx.update(alternate[: min(16, left)])
    i = len(pw)
    while i:
        ctx.update(b"\0" if i & 1 else pw[:1])
        i >>= 1
    final = ctx.digest()
    # 1000 rounds to slow guessing down (slow in 1996; trivial today, hence the upgrade).
    for i in range(1000):
        step = hashlib.md5(pw if i & 1 else final)
        if i % 3:
            step.update(salt_b)
        if i % 7:
            step.update(pw)
        step.update(final if i & 1 else pw)
        final = step.digest()
    encoded = "".join(
        _to64((final[a] << 16) | (final[b] << 8) | final[c], 4) for a, b, c in _GROUPS
    )
    encoded += _to64(final[11], 2)
    return f"$apr1${salt_b.decode('ascii')}${encoded}"


def verify_apr1(password: str, stored: str) -> bool:
    """Whether `password` matches the ``$apr1$salt$hash`` string `stored`."""
    parts = stored.split("$")
    if len(parts) != 4 or parts[1] != "apr1":
        return False
    try:
        candidate = apr1(password, parts[2])
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(candidate.encode(), stored.encode())
