"""A full disk for a `publisher` child process, switched on and off by a flag file.

CI runs as root, so a real full disk (or a read-only file) cannot be relied on. `env(tmp, flag)`
gives the environment of a child whose Python first imports the sitecustomize below: while
`flag` exists, writing the lock file's pid fails with ENOSPC (as it does on a full disk), and
every new SQLite connection may not grow its database (PRAGMA max_page_count: SQLite's own
SQLITE_FULL, "database or disk is full", where its next page would need room).
"""

from __future__ import annotations

import os
from pathlib import Path

HOOK = '''
import errno, os, sqlite3

_FLAG = os.environ["PUBLISHER_TEST_DISK_FULL"]
_pwrite, _connect = os.pwrite, sqlite3.connect


def _pwrite_full(fd, data, offset):
    if os.path.exists(_FLAG):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    return _pwrite(fd, data, offset)


def _connect_full(*args, **kwargs):
    conn = _connect(*args, **kwargs)
    if os.path.exists(_FLAG):
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {max(pages, 1)}")
    return conn


os.pwrite, sqlite3.connect = _pwrite_full, _connect_full

_FEEDS_FLAG = os.environ.get("PUBLISHER_TEST_FEEDS_FULL")
if _FEEDS_FLAG:  # only the published files' disk is full: every file written under feeds/ fails
    import builtins

    _open = builtins.open

    def _open_full(file, mode="r", *args, **kwargs):
        if "w" in str(mode) and "/feeds/" in os.fsdecode(file) and os.path.exists(_FEEDS_FLAG):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), os.fsdecode(file))
        return _open(file, mode, *args, **kwargs)

    builtins.open = _open_full
'''


def feeds_env(tmp: Path, flag: Path) -> dict[str, str]:
    """As env(), but while `flag` exists only the files written under feeds/ fail (ENOSPC)."""
    out = env(tmp, tmp / "never-full")
    out["PUBLISHER_TEST_FEEDS_FULL"] = str(flag)
    return out


def env(tmp: Path, flag: Path) -> dict[str, str]:
    """Environment variables for a child process with the hook (its directory first on PYTHONPATH)."""
    hook = tmp / "disk-full-hook"
    hook.mkdir(exist_ok=True)
    (hook / "sitecustomize.py").write_text(HOOK)
    path = os.pathsep.join(p for p in (str(hook), os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path, "PUBLISHER_TEST_DISK_FULL": str(flag)}
