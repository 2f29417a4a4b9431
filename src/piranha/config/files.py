"""The only I/O in piranha.config: reading lvs.cf, and replacing it safely."""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from pathlib import Path

from .api import parse
from .environment import Environment
from .model import Config

DEFAULT_CONFIG_PATH = "/etc/sysconfig/ha/lvs.cf"
ENCODING = "utf-8"
# Bytes that are not UTF-8 survive a read/write round trip (comments may
# hold anything); in a value they are an error.
ERRORS = "surrogateescape"


def config_path(path: str | os.PathLike[str] | None = None) -> Path:
    """`path`, else $PIRANHA_CONFIG, else /etc/sysconfig/ha/lvs.cf."""
    if path is not None:
        return Path(path)
    return Path(os.environ.get("PIRANHA_CONFIG") or DEFAULT_CONFIG_PATH)


def read_text(path: str | os.PathLike[str] | None = None) -> str:
    """The file's text, exactly (line ends untouched).  Raises OSError."""
    with open(config_path(path), "rb") as f:
        return f.read().decode(ENCODING, ERRORS)


def load(
    path: str | os.PathLike[str] | None = None, environment: Environment | None = None
) -> Config:
    """Read and parse lvs.cf.  Raises OSError (cannot read) or ConfigError."""
    p = config_path(path)
    return parse(read_text(p), filename=str(p), environment=environment)


def save(path: str | os.PathLike[str], text: str) -> None:
    """Replace the file with `text` atomically, keeping one backup as PATH.bak.

    Under an exclusive flock on the directory (so two savers take turns):
    the text goes to a temporary file in the same directory, is fsynced and
    renamed over the file; readers see the old or the new file, never half
    of one.  The previous content is copied to PATH.bak first.  The new
    file gets the old one's mode and owner (the owner only where we are
    allowed to set it); a symlink is followed, not replaced.
    """
    target = Path(os.path.realpath(path))
    directory = target.parent
    data = text.encode(ENCODING, ERRORS)
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(dir_fd, fcntl.LOCK_EX)
        try:
            old = _stat(target)
            if old is not None:
                backup = target.with_name(target.name + ".bak")
                _write_atomically(backup, target.read_bytes(), old, dir_fd)
            _write_atomically(target, data, old, dir_fd)
        finally:
            fcntl.flock(dir_fd, fcntl.LOCK_UN)
    finally:
        os.close(dir_fd)


def _stat(path: Path) -> os.stat_result | None:
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None


def _write_atomically(target: Path, data: bytes, like: os.stat_result | None, dir_fd: int) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if like is not None:
                os.fchmod(f.fileno(), like.st_mode & 0o7777)
                with contextlib.suppress(PermissionError):
                    os.fchown(f.fileno(), like.st_uid, like.st_gid)
            else:
                umask = os.umask(0)
                os.umask(umask)
                os.fchmod(f.fileno(), 0o666 & ~umask)
            os.fsync(f.fileno())
        os.replace(tmp, target)
        os.fsync(dir_fd)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
