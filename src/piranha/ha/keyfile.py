"""Reading the heartbeat key (``heartbeat_key_file``): root's eyes only.

The key never lives in lvs.cf (the Configuration Tool, its backups and the
copy to the backup router would spread it).  Any content of 16 bytes or
more works; one trailing newline is ignored, so both of these do::

    openssl rand -hex 32 > /etc/sysconfig/ha/heartbeat.key
    head -c 32 /dev/urandom > /etc/sysconfig/ha/heartbeat.key
"""

from __future__ import annotations

import errno
import os
import stat

from .wire import MIN_KEY_BYTES

MAX_KEY_BYTES = 4096


class KeyFileError(Exception):
    """The key file cannot be used; the message says why and what to do."""


def load_key(path: str) -> bytes:
    try:
        # O_NONBLOCK: a FIFO put there must not hang pulse (it is then refused: not a regular file)
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        raise KeyFileError(
            f"heartbeat_key_file {path} does not exist: create it with "
            f"`umask 077; openssl rand -hex 32 > {path}` and copy it to the other router"
        ) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # a symbolic link
            raise KeyFileError(
                f"heartbeat_key_file {path} is a symbolic link; point heartbeat_key_file at the file itself"
            ) from None
        raise KeyFileError(f"cannot read heartbeat_key_file {path}: {exc.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise KeyFileError(f"heartbeat_key_file {path} is not a regular file")
        if st.st_uid not in (0, os.geteuid()):
            raise KeyFileError(
                f"heartbeat_key_file {path} belongs to uid {st.st_uid}; it must belong to root: `chown root {path}`"
            )
        if st.st_mode & 0o077:
            raise KeyFileError(
                f"heartbeat_key_file {path} can be read by other users (mode {stat.S_IMODE(st.st_mode):04o}); "
                f"run `chmod 600 {path}`"
            )
        data = os.read(fd, MAX_KEY_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) > MAX_KEY_BYTES:
        raise KeyFileError(f"heartbeat_key_file {path} is larger than {MAX_KEY_BYTES} bytes")
    if data.endswith(b"\r\n"):
        data = data[:-2]
    elif data.endswith(b"\n"):
        data = data[:-1]
    if len(data) < MIN_KEY_BYTES:
        raise KeyFileError(
            f"heartbeat_key_file {path} holds {len(data)} bytes; a key needs at least {MIN_KEY_BYTES} "
            f"(`openssl rand -hex 32 > {path}`)"
        )
    return data
