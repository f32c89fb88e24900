"""The LSH index (publisher.lsh, Store's index part): new keys in lsh_recent, merged into
lsh_bands in bulk, each version's keys kept as one blob; what a lookup keeps; migration 0014."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from conftest import DATA, NOW
from publisher import dedup, lsh
from publisher.sources import wire
from publisher.store import MIGRATIONS, Store

LATER = NOW + timedelta(hours=2)
CASES = DATA / "dedup"
BIN = Path(sys.executable).parent / "publisher"


def sketch_of(path: Path) -> dedup.Sketch:
    (story,) = wire.read(path.read_bytes()).stories
    return dedup.sketch(story.paragraphs, story.kicker)


def index_rows(store: Store) -> tuple[set, set]:
    return (set(store.sql.execute("SELECT band, version FROM lsh_recent").fetchall()),
            set(store.sql.execute("SELECT band, version FROM lsh_bands").fetchall()))


def decisions(project) -> list[tuple[str, str]]:
    with sqlite3.connect(project.database) as db:
        return db.execute("""SELECT s.location, p.decision FROM provenance p JOIN sources s ON s.id = p.source
                             ORDER BY p.id""").fetchall()


# -- found across the split ------------------------------------------------------------------

@pytest.mark.parametrize("merged", [False, True], ids=["in-recent", "merged"])
@pytest.mark.parametrize("case", ["re-edited-copy", "updated-figures", "full-then-teaser", "teaser-then-full",
                                  "kicker-teaser-then-article", "shared-boilerplate"])
def test_a_revision_or_teaser_is_found_whether_its_story_is_in_recent_or_merged(project, case, merged):
    expected = json.loads((CASES / case / "expected.json").read_text())
    project.add_source("a.txt", (CASES / case / "a.txt").read_bytes())
    assert project.publish().ok
    store = Store.open(project.database, now=NOW)
    try:
        recent, big = index_rows(store)
        assert recent and not big  # a publish merges only once lsh_recent holds lsh.RECENT_LIMIT keys
        if merged:
            assert store.merge_index(at_least=1) == len(recent)
            assert index_rows(store) == (set(), recent)
    finally:
        store.close()
    project.add_source("b.txt", (CASES / case / "b.txt").read_bytes())
    assert project.publish(LATER).ok
    assert decisions(project)[-1] == ("b.txt", expected["decision"])
    with sqlite3.connect(project.database) as db:
        assert db.execute("SELECT count(*) FROM entries").fetchone()[0] == expected["entries"]


def test_a_story_another_process_stored_is_found(project):
    """`publisher publish` in a process of its own stores the article (its keys in lsh_recent);
    this process, with its store opened before, finds the revision through them."""
    exe = str(BIN) if BIN.exists() else shutil.which("publisher")
    if not exe:
        pytest.skip("the publisher console script is not installed (pip install -e .)")
    store = Store.open(project.database, now=NOW)  # opened first: nothing cached may hide the other's rows
    try:
        project.add_source("a.txt", (CASES / "re-edited-copy" / "a.txt").read_bytes())
        proc = subprocess.run([exe, "--config", str(project.config_path), "publish"], capture_output=True, text=True,
                              cwd=project.root, timeout=120, env=dict(os.environ))
        assert proc.returncode == 0, proc.stderr
        assert index_rows(store)[0]
        story = sketch_of(CASES / "re-edited-copy" / "b.txt")
        hits = store.band_hits(story.band_keys, story.lead_keys)
        assert [h.version for h in hits] == [1]
    finally:
        store.close()
    project.add_source("b.txt", (CASES / "re-edited-copy" / "b.txt").read_bytes())
    assert project.publish(LATER).ok
    assert decisions(project)[-1] == ("b.txt", "revision")


def test_a_long_run_merges_between_batches_and_keeps_finding(project, monkeypatch):
    """With a tiny merge limit every commit batch merges: the later stories of the run still
    find the earlier ones (now in lsh_bands), and nothing is left behind in lsh_recent."""
    monkeypatch.setattr("publisher.ingest.FILES_PER_COMMIT", 1)
    monkeypatch.setattr("publisher.store.Store.merge_index.__defaults__", (1,))
    a, b = ((CASES / "re-edited-copy" / n).read_bytes() for n in ("a.txt", "b.txt"))
    project.add_source("1.txt", a)
    project.add_source("2.txt", b)
    assert project.publish().ok
    assert decisions(project) == [("1.txt", "new"), ("2.txt", "revision")]
    store = Store.open(project.database, now=NOW)
    try:
        recent, big = index_rows(store)
        assert not recent and big
    finally:
        store.close()


def test_the_index_rebuilt_from_the_blobs_is_the_same_index(project):
    for case in ("re-edited-copy", "full-then-teaser", "shared-boilerplate"):
        for name in ("a.txt", "b.txt"):
            project.add_source(f"{case}-{name}", (CASES / case / name).read_bytes())
    assert project.publish().ok
    store = Store.open(project.database, now=NOW)
    try:
        assert store.merge_index(at_least=1)
        project.add_source("late.txt", (CASES / "updated-figures" / "a.txt").read_bytes())
    finally:
        store.close()
    assert project.publish(LATER).ok
    store = Store.open(project.database, now=NOW)
    try:
        recent, big = index_rows(store)
        assert recent and big
        blobs = {(k, v) for v, blob in store.sql.execute("SELECT version, bands FROM sketches").fetchall()
                 for k in lsh.unpack_keys(blob)}
        assert blobs == recent | big
        assert store.rebuild_index() == len(blobs)
        assert index_rows(store) == (set(), blobs)
    finally:
        store.close()


# -- what a lookup keeps (pure) ----------------------------------------------------------------

def test_a_crowded_bucket_gives_its_newest_only_and_shared_keys_are_counted():
    keys = [11, 12, 21, 22]  # two whole-text keys, then two lead keys
    crowded = list(range(1000, 1000 - lsh.BUCKET_LIMIT - 1, -1))  # newest first, one past the limit
    found = {f.version: f for f in lsh.select(keys, 2, {11: [7, 5], 12: [7], 21: [7, 6], 22: crowded})}
    assert found[7] == lsh.Found(7, whole=2, lead=1) and found[5] == lsh.Found(5, whole=1, lead=0)
    assert found[6] == lsh.Found(6, whole=0, lead=1)
    assert {v for v in found if v >= 900} == set(crowded[: lsh.CROWDED_DEPTH])


def _hit(version: int, sketch: dedup.Sketch, *, lead: int, legacy: bool = False) -> lsh.Hit:
    return lsh.Hit(version=version, entry=version, whole=0, lead=lead, minhash=sketch.signature.tobytes(),
                   size=len(sketch.shingles), lead_signature=None if legacy else lsh.lead_signature(sketch))


def test_lead_hits_are_kept_when_they_share_the_opening_and_dropped_when_they_share_a_phrase():
    teaser, full = sketch_of(CASES / "full-then-teaser" / "b.txt"), sketch_of(CASES / "full-then-teaser" / "a.txt")
    other = sketch_of(CASES / "same-event-different-story" / "b.txt")
    settings = dedup.DedupSettings()
    assert lsh.rank([_hit(1, full, lead=8)], teaser, settings) == {1: [1]}  # its article: kept
    assert lsh.rank([_hit(2, other, lead=1)], teaser, settings) == {}  # one shared lead key, unlike: dropped
    assert lsh.rank([_hit(3, other, lead=1, legacy=True)], teaser, settings) == {3: [3]}  # no signature: compared


def test_band_keys_pack_into_one_blob_and_back():
    keys = dedup.sketch(("The harbour reopened on Monday after a storm closed it for three days, officials "
                         "said, and the first ferries sailed at noon.",)).band_keys
    blob = lsh.pack_keys(keys)
    assert len(blob) == 8 * len(keys) and lsh.unpack_keys(blob) == keys
    assert lsh.unpack_keys(None) == []


# -- migration 0014 -----------------------------------------------------------------------------

def test_migration_0014_keeps_each_versions_keys_as_one_blob_and_the_store_keeps_working(project):
    """tests/data/store/pre-0010.sql (see test_feed_metadata): a store made before 0010, so
    before 0014 and 0016; its keys end in sketches.bands and lsh_bands, rewritten by 0016, and
    a revision of one of its stories is found through them."""
    with sqlite3.connect(project.database) as db:
        db.executescript((DATA / "store" / "pre-0010.sql").read_text())
        before = set(db.execute("SELECT band, version FROM lsh_bands").fetchall())
    wire = (DATA / "store" / "pre-0010-wire.txt").read_text()
    project.add_source("2026-11-20_desk.txt", wire)
    shutil.copy(DATA / "store" / "pre-0010-radio.rss", project.sources / "radio.rss")
    store = Store.open(project.database, now=NOW)
    try:
        applied = [m.name for m in MIGRATIONS.applied(store.db)]
        assert applied.index("0014_compact_bands") < applied.index("0016_sketches_v2")
        rows = store.sql.execute("SELECT version, bands, lead FROM sketches ORDER BY version").fetchall()
        assert len(rows) == 5 and all(lead is None for _, _, lead in rows)
        # 0014 packed the old keys; 0016 rewrote them with the new hashing: the blobs and the
        # index agree, all merged, and none of the old keys is left
        from_blobs = {(k, version) for version, blob, _ in rows for k in lsh.unpack_keys(blob)}
        assert all(lsh.unpack_keys(blob) for _, blob, _ in rows)
        assert index_rows(store) == (set(), from_blobs) and not from_blobs & before
    finally:
        store.close()
    assert project.publish().ok
    # a one-word change to one of its stories (stored by the old code, found through lsh_bands)
    project.add_source("2026-11-21_desk.txt", "Kyiv opened 40 heated shelters on Monday as Ukraine braced for "
                                              "further power cuts, the city administration said.\n")
    assert project.publish(LATER).ok
    with sqlite3.connect(project.database) as db:
        assert db.execute("""SELECT p.decision, v.entry FROM provenance p JOIN versions v ON v.id = p.version
                             ORDER BY p.id DESC LIMIT 1""").fetchone() == ("revision", 2)


def test_a_first_poll_of_many_feeds_merges_between_batches_and_keeps_finding(project, monkeypatch, httpserver):
    """Feeds as files: with a tiny merge limit every commit batch of feeds merges, so a poll of
    thousands of entries never lets lsh_recent grow past a batch; the second feed's re-edit of
    the first feed's story is still found (in lsh_bands by then)."""
    from test_publish_feeds import rss, with_feeds

    monkeypatch.setattr("publisher.ingest.FILES_PER_COMMIT", 1)
    monkeypatch.setattr("publisher.store.Store.merge_index.__defaults__", (1,))
    a, b = (wire.read((CASES / "re-edited-copy" / n).read_bytes()).stories[0].paragraphs for n in ("a.txt", "b.txt"))
    for name, text in (("one", a), ("two", b)):
        httpserver.expect_request(f"/{name}.xml").respond_with_data(
            rss([(f"{name}-1", "Odesa port", list(text))]), content_type="application/rss+xml")
    with_feeds(project, httpserver.url_for("/one.xml"), httpserver.url_for("/two.xml"))
    waiting = []  # keys in lsh_recent when each entry is stored
    apply = Store.apply

    def counting(self, *args, **kwargs):
        waiting.append(self.recent_keys())
        return apply(self, *args, **kwargs)

    monkeypatch.setattr(Store, "apply", counting)
    report = project.publish()
    assert report.ok and sorted((s.new, s.revised) for s in report.polled) == [(0, 1), (1, 0)]
    assert waiting == [0, 0]  # the first feed's keys were merged before the second feed's entry
    store = Store.open(project.database, now=NOW)
    try:
        recent, big = index_rows(store)
        assert not recent and big
        assert store.count_entries() == 1
    finally:
        store.close()
