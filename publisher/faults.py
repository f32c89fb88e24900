"""Named crash points, for the crash-safety tests (tests/test_reliability.py, bench/crash.py).

    PUBLISHER_CRASH_AT="write.temp:3"   the process kills itself (SIGKILL: no cleanup, no
                                        flush) the 3rd time it reaches point "write.temp"

Unset (always, outside those tests), a point costs one comparison. The points are where a
crash is most likely to hurt: between writing a temp file and renaming it, between storing
a file's stories and committing them, between writing pages and marking them written.
"""

from __future__ import annotations

import os
import signal

POINTS = ("ingest.file", "ingest.commit", "classify.commit", "pages.written", "write.temp", "write.renamed")


def _target() -> tuple[str, int] | None:
    value = os.environ.get("PUBLISHER_CRASH_AT", "")
    name, _, count = value.partition(":")
    if name not in POINTS:
        return None
    return name, int(count) if count.isdigit() and int(count) > 0 else 1


_TARGET = _target()
_hits = 0


def point(name: str) -> None:
    global _hits
    if _TARGET is None or _TARGET[0] != name:
        return
    _hits += 1
    if _hits == _TARGET[1]:
        os.kill(os.getpid(), signal.SIGKILL)
