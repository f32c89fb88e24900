"""lock.py: the write lock and the run lock, on real files; OS errors injected (CI runs as root)."""

from __future__ import annotations

import errno
import fcntl
import os

import pytest

from publisher import lock
from publisher.errors import ConfigError, LockHeld, StoreError


def failing(code: int):
    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code))
    return fail


def test_on_a_full_disk_the_lock_is_held_all_the_same_without_its_pid(tmp_path, monkeypatch):
    """Writing the pid was a traceback on a full disk; the pid is only shown to whoever waits."""
    path = tmp_path / "publisher.db.lock"
    monkeypatch.setattr(os, "pwrite", failing(errno.ENOSPC))
    with lock.held(path):
        with pytest.raises(LockHeld, match=r"\(pid unknown\)"):
            with lock.held(path):
                pass
        assert lock.holder(path) == -1  # held, by someone unnamed


def test_a_lock_that_cannot_be_taken_or_created_is_one_line_naming_the_file(tmp_path, monkeypatch):
    path = tmp_path / "publisher.db.lock"
    with monkeypatch.context() as m:
        m.setattr(fcntl, "flock", failing(errno.ENOLCK))
        with pytest.raises(StoreError, match=rf"^{path}: cannot lock: No locks available$"):
            with lock.held(path):
                pass
    with monkeypatch.context() as m:  # no room for the file itself: not a config error (exit 1, not 2)
        m.setattr(os, "open", failing(errno.ENOSPC))
        with pytest.raises(StoreError, match=rf"^{path}: cannot create the lock file: No space left on device$"):
            with lock.held(path):
                pass
    with monkeypatch.context() as m:
        m.setattr(os, "open", failing(errno.EACCES))
        with pytest.raises(ConfigError, match=r"cannot create the lock file beside the database"):
            with lock.held(path):
                pass
