"""``autoreload = 1``: notice that lvs.cf changed (ldirectord's way: look every 2 seconds).

A file counts as changed when its device, inode, size or modification
time differ from the last look.  An atomic replacement (the Configuration
Tool, ``piranha format``, most editors) changes the inode; an in-place
write changes size or mtime.  A file caught half-written fails to load,
is logged, and the next look (after the writer finished) loads it.
"""

from __future__ import annotations

import os
from pathlib import Path

INTERVAL = 2.0

Signature = tuple[int, int, int, int]


def signature(path: Path) -> Signature | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


class FileWatch:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.last = signature(path)

    def rebase(self) -> None:
        """Take the file as it is now as seen (called whenever lvsd reads it)."""
        self.last = signature(self.path)

    def changed(self) -> bool:
        """True once per change; a missing file is not a change (it is logged by the reload)."""
        now = signature(self.path)
        if now is None or now == self.last:
            return False
        self.last = now
        return True
