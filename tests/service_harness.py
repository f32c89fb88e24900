"""A `publisher run` subprocess for tests: started on a temp config, read over HTTP."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import feedparser
import httpx
import pytest

from _common import project_config

BIN = Path(sys.executable).parent / "publisher"
FEEDS = ("ukraine", "taiwan-security", "all")

# one story: a kicker line (its second sentence on the same line; a line of its own would be a
# story of its own, and in the Ukraine topic)
NEW_STORY = ("UKRAINE: Kyiv's metro will run all night during air raid alerts this winter, "
             "the city's transport department said. "
             "The Ukrainian capital's metro stations have served as shelters since the start of the war, "
             "and officials said trains would keep running so residents could reach them faster.\n")


def service_config(root: Path, *, settle: float = 0.5, interval: float = 300, extra: str = "",
                   port: int = 0) -> Path:
    """The shipped config, serving on `port` (0: any free one; with a port, base_url is set to it)."""
    return project_config(root, port=port, settle=settle, interval=interval, extra=extra)


class Running:
    """A `publisher run` subprocess; `base` is the URL it serves on."""

    def __init__(self, config: Path, options: tuple[str, ...] = (), run_options: tuple[str, ...] = ()):
        self.config = config
        self.log = config.parent / "service.log"
        self.proc = subprocess.Popen([str(BIN), "--config", str(config), *options, "run", *run_options], stdout=subprocess.PIPE,
                                     stderr=open(self.log, "wb"), text=True, cwd=config.parent)
        first = self.proc.stdout.readline()
        m = re.match(r"publisher: serving (http://\S+)/ ", first)
        assert m, f"no serving line: {first!r}; log: {self.log.read_text()}"
        self.base = m.group(1)

    def get(self, path: str, **kw) -> httpx.Response:
        return httpx.get(self.base + path, timeout=10, **kw)

    def entries(self, slug: str) -> list:
        r = self.get(f"/{slug}/atom.xml")
        return feedparser.parse(r.content).entries if r.status_code == 200 else []

    def wait_for(self, counts: dict[str, int], timeout: float = 5.0) -> float:
        """Seconds until the served feeds have these entry counts; fails after `timeout`."""
        start = time.monotonic()
        while True:
            seen = {slug: len(self.entries(slug)) for slug in counts}
            if seen == counts:
                return time.monotonic() - start
            assert time.monotonic() - start < timeout, f"served {seen}, expected {counts}; log:\n{self.log_text()}"
            time.sleep(0.05)

    def wait_log(self, needle: str, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.log_text():
            assert time.monotonic() < deadline, f"{needle!r} not in the log:\n{self.log_text()}"
            time.sleep(0.05)

    def metric(self, name: str) -> float:
        text = self.get("/metrics").text
        m = re.search(rf"(?m)^{re.escape(name)} (\S+)$", text)
        assert m, f"{name} not in /metrics"
        return float(m.group(1))

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, sig=signal.SIGTERM, timeout: float = 10.0) -> tuple[int, float]:
        start = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout)
        return code, time.monotonic() - start


@pytest.fixture
def running(tmp_path):
    services: list[Running] = []

    def start(**kw) -> Running:
        options, run_options = kw.pop("options", ()), kw.pop("run_options", ())
        config = kw.pop("config", None) or service_config(tmp_path, **kw)
        service = Running(config, options, run_options)
        services.append(service)
        return service

    yield start
    for service in services:
        if service.proc.poll() is None:
            service.proc.kill()
            service.proc.wait(10)


def write_atomically(path: Path, data: bytes) -> None:
    part = path.with_name(path.name + ".part")
    part.write_bytes(data)
    os.replace(part, path)


