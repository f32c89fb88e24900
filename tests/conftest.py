"""Shared fixtures: a scratch project (config + sources + feeds + database) in a tmp dir."""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

# Property tests run the same examples every time, so a green main stays green; explore new
# ones with HYPOTHESIS_PROFILE=explore (and keep any failure it finds as a plain test).
hypothesis_settings.register_profile("default", derandomize=True, print_blob=True)
hypothesis_settings.register_profile("explore", derandomize=False, max_examples=2000)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

from publisher import config as config_mod
from publisher.config import Config
from publisher.publish import publish
from publisher.report import PublishReport

ROOT = Path(__file__).resolve().parent.parent
# bench/: the harnesses and the corpus generator the tests share with the benches (harness.*, corpus)
sys.path.append(str(ROOT / "bench"))

# the `running` fixture (a `publisher run` subprocess) for every test module that asks for it
pytest_plugins = ["service_harness"]

DATA = Path(__file__).resolve().parent / "data"
# The tests' config: a frozen copy of the shipped config.toml (its topics, site, dedup). Never the
# checkout's config.toml, which `publisher add` edits, nor its sources/, which the user fills:
# `make test` passes whatever a user did in the checkout (test_config checks the copy against it).
CONFIG = DATA / "config.toml"
# the shipped sample wire files (sources/ in the checkout), frozen likewise
SAMPLES = DATA / "golden" / "samples"
SHARED = ROOT.parent / "shared"
SEED = SHARED / "seeds" / "000_605cfe10b1b30347.txt"
VALIDATOR = SHARED / "tools" / "validate-feeds"
NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)


@dataclass
class Project:
    root: Path
    config_path: Path

    @property
    def config(self) -> Config:
        return config_mod.load(self.config_path)

    @property
    def sources(self) -> Path:
        return self.root / "sources"

    @property
    def feeds(self) -> Path:
        return self.root / "feeds"

    @property
    def database(self) -> Path:
        return self.root / "publisher.db"

    def add_source(self, name: str, data: bytes | str) -> Path:
        path = self.sources / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            data = data.encode("utf-8")
        path.write_bytes(data)
        return path

    def publish(self, now: datetime = NOW) -> PublishReport:
        return publish(self.config, now)

    def feed_bytes(self) -> dict[str, bytes]:
        """The feed files (Atom, RSS, JSON Feed, OPML), by path under feeds/."""
        return {k: v for k, v in self.site_bytes().items() if k.endswith((".xml", ".json", ".opml"))}

    def site_bytes(self) -> dict[str, bytes]:
        """Every file under feeds/ (feeds and pages), by path."""
        return {p.relative_to(self.feeds).as_posix(): p.read_bytes()
                for p in sorted(self.feeds.rglob("*")) if p.is_file()}


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """A scratch project using (a copy of) the shipped config.toml (its topics), with an empty sources/."""
    shutil.copy(CONFIG, tmp_path / "config.toml")
    (tmp_path / "sources").mkdir()
    return Project(tmp_path, tmp_path / "config.toml")


def checkout_copy(dest: Path) -> Path:
    """A copy of this checkout at `dest` (a fresh dir named anything but `shared`): the files git
    tracks, plus untracked ones it does not ignore (no .venv, no feeds output, no database); and
    ../shared beside it as a symlink when there is one (the seed, the validator). Skips the test
    when this is not a git checkout."""
    import subprocess

    try:
        listed = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                                capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"not a git checkout, or no git: {exc}")
    for name in sorted(set(listed.decode().split("\0")) - {""}):
        source = ROOT / name
        if source.is_file():  # a tracked file the user deleted is simply not there
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    if SHARED.is_dir() and not (dest.parent / "shared").exists():
        (dest.parent / "shared").symlink_to(SHARED, target_is_directory=True)
    return dest


@pytest.fixture
def seed() -> bytes:
    if not SEED.exists():
        pytest.skip(f"the seed file is not here: {SEED} (CI has it in ../shared)")
    return SEED.read_bytes()


@contextmanager
def http_server(app, port: int = 0, **limits):
    """Serve a FeedServer with publisher.http (uvloop + llhttp, as `publisher run` does) on a
    free port of 127.0.0.1 (or `port`), in a thread; `limits` are http.Limits fields (short
    timeouts, a small cap). Yields (the http.Server, its base URL "http://127.0.0.1:PORT")."""
    from publisher.http import Limits, Server
    from publisher.service import _listen

    sock = _listen("127.0.0.1", port)
    server = Server(app.respond, Limits(**limits))
    thread = threading.Thread(target=server.run, args=(sock,), daemon=True)
    thread.start()
    assert server.started.wait(10), "the server did not start"
    try:
        yield server, f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.shutdown()
        thread.join(10)
        assert not thread.is_alive(), "the server did not stop"
        sock.close()


@contextmanager
def serving(app, port: int = 0, **limits) -> Iterator[str]:
    """http_server(), yielding only the base URL."""
    with http_server(app, port, **limits) as (_, base):
        yield base


def raw_request(base: str, target: str, method: str = "GET", headers: dict | None = None):
    """Send a request target exactly as given (no normalising of `..`, `%2e`, absolute forms),
    as a hostile client would; returns (status, headers, body)."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.putrequest(method, target, skip_host=False, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()
