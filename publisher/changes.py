"""The change journal: what each publish wrote under the feeds directory's large parts (story
pages, archive pages), so that a server reloading its snapshot looks at those files only,
instead of listing and stat-ing every story page (one per story: there may be 100,000s).

The journal is `.<feeds dir name>.changes` beside the feeds directory (`.feeds.changes` for
`feeds/`), not inside it, so it is never served; one URL path a line: `/stories/<name>.html`
(the story's page, live or retracted) or a directory ending in `/` (`/<slug>/archive/<n>/`:
an archive page's files). A publish appends its lines in one write
after its files are renamed into place (site.write_all), whichever process publishes (the
service, or a CLI `publish` or `retract` beside it). A reader remembers which file it read
(device, inode) and how far; a journal grown past MAX_BYTES is replaced by an empty one (a new
inode) at the start of a publish, and a reader that finds another file, a shorter one, or none
lists everything again. Lines name files to look at again, not what happened: a line too many
costs one stat, a line missing would leave a changed page unseen, so every page a publish
handles is named, written or not (a killed publish: the next one handles the same pages).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

MAX_BYTES = 4 << 20  # ~60,000 lines; then a new journal, and each reader lists everything once


def path(feeds: Path) -> Path:
    """The journal of this feeds directory."""
    feeds = Path(os.path.abspath(feeds))
    return feeds.parent / f".{feeds.name}.changes"


@dataclass(frozen=True, slots=True)
class Position:
    """How far a reader has read a journal: which file, and up to which byte."""

    device: int
    inode: int
    offset: int


def append(feeds: Path, lines: list[str]) -> None:
    """Add these lines to the journal of `feeds` (created when missing), in one write. Raises OSError."""
    if not lines:
        return
    data = "".join(f"{line}\n" for line in lines).encode("utf-8", "surrogateescape")
    fd = os.open(path(feeds), os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def rotate_if_full(feeds: Path) -> None:
    """Start a new, empty journal when this one has grown past MAX_BYTES. Raises OSError."""
    from publisher import atomic  # (a writer's import: readers need none of it)

    try:
        size = os.stat(path(feeds), follow_symlinks=False).st_size
    except FileNotFoundError:
        return
    if size > MAX_BYTES:
        atomic.write(path(feeds), b"", sync=False)


def discard(feeds: Path) -> None:
    """No journal (appending failed): every reader lists everything at its next reload."""
    path(feeds).unlink(missing_ok=True)


def read(feeds: Path, since: Position | None) -> tuple[list[str] | None, Position | None]:
    """(the lines added since `since`, the position after them). Lines None: the journal is
    not the one `since` read (or there is none, or `since` is None), so the reader must list
    everything; the position returned is then where the journal ends now, read from it next.
    Only whole lines are taken (a line being appended is read next time). More than MAX_BYTES
    unread is read as no journal (lines None): memory stays bounded whatever was appended."""
    try:
        fd = os.open(path(feeds), os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None, None
    try:
        st = os.fstat(fd)
        if (since is None or (since.device, since.inode) != (st.st_dev, st.st_ino) or st.st_size < since.offset
                or st.st_size - since.offset > MAX_BYTES):  # (more than a journal holds: listing costs less)
            return None, Position(st.st_dev, st.st_ino, st.st_size)
        os.lseek(fd, since.offset, os.SEEK_SET)
        chunks = []
        left = st.st_size - since.offset
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    whole = data[: data.rfind(b"\n") + 1]
    # (a NUL is in no path: such a line is no line of ours, and no file can be looked up by it)
    lines = [line for line in whole.decode("utf-8", "surrogateescape").split("\n") if line and "\0" not in line]
    return lines, Position(since.device, since.inode, since.offset + len(whole))
