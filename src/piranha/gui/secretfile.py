"""Writing a file only its owner may read, atomically (password and API token files)."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path


def write_private(path: Path, data: bytes) -> None:
    """Replace `path` with `data`: mode 0600, temp file + fsync + rename + directory fsync.

    Creates the directory (0700) if needed.  Raises OSError.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o600)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def exposure(path: Path) -> str | None:
    """A message if `path` may be read by anyone but its owner."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return None
    if mode & 0o077:
        return f"{path} is readable by other users (mode {mode:04o}); run `chmod 600 {path}`"
    return None
