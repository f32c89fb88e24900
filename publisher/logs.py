"""Log lines for an operator: UTC times with their zone, one level for the whole program
(`--log-level`), and the optional access log of `publisher run` (its own logger, at INFO
whatever the level, so `--log-level warning --access-log` still logs every request).

    2026-12-03T08:40:01Z INFO schedule run: 3 files read ...
    2026-12-03T08:40:02Z INFO 127.0.0.1 "GET /all/atom.xml" 304 0 0.1ms
"""

from __future__ import annotations

import logging
import sys
import time

LEVELS = ("debug", "info", "warning", "error")
ACCESS = "publisher.access"


class UTCFormatter(logging.Formatter):
    converter = time.gmtime  # the zone is said: Z

    def formatTime(self, record, datefmt=None):  # noqa: N802 (logging's name)
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", self.converter(record.created))


def setup(level: str = "info", stream=None) -> None:
    """Log to stderr (the journal, under systemd) at `level` and above."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(UTCFormatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.getLogger(ACCESS).setLevel(logging.INFO)
