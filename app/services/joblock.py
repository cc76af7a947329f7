"""One job at a time across processes: an exclusive ``flock`` on a file, held while the job runs.

The kernel drops the lock when its holder's descriptor closes, so a crashed worker never leaves it held.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


def try_lock(path: Path) -> int | None:
    """Take the lock and return its descriptor (close it to release), or None if someone holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def is_held(path: Path) -> bool:
    """True while some process (this one included) holds the lock."""
    fd = try_lock(path)
    if fd is None:
        return True
    os.close(fd)
    return False
