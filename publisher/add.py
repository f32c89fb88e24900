"""Use case: `publisher add URL_OR_FILE`. A feed URL goes into config.toml (a running service
reloads it); a file is copied into sources/ under its own name, atomically, so the watcher
reads it whole."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from publisher import atomic
from publisher.config import Config, add_feed
from publisher.errors import PublisherError
from publisher.sources import kind_of


class AddError(PublisherError):
    """The source cannot be added; `usage` tells a usage error (exit 2) from a failed write."""

    def __init__(self, message: str, usage: bool = True):
        super().__init__(message)
        self.usage = usage


@dataclass(frozen=True, slots=True)
class Added:
    message: str


def is_url(source: str) -> bool:
    return re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", source) is not None


def add(config: Config, source: str, *, title: str | None = None, interval: float | None = None) -> Added:
    if is_url(source):
        new = add_feed(config.path, source, title=title, interval_seconds=interval)
        return Added(f"added {source} to {config.path} ({len(new.feed_sources)} feeds); a running "
                     f"`publisher run` polls it within seconds, or run `publisher publish`")
    path = Path(source)
    if title or interval:
        raise AddError("--title and --interval are for feed URLs")
    try:
        data = atomic.read_regular(path, config.limits.bytes_per_file + 1, follow=True)
    except OSError as exc:
        raise AddError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > config.limits.bytes_per_file:
        raise AddError(f"{path}: too large (more than {config.limits.bytes_per_file:,} bytes: limits.bytes_per_file)")
    sources = config.paths.sources
    target = sources / path.name
    if target.exists():
        if target.is_file() and target.read_bytes() == data:
            return Added(f"{path.name} is already in {sources}")
        raise AddError(f"{target}: a different file of that name is already there; rename yours")
    try:
        atomic.write(target, data)
    except OSError as exc:
        raise AddError(f"{target}: cannot write: {exc.strerror or exc}", usage=False) from None
    return Added(f"copied {path.name} into {sources} ({kind_of(path.name)}); a running `publisher run` reads it "
                 f"at once, or run `publisher publish`")
