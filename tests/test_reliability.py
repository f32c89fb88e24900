"""Reliability: crashes at named points, concurrent commands, load while publishing, hostile input.

The full-size runs are scripts (bench/crash.py, bench/load.py); these are their CI-sized twins.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import feedparser
import pytest
from lxml import etree

from conftest import SEED
from publisher.faults import POINTS

BIN = Path(sys.executable).parent / "publisher"
# (point, which hit): early, middle and late in a run, in every stage. Each run goes on
# from what the killed ones left.
CRASH_PLAN = [
    ("ingest.file", 1), ("ingest.file", 40), ("ingest.file", 70), ("ingest.commit", 1), ("ingest.file", 130),
    ("ingest.commit", 2), ("classify.commit", 1), ("write.temp", 1), ("pages.written", 1), ("write.renamed", 1),
    ("write.temp", 4), ("write.renamed", 5), ("write.temp", 9), ("pages.written", 1), ("write.renamed", 7),
    ("write.temp", 6), ("ingest.file", 5), ("write.renamed", 2), ("write.temp", 2), ("classify.commit", 1),
    ("write.temp", 7), ("write.renamed", 9),
]


def stories_text(n: int, seed: int = 11) -> list[str]:
    """n distinct one-paragraph stories, half about Ukraine, half about Taiwan security."""
    rng = random.Random(seed)
    vocab = [f"{a}{b}{c}" for a in "bdfgklmnprstvz" for b in "aeiou" for c in ("n", "r", "s", "l", "")]
    out = []
    for i in range(n):
        words = " ".join(rng.sample(vocab, 35))
        lead = ("Kyiv officials in Ukraine said on Monday that" if i % 2 else
                "Taiwan's coast guard tracked Chinese warships near Taipei during PLA drills as")
        out.append(f"{lead} {words} report {i}.")
    return out


def publish(project, crash: tuple[str, int] | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("PUBLISHER_CRASH_AT", None)
    if crash:
        env["PUBLISHER_CRASH_AT"] = f"{crash[0]}:{crash[1]}"
    return subprocess.run([str(BIN), "--config", str(project.config_path), "publish", "--wait", "30"],
                          capture_output=True, text=True, env=env, timeout=300)


def committed(project) -> dict[str, str]:
    if not project.database.exists():
        return {}
    with sqlite3.connect(f"file:{project.database}?mode=ro", uri=True) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return dict(db.execute("SELECT entry_id, name FROM entries"))


def assert_feeds_whole(project) -> set[str]:
    """Every feed file there is a complete document; returns the entry ids they hold."""
    ids: set[str] = set()
    for path in project.feeds.rglob("*"):
        if not path.is_file() or path.name.startswith("."):
            continue
        data = path.read_bytes()
        if path.suffix == ".json":
            ids |= {item["id"] for item in json.loads(data)["items"]}
        elif path.suffix in (".xml", ".opml"):
            etree.fromstring(data)  # well-formed, to the last tag
            if path.suffix == ".xml":
                parsed = feedparser.parse(data)
                assert parsed.bozo == 0, (path, parsed.bozo_exception)
                ids |= {e.id for e in parsed.entries}
        elif path.suffix == ".html":
            assert data.rstrip().endswith(b"</html>"), path
    return ids


def test_killed_at_22_points_nothing_committed_is_lost_and_the_rerun_completes(project, seed):
    texts = stories_text(150 + len(CRASH_PLAN))
    for i, text in enumerate(texts[:150]):
        project.add_source(f"batch/{i:03}.txt", text + "\n")
    project.add_source(SEED.name, seed)
    before: dict[str, str] = {}
    kills = 0
    for n, (point, hit) in enumerate(CRASH_PLAN):
        assert point in POINTS
        project.add_source(f"more/{n:03}.txt", texts[150 + n] + "\n")  # every run has news to publish
        proc = publish(project, (point, hit))
        assert proc.returncode in (-signal.SIGKILL, 0), proc.stderr
        kills += proc.returncode == -signal.SIGKILL
        now = committed(project)
        assert all(now.get(k) == v for k, v in before.items()), f"lost or renamed after a kill at {point}:{hit}"
        assert assert_feeds_whole(project) <= set(now)
        before = now
    assert kills >= 20
    final = publish(project)
    assert final.returncode == 0, final.stderr
    entries = committed(project)
    assert len(entries) == len(texts) + 5  # every story once: no duplicates, none missing
    assert all(entries[k] == v for k, v in before.items())
    assert not [p for p in project.feeds.rglob(".*.tmp")]  # the killed runs' temp files are gone
    ids = assert_feeds_whole(project)
    assert len(ids) == min(50, len(entries)) or len(ids) >= 50
    again = publish(project)
    assert again.returncode == 0 and "0 stories" in again.stdout  # and a second clean run adds nothing
