"""Which files under the sources directory are sources, and reading them. The only disk
access of sources/.

Every regular file, recursively, except hidden files and directories, temp and editor swap
files and partial downloads (`*.part`: write there, then rename, to drop a file in atomically).
A symlinked file is read only when it leads to a regular file inside the sources directory;
symlinked directories are not descended (inside, their files are listed at their real path).
Anything else that is not hidden is listed with the reason it is skipped, so that it is one
line, never silence: a FIFO, a socket or a device (not a regular file), a symlink to something
outside (a file or a directory), a symlink loop, a broken symlink. Listing opens nothing (lstat
only); read_source opens as nginx does (non-blocking, fstat), so nothing here can block.
Paths come back sorted, so the same files are always read in the same order.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from publisher.errors import PublisherError

_IGNORED = re.compile(
    r"""^\.                              # hidden (also .#lock files of emacs)
      | ~$                               # backup files
      | ^\#.*\#$                         # emacs autosave
      | \.(?:part|partial|crdownload|download|tmp|temp|swp|swo|swx|bak|lock)$
      | ^~\$                             # office lock files
      | ^4913$                           # vim's probe that a directory is writable
    """,
    re.VERBOSE | re.IGNORECASE,
)


# Why something listed is not read: one line each in a publish ("NAME: skipped: REASON").
NOT_REGULAR = "not a regular file"  # a FIFO, a socket, a device (a directory swapped in)
OUTSIDE = "outside sources/"  # a symlink to a file or directory elsewhere (/etc/shadow, /etc)
SYMLINK_LOOP = "symlink loop"
BROKEN_SYMLINK = "broken symlink"
REPLACED = "replaced by a symlink while being read; it is looked at again on the next run"


class NotASource(PublisherError):
    """What was listed is not a regular file inside the sources directory (any more)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class SourceFile:
    where: str  # where it is (a symlink: the link), as a path string: `path` makes the Path when
    #             asked (a listing of 10,000 unchanged files made 10,000 Paths no one used)
    name: str  # its path relative to the sources directory, with "/" separators; always
    #            valid Unicode (bytes of a file name that is not UTF-8 appear as \xNN)
    skip: str | None = None  # why it is listed but not read (NOT_REGULAR, OUTSIDE ...); None: read it
    root: Path | None = None  # the sources directory, and the parts of the real path under it
    parts: tuple[str, ...] = ()  # that read_source opens, one by one, following no link

    @property
    def path(self) -> Path:
        return Path(self.where)


# C0 and C1 controls (U+009B is an 8-bit CSI to a terminal), line and paragraph separators, and
# the bidirectional controls that reorder what a terminal or page shows (U+202E)
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def display_name(relative: Path | str) -> str:
    """A relative path (a str: with "/" separators) as text that can be printed on one line
    and stored: undecodable bytes as \\xNN, control characters (a newline in a file name, C1
    controls, bidi overrides) as \\n, \\t, \\xNN, \\uNNNN."""
    raw = os.fsencode(relative if isinstance(relative, str) else relative.as_posix())
    text = raw.decode("utf-8", errors="backslashreplace")
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


def ignored(name: str) -> bool:
    """True for file names that are not sources (hidden, temp, swap, partial)."""
    return _IGNORED.search(name) is not None


def _examine(path: Path, real_root: Path) -> tuple[str | None, tuple[str, ...]]:
    """(why it is not read, None if it is; the parts of its real path under the sources
    directory, to open it by). lstat only: nothing is opened, so nothing can block."""
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        try:
            real = Path(os.path.realpath(path, strict=True))
        except OSError as exc:
            return (SYMLINK_LOOP if exc.errno == errno.ELOOP else BROKEN_SYMLINK), ()
        if real != real_root and real_root not in real.parents:
            return OUTSIDE, ()
        st = os.lstat(real)  # realpath resolved every link on the way
        parts = real.relative_to(real_root).parts
    else:
        parts = ()
    return (None if stat.S_ISREG(st.st_mode) else NOT_REGULAR), parts


def _source(root: Path, real_root: Path, path: Path) -> SourceFile | None:
    """What `path` (under `root`) is as a source; None when it is gone, or a directory or a
    link to one inside (its files are the sources)."""
    try:
        skip, parts = _examine(path, real_root)
        if skip == NOT_REGULAR and path.is_dir():
            return None
    except OSError:  # gone since it was listed
        return None
    relative = path.relative_to(root)
    return SourceFile(where=os.fspath(path), name=display_name(relative), skip=skip, root=root,
                      parts=(parts or relative.parts) if skip is None else ())


