"""Locks beside the database: one writer at a time, one `publisher run` at a time.

flock(2) on a file beside the database. The kernel drops the lock when the process dies, so a
killed run never leaves a stale lock behind. flock locks belong to an open file, so two
threads of one process that each open the file exclude each other too.

The holder's pid written into the file is only shown to whoever waits: when it cannot be
written (a full disk), the lock is held all the same, and the database says what is wrong.
Every other OS error is a PublisherError naming the file: never a traceback.
"""

from __future__ import annotations

import errno
import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from publisher.errors import ConfigError, LockHeld, StoreError

POLL_SECONDS = 0.05


@contextmanager
def held(path: Path, *, wait: float = 0.0, what: str = "another publisher process holds the lock",
         cancel: Callable[[], bool] | None = None) -> Iterator[None]:
    """Hold the lock at `path` for the block. When another process (or thread) has it, wait up
    to `wait` seconds for it (less if `cancel` says True: a stop), then raise LockHeld naming
    `what` and the holder's pid."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        if exc.errno in _FULL:  # not a config error: the same config works once there is room
            raise StoreError(f"{path}: cannot create the lock file: {exc.strerror}") from None
        raise ConfigError(f"{path}: cannot create the lock file beside the database "
                          f"([paths] database): {exc.strerror or exc}") from None
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline or (cancel is not None and cancel()):
                    holder = _read_pid(fd) or "unknown"
                    waited = f" (waited {wait:g} s)" if wait else ""
                    raise LockHeld(f"{path}: {what} (pid {holder}){waited}") from None
                time.sleep(POLL_SECONDS)
            except OSError as exc:  # ENOLCK and the like (a network file system)
                raise StoreError(f"{path}: cannot lock: {exc.strerror or exc}") from None
        with suppress(OSError):  # see the module's doc: the pid is a courtesy
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            with suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


_FULL = (errno.ENOSPC, errno.EDQUOT)


def _read_pid(fd: int) -> str:
    try:
        return os.pread(fd, 64, 0).decode(errors="replace").strip()
    except OSError:
        return ""


def holder(path: Path) -> int | None:
    """The pid holding the lock at `path`, or None when nobody holds it (or it cannot be read)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = _read_pid(fd)
            return int(text) if text.isdigit() else -1
        except OSError:
            return None
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
