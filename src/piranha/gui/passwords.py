"""The Configuration Tool's password file: ``piranha:<hash>`` lines, as htpasswd wrote them.

New passwords are hashed with argon2id and written atomically to a file only
root can read (0600).  Hashes left by the original's ``piranha-passwd``
(htpasswd: ``$apr1$`` MD5, bcrypt ``$2y$``/``$2b$``, ``{SHA}``) are accepted
at login so an operator can migrate, and are replaced by argon2 on the first
successful login.  There is no default password: without this file the tool
does not start.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass
from pathlib import Path

import argon2
import bcrypt

from .apr1 import verify_apr1
from .secretfile import write_private

DEFAULT_PASSWD_FILE = "/etc/sysconfig/ha/conf/piranha.passwd"
USER = "piranha"
_HASHER = argon2.PasswordHasher()


class PasswordFileError(Exception):
    """The password file is missing, unreadable or holds no usable entry (message for the user)."""


def passwd_file(explicit: str | os.PathLike[str] | None = None) -> Path:
    """`explicit`, else $PIRANHA_PASSWD_FILE, else the original's location."""
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("PIRANHA_PASSWD_FILE") or DEFAULT_PASSWD_FILE)


def hash_password(password: str) -> str:
    """A new argon2id hash (argon2-cffi's current defaults)."""
    return _HASHER.hash(password)


def scheme(stored: str) -> str:
    """Which kind of hash `stored` is: argon2, bcrypt, apr1, sha or unknown."""
    if stored.startswith("$argon2"):
        return "argon2"
    if stored[:4] in ("$2a$", "$2b$", "$2y$"):
        return "bcrypt"
    if stored.startswith("$apr1$"):
        return "apr1"
    if stored.startswith("{SHA}"):
        return "sha"
    return "unknown"


def verify(stored: str, password: str) -> bool:
    """Whether `password` matches `stored` (any supported scheme). Slow on purpose: call it off the event loop."""
    kind = scheme(stored)
    if kind == "argon2":
        try:
            return _HASHER.verify(stored, password)
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            return False
    if kind == "bcrypt":
        try:
            # bcrypt names the same algorithm $2y$ (PHP/Apache) and $2b$ (OpenBSD).
            return bcrypt.checkpw(password.encode(), ("$2b$" + stored[4:]).encode())
        except ValueError:  # malformed hash, or a password longer than bcrypt's 72 bytes
            return False
    if kind == "apr1":
        return verify_apr1(password, stored)
    if kind == "sha":
        digest = base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()
        return hmac.compare_digest(("{SHA}" + digest).encode(), stored.encode())
    return False


def needs_upgrade(stored: str) -> bool:
    """True for legacy hashes and for argon2 hashes made with weaker parameters than today's."""
    if scheme(stored) != "argon2":
        return True
    try:
        return _HASHER.check_needs_rehash(stored)
    except argon2.exceptions.InvalidHashError:
        return True


def fingerprint(stored: str) -> str:
    """A short digest of the stored hash: sessions remember it, so a new password ends them."""
    return hashlib.sha256(stored.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Entry:
    hash: str
    fingerprint: str


def read_entry(path: Path) -> Entry:
    """The ``piranha`` entry of the password file.  Raises PasswordFileError saying what to do."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise PasswordFileError(
            f"no password is set (no file {path}); set one with `piranha passwd` as root"
        ) from None
    except OSError as exc:
        raise PasswordFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    for line in text.splitlines():
        user, sep, stored = line.strip().partition(":")
        if sep and user == USER and stored:
            if scheme(stored) == "unknown":
                raise PasswordFileError(
                    f"{path}: the password hash of `{USER}` is in a format this tool does not "
                    "read (crypt?); set a new password with `piranha passwd`"
                )
            return Entry(stored, fingerprint(stored))
    raise PasswordFileError(
        f"{path} has no entry for user `{USER}`; set a password with `piranha passwd`"
    )


def write_entry(path: Path, stored: str) -> bool:
    """Set the ``piranha`` entry to `stored`, atomically, file mode 0600.

    Other lines (other users of an old htpasswd file) are kept.  Returns
    True if the file already had a ``piranha`` entry (htpasswd's "Updating"
    versus "Adding").  Raises OSError.
    """
    try:
        old_lines = path.read_text(encoding="utf-8", errors="surrogateescape").splitlines()
    except FileNotFoundError:
        old_lines = []
    lines, replaced = [], False
    for line in old_lines:
        if line.strip().partition(":")[0] == USER:
            if not replaced:
                lines.append(f"{USER}:{stored}")
            replaced = True
        elif line.strip():
            lines.append(line)
    if not replaced:
        lines.append(f"{USER}:{stored}")
    write_private(path, ("\n".join(lines) + "\n").encode("utf-8", "surrogateescape"))
    return replaced