def source_file(root: Path, path: Path) -> SourceFile | None:
    """The source at `path` (e.g. one a file watcher saw), as list_sources would list it, or
    None when it is not one: outside `root`, ignored (itself or a directory on the way), gone,
    or a directory."""
    try:
        relative = path.relative_to(root)
    except ValueError:
        return None
    if not relative.parts or any(ignored(part) or part == ".." for part in relative.parts):
        return None
    real_root = root.resolve()
    here = root
    for part in relative.parts[:-1]:  # symlinked directories are not descended by list_sources
        here = here / part
        if here.is_symlink():
            return None
    return _source(root, real_root, path)


def list_sources(root: Path, errors: list[str] | None = None) -> list[SourceFile]:
    """The source files under `root`, in path order. Raises FileNotFoundError/NotADirectoryError.

    A subdirectory that cannot be listed is reported in `errors` (one line each) and skipped.
    """
    if not root.is_dir():
        raise (NotADirectoryError if root.exists() else FileNotFoundError)(str(root))
    real_root = root.resolve()
    found: list[SourceFile] = []

    # Symlinked directories are not descended: one leading outside must not be followed, and
    # one leading inside reaches files that are listed anyway, under their real path.
    def unlistable(exc: OSError) -> None:
        if errors is not None:
            where = display_name(Path(exc.filename or root).relative_to(root)) if exc.filename else str(root)
            errors.append(f"{root / where}: cannot list directory: {exc.strerror or exc}")

    # os.scandir, not os.walk and pathlib: the listing's own file types (d_type) tell a plain
    # regular file (nearly every one) or a directory with no stat at all; links and anything
    # else take _source's careful path. (The file is stat'ed once, when it is read or found
    # unchanged.)
    # A stack, not recursion: however deep the directories, one listing open at a time.
    pending = [(str(root), "")]
    while pending:
        directory, relative = pending.pop()
        try:
            listing = os.scandir(directory)
        except OSError as exc:
            unlistable(exc)
            continue
        with listing:
            for item in listing:
                if ignored(item.name):
                    continue
                try:  # (an lstat only where the file system gives no type)
                    is_dir, is_file = item.is_dir(follow_symlinks=False), item.is_file(follow_symlinks=False)
                except OSError:  # gone since it was listed
                    continue
                if is_dir:
                    pending.append((item.path, f"{relative}{item.name}/"))
                elif is_file:
                    name = f"{relative}{item.name}"
                    found.append(SourceFile(where=item.path, name=display_name(name), root=root,
                                            parts=tuple(name.split("/"))))
                elif (source := _source(root, real_root, Path(item.path))) is not None:
                    found.append(source)  # a symlink (a directory one inside: None), a FIFO ...
    return sorted(found, key=lambda f: f.name)


def read_source(source: SourceFile, limit: int) -> bytes:
    """At most `limit` bytes of a source, never blocking: opened non-blocking and without
    following a symlink, each directory on the way too (a link swapped in after the listing
    is refused, not followed), and read only when fstat says it is a regular file. A linked
    source is opened at the real path the listing checked. Raises NotASource, or OSError
    (FileNotFoundError: it is gone)."""
    if source.skip is not None:
        raise NotASource(source.skip)
    try:
        fd = _open(source)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):  # a link (or a file) where the listing saw none
            raise NotASource(REPLACED) from None
        if exc.errno == errno.ENXIO:  # a socket
            raise NotASource(NOT_REGULAR) from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotASource(NOT_REGULAR)
        with os.fdopen(fd, "rb", closefd=False) as f:  # a byte more than fstat said: it grew
            return f.read(min(limit, st.st_size + 1))
    finally:
        os.close(fd)


_OPEN_FILE = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC
_OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _open(source: SourceFile) -> int:
    if source.root is None or not source.parts:  # made by hand (a bench): its path as it is
        return os.open(source.where, _OPEN_FILE)
    # the sources directory itself may be a link: the operator's choice, followed
    directory = os.open(source.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in source.parts[:-1]:
            inner = os.open(part, _OPEN_DIR, dir_fd=directory)
            os.close(directory)
            directory = inner
        return os.open(source.parts[-1], _OPEN_FILE, dir_fd=directory)
    finally:
        os.close(directory)
