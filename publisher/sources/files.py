"""Which files under the sources directory are sources. The only disk access of sources/.

Every regular file, recursively, except hidden files and directories, temp and editor swap
files and partial downloads (`*.part`: write there, then rename, to drop a file in atomically).
A symlink is followed only when it leads to somewhere inside the sources directory.
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
    """,
    re.VERBOSE | re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class SourceFile:
    path: Path  # where to read it
    name: str  # its path relative to the sources directory, with "/" separators


def ignored(name: str) -> bool:
    """True for file names that are not sources (hidden, temp, swap, partial)."""
    return _IGNORED.search(name) is not None


def list_sources(root: Path) -> list[SourceFile]:
    """The source files under `root`, in path order. Raises FileNotFoundError/NotADirectoryError."""
    if not root.is_dir():
        raise (NotADirectoryError if root.exists() else FileNotFoundError)(str(root))
    real_root = root.resolve()
    found: list[SourceFile] = []
    visited: set[Path] = set()

    def inside(path: Path) -> bool:
        try:
            real = path.resolve(strict=True)
        except (OSError, RuntimeError):  # dangling link, loop
            return False
        return real == real_root or real_root in real.parents

    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        here = Path(dirpath)
        real_here = here.resolve()
        if real_here in visited:  # a symlink loop, or a directory reached twice
            dirnames[:] = []
            continue
        visited.add(real_here)
        dirnames[:] = sorted(d for d in dirnames
                             if not ignored(d) and (not (here / d).is_symlink() or inside(here / d)))
        for filename in filenames:
            path = here / filename
            if ignored(filename) or (path.is_symlink() and not inside(path)) or not path.is_file():
                continue
            found.append(SourceFile(path=path, name=path.relative_to(root).as_posix()))
    return sorted(found, key=lambda f: f.name)
