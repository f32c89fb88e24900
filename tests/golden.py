"""A publish of fixed corpora, reduced to hashes: every file under feeds/ and the ids, names,
dates and decisions in the database. `test_golden.py` compares it with the stored manifests
in tests/data/golden/, so a change meant to keep behaviour (a refactor) is checked byte for byte.

    .venv/bin/python tests/golden.py --update     # after a change that is meant to change output

The corpora: every wire and feed file under tests/data (wire, classify, dedup pairs, feeds),
the samples of tests/data/golden/samples, published in three runs (the first files, the second
halves of the dedup pairs, then after a retraction); and, apart, the seed alone (its text is
not ours to ship: only hashes of what it gives are stored).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
GOLDEN = DATA / "golden"
SEED = HERE.parent.parent / "shared" / "seeds" / "000_605cfe10b1b30347.txt"
T0 = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _database(path: Path) -> dict[str, str]:
    conn = sqlite3.connect(path)
    try:
        queries = {
            "entries": "SELECT entry_id, name, first_seen, updated, retracted_at, retract_reason FROM entries ORDER BY id",
            "versions": "SELECT e.entry_id, v.fingerprint, v.seen_at, v.truncated, e.current_version = v.id "
                        "FROM versions v JOIN entries e ON e.id = v.entry ORDER BY v.id",
            "arrivals": "SELECT v.fingerprint, s.location, p.first_line, p.last_line, p.decision, cv.fingerprint, "
                        "p.jaccard, p.containment FROM provenance p JOIN versions v ON v.id = p.version "
                        "JOIN sources s ON s.id = p.source LEFT JOIN versions cv ON cv.id = p.compared_version "
                        "ORDER BY p.id",
            "topics": "SELECT e.entry_id, t.topic, t.score FROM entry_topics t JOIN entries e ON e.id = t.entry "
                      "ORDER BY e.id, t.topic",
            "reads": "SELECT s.location, r.outcome, r.reason, r.stories, r.new, r.duplicate, r.revised "
                     "FROM reads r JOIN sources s ON s.id = r.source ORDER BY r.id",
        }
        return {f"db:{name}": _sha(json.dumps(conn.execute(sql).fetchall()).encode()) for name, sql in queries.items()}
    finally:
        conn.close()


def _project(root: Path) -> Path:
    (root / "sources").mkdir()
    shutil.copy(GOLDEN / "config.toml", root / "config.toml")
    return root / "config.toml"


def _publish(config_path: Path, now: datetime) -> list[str]:
    from publisher import config as config_mod
    from publisher.publish import publish

    report = publish(config_mod.load(config_path), now)
    return [report.summary(), *report.problems()]


def _manifest(root: Path, log: list[str]) -> dict[str, str]:
    feeds = root / "feeds"
    out = {f"feeds/{p.relative_to(feeds).as_posix()}": _sha(p.read_bytes())
           for p in sorted(feeds.rglob("*")) if p.is_file()}
    out.update(_database(root / "publisher.db"))
    out["log"] = _sha("\n".join(log).encode())
    return out


def corpora(root: Path) -> dict[str, str]:
    """The tests/data corpora in three runs."""
    from publisher import config as config_mod, stories

    config_path = _project(root)
    sources = root / "sources"
    for group in ("wire", "classify"):
        for f in sorted((DATA / group).glob("*.txt")):
            shutil.copy(f, sources / f"{group}-{f.name}")
    for f in sorted((DATA / "feeds").glob("*")):
        if f.suffix in (".atom", ".rss"):
            shutil.copy(f, sources / f.name)
    for f in sorted((GOLDEN / "samples").glob("*.txt")):
        shutil.copy(f, sources / f.name)
    cases = sorted(p for p in (DATA / "dedup").iterdir() if p.is_dir())
    for case in cases:
        shutil.copy(case / "a.txt", sources / f"dedup-{case.name}-a.txt")
    log = _publish(config_path, T0)
    for case in cases:
        shutil.copy(case / "b.txt", sources / f"dedup-{case.name}-b.txt")
    log += _publish(config_path, T0 + timedelta(hours=1))
    conn = sqlite3.connect(root / "publisher.db")
    # a story in a topic, so that its feeds change; retracted at a pinned time (the command
    # stamps the wall clock), which writes its feeds and pages again at once
    (first,) = conn.execute("SELECT entry_id FROM entries e WHERE EXISTS (SELECT 1 FROM entry_topics t "
                            "WHERE t.entry = e.id) ORDER BY id LIMIT 1 OFFSET 2").fetchone()
    conn.close()
    retraction = stories.retract(config_mod.load(config_path), first, "golden", T0 + timedelta(minutes=90))
    log += [retraction.report.summary(), *retraction.report.problems()]
    log += _publish(config_path, T0 + timedelta(hours=2))
    return _manifest(root, log)


def seed(root: Path) -> dict[str, str]:
    """The seed alone, published twice (the second changes nothing)."""
    config_path = _project(root)
    shutil.copy(SEED, root / "sources" / SEED.name)
    log = _publish(config_path, T0) + _publish(config_path, T0 + timedelta(hours=1))
    return _manifest(root, log)


def _build(which: str) -> dict[str, str]:
    with tempfile.TemporaryDirectory() as tmp:
        return {"corpora": corpora, "seed": seed}[which](Path(tmp))


def main(argv: list[str]) -> int:
    if argv != ["--update"]:
        print(__doc__)
        return 2
    for which in ("corpora", "seed"):
        if which == "seed" and not SEED.exists():
            print(f"the seed is not here ({SEED}): seed.json left as it is")
            continue
        (GOLDEN / f"{which}.json").write_text(json.dumps(_build(which), indent=1, sort_keys=True) + "\n")
        print(f"wrote {GOLDEN / which}.json")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    sys.exit(main(sys.argv[1:]))
