"""Migration 0016 (sketches v2): how long rewriting every stored version's sketch takes, per version.

    python bench/migrate_sketches.py [--n 20000] [--seed 1] [--keep] [--out DIR]

A store of --n generated stories (bench/dedup.py's corpus) is built by the real pipeline
(publisher.publish.ingest), then put back as migration 0016 finds an older store: every
version's shingle set, signature and band keys as frozen.sketch_v1 made them, 0016 not
recorded (untimed). Then the migration function itself (store._sketches_v2) runs in one
transaction, timed, and split into its parts: frozen.sketch_v2 over every version alone (the
compute), and the rest (reading rows, UPDATE sketches, DELETE + INSERT lsh_bands). Timed as CPU time of the process (wall
time too, for the migration). Printed as
µs per version and extrapolated to 1M stored versions (linear: the band table's B-tree is
written in key order per batch, so its cost per row grows slowly, as log n). Writes
migrate_sketches.json and migrate_sketches.md to bench/results/ (or --out DIR).
"""

from __future__ import annotations

import json
import sqlite3
import sys
import time
from datetime import UTC, datetime

from _common import (PublishReport, Store, ingest, machine_info, now_iso, parser, shipped_config,
                     stories_at_blank_lines, temp_scratch, write_results)

from corpus import labelled_wire
from publisher import frozen
from publisher.store import _sketches_v2


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    stories_at_blank_lines()
    with temp_scratch("migrate-sketches-", keep=args.keep) as root:
        labelled_wire(root, args.n, args.seed)
        config = shipped_config(root, root / "sources", root / "store.db")
        now = datetime.now(UTC)
        store = Store.open(config.paths.database, now=now)
        t0 = time.perf_counter()
        ingest(store, config, now, PublishReport())
        ingest_s = time.perf_counter() - t0
        store.close()

        db = sqlite3.connect(config.paths.database)
        db.execute("DELETE FROM lsh_bands")
        rows = db.execute("SELECT id, kicker, paragraphs FROM versions").fetchall()
        for version, kicker, paragraphs in rows:
            keys, signature, packed = frozen.sketch_v1(json.loads(paragraphs), kicker)
            db.execute("UPDATE sketches SET minhash = ?, shingles = ? WHERE version = ?", [signature, packed, version])
            db.executemany("INSERT OR IGNORE INTO lsh_bands (band, version) VALUES (?, ?)", [(k, version) for k in keys])
        db.execute("DELETE FROM _sqlite_migrations WHERE name = '0016_sketches_v2'")
        db.commit()
        db.close()

        c0 = time.process_time()
        for _, kicker, paragraphs in rows:
            frozen.sketch_v2(json.loads(paragraphs), kicker)
        compute_s = time.process_time() - c0

        from sqlite_utils import Database
        db = Database(sqlite3.connect(config.paths.database, isolation_level=None))
        db.execute("BEGIN")
        t0, c0 = time.perf_counter(), time.process_time()
        _sketches_v2(db)
        db.execute("COMMIT")
        wall_s, migrate_s = time.perf_counter() - t0, time.process_time() - c0
        versions = db.execute("SELECT count(*) FROM sketches").fetchone()[0]
        bands = db.execute("SELECT count(*) FROM lsh_bands").fetchone()[0]
        db.conn.close()

    per = migrate_s / versions * 1e6
    doc = {"when": now_iso(), "machine": machine_info("numpy"), "stories": args.n, "versions": versions,
           "band_rows": bands, "ingest_s": ingest_s, "migration_cpu_s": migrate_s, "migration_wall_s": wall_s, "us_per_version": per,
           "compute_us_per_version": compute_s / versions * 1e6,
           "sql_us_per_version": (migrate_s - compute_s) / versions * 1e6,
           "extrapolated_1m_s": per * 1e6 / 1e6}
    lines = [f"# Migration 0016_sketches_v2 (`bench/migrate_sketches.py`)\n",
             f"{versions:,} versions ({bands:,} band rows) from {args.n:,} generated stories, built by the real "
             f"ingest in {ingest_s:.0f} s; {doc['machine']['cpu']}, Python {doc['machine']['python']}, SQLite "
             f"{doc['machine']['sqlite']}; commit {doc['machine']['commit']}; {doc['when']}.\n",
             "CPU time of the process (the two cores are shared with other work; wall time, which adds the "
             f"waits for I/O and for a core: {wall_s:.2f} s for the migration).\n",
             "| | CPU s | µs per version |", "|---|---:|---:|",
             f"| migration (one transaction) | {migrate_s:.2f} | {per:.0f} |",
             f"| of which frozen.sketch_v2 | {compute_s:.2f} | {doc['compute_us_per_version']:.0f} |",
             f"| of which SQL (read, UPDATE, DELETE + INSERT bands) | {migrate_s - compute_s:.2f} | "
             f"{doc['sql_us_per_version']:.0f} |",
             f"\nAt 1M stored versions, linearly: ~{doc['extrapolated_1m_s'] / 60:.0f} min "
             f"({doc['extrapolated_1m_s']:.0f} s), once, at the first `Store.open` after upgrading.\n"]
    for path in write_results(args.out, "migrate_sketches", doc, "\n".join(lines)):
        print(f"wrote {path}", file=sys.stderr)
    print("\n".join(lines), file=sys.stderr)


if __name__ == "__main__":
    main()
