"""Shared fixtures: a scratch project (config + sources + feeds + database) in a tmp dir."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from publisher import config as config_mod
from publisher.config import Config
from publisher.publish import PublishReport, publish

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
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
        return {p.relative_to(self.feeds).as_posix(): p.read_bytes()
                for p in sorted(self.feeds.rglob("*")) if p.is_file()}


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """A scratch project using the shipped config.toml (its topics), with an empty sources/."""
    shutil.copy(ROOT / "config.toml", tmp_path / "config.toml")
    (tmp_path / "sources").mkdir()
    return Project(tmp_path, tmp_path / "config.toml")


@pytest.fixture
def seed() -> bytes:
    if not SEED.exists():
        pytest.skip(f"the seed file is not here: {SEED} (CI has it in ../shared)")
    return SEED.read_bytes()
