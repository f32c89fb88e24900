"""Which files under the sources directory are sources. The only disk access of sources/.

Every regular file, recursively, except hidden files and directories, temp and editor swap
files and partial downloads (`*.part`: write there, then rename, to drop a file in atomically).
A symlinked file is read only when it leads to somewhere inside the sources directory;
symlinked directories are not descended (inside, their files are listed at their real path).
Paths come back sorted, so the same files are always read in the same order.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

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


@dataclass(frozen=True, slots=True)
class SourceFile:
    path: Path  # where to read it
    name: str  # its path relative to the sources directory, with "/" separators; always
    #            valid Unicode (bytes of a file name that is not UTF-8 appear as \xNN)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def display_name(relative: Path) -> str:
    """A relative path as text that can be printed on one line and stored: undecodable bytes
    as \\xNN, control characters (a newline in a file name) as \\n, \\t, \\xNN."""
    raw = os.fsencode(relative.as_posix())
    text = raw.decode("utf-8", errors="backslashreplace")
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


def ignored(name: str) -> bool:
    """True for file names that are not sources (hidden, temp, swap, partial)."""
    return _IGNORED.search(name) is not None


def _readable_inside(path: Path, real_root: Path) -> bool:
    """A regular file, or a symlink to one inside the sources directory."""
    if path.is_symlink():
        try:
            real = path.resolve(strict=True)
        except (OSError, RuntimeError):  # dangling link, loop
            return False
        if real_root not in real.parents:
            return False
    return path.is_file()


def source_file(root: Path, path: Path) -> SourceFile | None:
    """The source at `path` (e.g. one a file watcher saw), or None when it is not one: outside
    `root`, ignored (itself or a directory on the way), gone, or not a regular file."""
    try:
        relative = path.relative_to(root)
    except ValueError:
        return None
    if not relative.parts or any(ignored(part) for part in relative.parts):
        return None
    real_root = root.resolve()
    here = root
    for part in relative.parts[:-1]:  # symlinked directories are not descended by list_sources
        here = here / part
        if here.is_symlink():
            return None
    if not _readable_inside(path, real_root):
        return None
    return SourceFile(path=path, name=display_name(relative))


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

    for dirpath, dirnames, filenames in os.walk(root, onerror=unlistable):
        here = Path(dirpath)
        dirnames[:] = [d for d in dirnames if not ignored(d)]
        for filename in filenames:
            path = here / filename
            if ignored(filename) or not _readable_inside(path, real_root):
                continue
            found.append(SourceFile(path=path, name=display_name(path.relative_to(root))))
    return sorted(found, key=lambda f: f.name)
