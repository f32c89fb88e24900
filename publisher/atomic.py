"""The one way publisher writes a file: a temp file beside it, then a rename, so a reader (a
feed reader, nginx, the watcher, a crash) only ever sees the old bytes or the new ones.

Temp files are hidden (`.NAME.PID.tmp`): never served, never read as sources, and removed by
the next publish when a killed one left them (remove_temp_files).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import re
import stat
from collections.abc import Callable
from pathlib import Path

from publisher import faults

_TEMP = re.compile(r"^\..+\.\d+\.tmp$")  # what write() writes before its rename


def temp_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def write(path: Path, data: bytes, *, sync: bool = True, mode: int | None = None) -> None:
    """Replace `path` with `data` atomically (temp file, rename) and durably: the file and then
    its directory fsynced, unless sync=False (a batch: the caller syncs the file system once,
    sync_filesystem, after renaming all of it). `mode`: the new file's permission bits (else
    the umask's)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            if sync:
                os.fsync(f.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        faults.point("write.temp")
        os.replace(tmp, path)
        faults.point("write.renamed")
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if sync:
        fsync_dir(path.parent)  # the rename itself


def write_if_changed(path: Path, data: bytes, *, sync: bool = True) -> bool:
    """write() unless `path` already holds exactly these bytes. True when it was written."""
    if holds(path, data):
        return False
    write(path, data, sync=sync)
    return True


def read_regular(path: str | Path, limit: int = -1, *, follow: bool = False) -> bytes:
    """A file's bytes (at most `limit`), opened as nginx opens one: non-blocking, and read only
    when fstat says it is a regular file, so a FIFO or a device never blocks the reader; a
    symlink is followed only with `follow` (a path a user named). Raises OSError."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW)
    fd = os.open(path, flags)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(0, "not a regular file", str(path))
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read(limit)
    finally:
        os.close(fd)


def holds(path: Path, data: bytes) -> bool:
    """True when `path` is a regular file of exactly these bytes. The old file is opened as
    nginx opens one (non-blocking, no symlink followed) and read only when fstat says it is a
    regular file of that size: a FIFO, a socket, a device or a link put there is "changed", so
    it never blocks a publish, and the rename replaces it. Raises OSError (EACCES ...)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ELOOP, errno.ENXIO):  # none; a symlink; a socket
            return False
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size != len(data):
            return False
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read(len(data) + 1) == data
    finally:
        os.close(fd)


def remove_temp_files(root: Path, error: Callable[[str], None]) -> None:
    """Temp files a killed writer left under `root` (call it holding the write lock, so that
    no writer of ours is using them). A file that cannot be removed is one error line."""
    stack = [root]
    while stack:
        directory = stack.pop()
        try:
            entries = list(os.scandir(directory))
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                stack.append(Path(entry.path))
            elif _TEMP.match(entry.name):
                try:
                    os.unlink(entry.path)
                except OSError as exc:
                    error(f"{entry.path}: cannot remove a temp file: {exc.strerror or exc}")


_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True) if ctypes.util.find_library("c") else None


def sync_filesystem(path: Path) -> None:
    """syncfs(2) on the file system holding `path`: everything written there is durable,
    directory entries included (os.sync() where syncfs is missing)."""
    syncfs = getattr(_libc, "syncfs", None)
    if syncfs is None:
        os.sync()
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        if syncfs(fd) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), str(path))
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Make the renames in a directory durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
