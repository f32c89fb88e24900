"""Scale benchmark: what adding copy costs with 1k, 10k, 100k and 1M stories stored, as ratios to the
smallest store measured in the same run (issue 17).

    python bench/scale.py [--sizes 1000,10000,100000,1000000] [--files 5] [--reps 3] [--seed 1]
                          [--ds-max 100000] [--rebuild] [--timeout 900] [--out DIR]

Stores. Each size is a store of that many stories of corpus.themed_wire (seeded, prefix-stable:
the store of 10k holds the files of the store of 1k, and more; ~5% exact copies, ~5% revisions,
about a third of the entries in a topic, so that feeds and story pages are written), built once and
kept under bench/work/scale/ keyed by size, seed and the schema an empty Store.open makes (a
migration added elsewhere makes a new key: that store is built again). The build is the bench's
fast path through the real write path: `ingest_files` over the corpus files with the LSH lookup
answering nothing (every story that is not an exact copy is placed as new, as dedup.place does
with no candidates), big commits; then `classify_entries` and `site.write_all` (a first publish:
every topic entry's page). Its time is reported per size.

Measured on a copy of each store (the database copied, sources and feeds hard-linked: the
publisher replaces files by rename, never writes into them), each in a fresh process, the sizes
taking turns (a file, or a batch, at each size in turn, the order rotated: on a shared machine
the ratios between sizes are what one run can compare; absolute times are noisy):
  add a file    `publisher publish` (the command, in a subprocess) after one 10-story file is
                dropped into sources/ (5 new themed stories, 2 copies and 3 revisions of stories
                in the first 1,000): the whole process's wall time and peak RSS, median of --files
                files; and as many more files published by `--child publish` (the same
                publisher.cli.main in a fresh Python, with a timer on Store.open, ingest_files,
                classify_entries and site.write_all) for where the time goes
  batch         1,000-odd stories of corpus.labelled_wire (another seed: their near-duplicates are
                among themselves; a match with the store is a false one) published by `--child
                publish` into a fresh copy, --reps times: ingest µs/story (the near-duplicate path:
                read, segment, fingerprint, shingle, MinHash, LSH lookup, placement, store) and the
                whole process's µs/story; precision/recall of its decisions (provenance)
  datasketch    (sizes up to --ds-max) the same batch texts through bench/dedup.py's datasketch
                code: MinHash(num_perm=128) + update_batch over dedup.ds_grams, MinHashLSH(threshold
                =0.5) query + insert, in memory, after the store's texts are inserted (untimed):
                its µs/story over ours, for the near-duplicate path and for the whole process
Generated files are read as stories at blank lines (_common.stories_at_blank_lines) in every
child but the `publisher publish` command itself, which reads them as it reads any wire copy.
Results are printed and written to scale.json and scale.md in bench/results/ (or --out DIR).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _common import (BIN, ROOT, WORK, machine_info, now_iso, parser, peak_rss_mb, project_config, run_child,
                     stories_at_blank_lines, write_results)

SCALE = WORK / "scale"  # cached corpora and stores (bench/work/ is git-ignored)
ADD_STORIES_NEW, ADD_COPIES, ADD_REVISIONS = 5, 2, 3  # a 10-story file: half new, half near-duplicates
ADD_SOURCE_STORIES = 1000  # its near-duplicates are of stories among the first 1,000 (in every store)
BATCH = 1000  # stories of the batch (labelled_wire adds the articles of teasers still due)
BATCH_SEED = 100  # added to --seed: the batch's corpus is unrelated to the store's
BUILD_FILES_PER_COMMIT = 1000  # the build's commits (ingest's own is one per 64 files)
GOALS = {"add_file": 1.3, "per_story": 1.3, "ds_dedup": 5.0, "ds_process": 2.0, "rss_1m_mb": 500}
SUMMARY = re.compile(r"(\d+) stories \((\d+) new, (\d+) revised, (\d+) duplicate\)")


# -- children --------------------------------------------------------------------------------

def child_schema(root: Path) -> dict:
    """The schema an empty store gets today: the key of cached stores."""
    from datetime import UTC, datetime

    from _common import Store

    Store.open(root / "empty.db", now=datetime.now(UTC)).close()
    with sqlite3.connect(root / "empty.db") as conn:
        rows = sorted(r[0] or "" for r in conn.execute("SELECT sql FROM sqlite_master"))
    return {"schema": hashlib.sha256("\n".join(rows).encode()).hexdigest()[:12]}


def child_corpus(root: Path, n: int, seed: int, files: int) -> dict:
    """root/sources: n themed stories (corpus.themed_wire); root/add: `files` 10-story files;
    root/batch: the labelled batch (its sources and truth.json)."""
    from corpus import _revise, cosmetic, labelled_wire, themed_story, themed_wire, wire_text

    stories_at_blank_lines()  # labelled_wire checks that the reader finds the planted stories
    t0 = time.perf_counter()
    gen = themed_wire(root / "sources", n, seed)
    gen["generate_s"] = time.perf_counter() - t0
    # the stories of the first 1,000, as written (a blank line between two stories)
    first = sorted((root / "sources").iterdir())[: ADD_SOURCE_STORIES // 100]
    earlier = [s.split("\n") for f in first for s in f.read_text(encoding="utf-8").strip("\n").split("\n\n")]
    rng = random.Random(seed + 7)
    (root / "add").mkdir()
    for i in range(files):
        stories = [themed_story(rng) for _ in range(ADD_STORIES_NEW)]
        stories += [cosmetic(rng, rng.choice(earlier)) for _ in range(ADD_COPIES)]
        stories += [_revise(rng, rng.choice(earlier)) for _ in range(ADD_REVISIONS)]
        (root / "add" / f"add-{i:03d}.txt").write_text(wire_text(stories), encoding="utf-8")
    batch = labelled_wire(root / "batch", BATCH, seed + BATCH_SEED)
    return {**gen, "add_files": files, "batch_stories": batch["stories"], "batch_files": batch["files"]}


def child_build(root: Path) -> dict:
    """The bench's fast path: the real ingest with the LSH lookup answering nothing, big commits;
    then classify and write everything once (a first publish)."""
    from datetime import UTC, datetime

    from _common import PublishReport, Store, classify_entries, ingest, ingest_module, shipped_config, write_all

    stories_at_blank_lines()
    patched = []
    if hasattr(Store, "band_hits"):  # no candidates: placed as new, as dedup.place with none
        Store.band_hits = lambda self, *args, **kwargs: []
        patched.append("Store.band_hits")
    if hasattr(ingest_module, "_place_brief"):  # nor brief candidates (the full-text query)
        ingest_module._place_brief = lambda *args, **kwargs: None
        patched.append("ingest._place_brief")
    if hasattr(ingest_module, "FILES_PER_COMMIT"):
        ingest_module.FILES_PER_COMMIT = BUILD_FILES_PER_COMMIT
        patched.append("ingest.FILES_PER_COMMIT")
    config = shipped_config(root)
    now = datetime.now(UTC)
    store = Store.open(config.paths.database, now=now)
    report = PublishReport()
    out: dict = {"patched": patched}
    t0 = time.perf_counter()
    ingest(store, config, now, report)
    out["ingest_s"] = time.perf_counter() - t0
    bad = [s for s in report.sources if s.outcome in ("failed", "skipped")] + report.errors
    assert not bad, f"build problems: {bad[:3]}"
    out["stories"] = sum(s.stories for s in report.sources)
    out["new"] = sum(s.new for s in report.sources)
    t0 = time.perf_counter()
    out["classified"] = classify_entries(store, config)
    out["classify_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    report = PublishReport()
    write_all(store, config, report)
    out["write_s"] = time.perf_counter() - t0
    assert not report.errors, report.errors[:3]
    out.update(pages=report.pages, entries=store.count_entries(), in_topic=store.count_in_any_topic(),
               rss_mb=peak_rss_mb())
    store.close()
    return out


def child_publish(root: Path) -> dict:
    """publisher.cli.main(["publish"]) on root/config.toml, with a timer on each step (module
    attributes: a step renamed since is left out, its time in "rest")."""
    t_start = time.perf_counter()
    from _common import Store, cli_main, ingest_module, site_module

    stories_at_blank_lines()
    steps: dict[str, float] = {}

    def timed(owner, name: str, label: str, method: bool = False) -> None:
        real = getattr(owner, name, None)
        if real is None:
            return
        func = real.__func__ if method else real

        def wrapper(*args, **kwargs):
            t = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                steps[label] = steps.get(label, 0.0) + time.perf_counter() - t
        setattr(owner, name, classmethod(wrapper) if method else wrapper)

    timed(Store, "open", "open", method=True)
    timed(ingest_module, "ingest_files", "ingest")
    timed(ingest_module, "classify_entries", "classify")
    timed(site_module, "write_all", "write")
    t_main = time.perf_counter()
    code = cli_main(["--config", str(root / "config.toml"), "publish"])
    total = time.perf_counter() - t_main
    steps["rest"] = total - sum(steps.values())
    return {"code": code, "imports_s": t_main - t_start, "main_s": total, "steps_s": steps, "rss_mb": peak_rss_mb()}


def child_datasketch(root: Path, store_sources: Path, batch: Path) -> dict:
    """bench/dedup.py's datasketch run (128 permutations, threshold 0.5, raw: any candidate is a
    duplicate) on the batch, after every story of the store is inserted."""
    from datasketch import LeanMinHash, MinHash, MinHashLSH

    from _common import list_sources, wire
    from dedup import FileStories, ds_grams, load_truth, prf

    stories_at_blank_lines()
    base = MinHash(num_perm=128)
    lsh = MinHashLSH(threshold=0.5, num_perm=128)
    t0 = time.perf_counter()
    n = 0
    for f in list_sources(store_sources):
        for story in wire.read(f.path.read_bytes()).stories:
            m = base.copy()
            m.update_batch(ds_grams(story.text))
            lsh.insert(f"s{n}", LeanMinHash(m))
            n += 1
    index_s = time.perf_counter() - t0
    files = FileStories(batch / "sources")
    preds: list[bool] = []
    t0 = time.perf_counter()
    for stories in files:  # read, MinHash, query, insert: as dedup.child_ds_run
        for story in stories:
            m = base.copy()
            m.update_batch(ds_grams(story.text))
            preds.append(bool(lsh.query(m)))
            lsh.insert(len(preds) - 1, m)
    seconds = time.perf_counter() - t0
    truth = load_truth(batch)
    return {"indexed": n, "index_s": index_s, "seconds": seconds, "parse_s": files.parse_s, "stories": len(preds),
            "bands": lsh.b, "rows": lsh.r, "metrics": prf(preds, truth["dup"]), "rss_mb": peak_rss_mb()}


CHILDREN = {"schema": child_schema, "corpus": child_corpus, "build": child_build, "publish": child_publish,
            "datasketch": child_datasketch}


# -- driver ------------------------------------------------------------------------------------

def env() -> dict:
    """Children run this checkout's publisher (the venv's may be installed from another)."""
    return {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def child(mode: str, root: Path, args: list, timeout: float) -> dict:
    os.environ["PYTHONPATH"] = env()["PYTHONPATH"]
    t0 = time.perf_counter()
    out = run_child(__file__, mode, root, args, timeout, capture_stderr=True)
    out["wall_s"] = time.perf_counter() - t0
    return out


def process(cmd: list[str], timeout: float) -> dict:
    """Run `cmd`; its wall time, exit status, own peak RSS (wait4: this child's alone) and output."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True, env=env(), start_new_session=True)
        timer = threading.Timer(timeout, lambda: os.killpg(proc.pid, signal.SIGKILL))
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        return {"wall_s": wall, "code": proc.returncode, "rss_mb": usage.ru_maxrss / 1024, "stdout": out.read(),
                "stderr": err.read()}


def link_tree(src: Path, dest: Path) -> None:
    """dest as a tree of hard links to src's files (cp -al)."""
    subprocess.run(["cp", "-al", str(src), str(dest)], check=True)


def du_mb(*paths: Path) -> float:
    """MB in these files and the files under these directories."""
    return sum(f.stat().st_size for p in paths for f in ([p] if p.is_file() else p.rglob("*")) if f.is_file()) / 2**20


def ensure_corpus(seed: int, n: int, files: int, timeout: float) -> Path:
    """The corpus of `seed` with at least n stories (themed_wire is prefix-stable: a larger one
    has the same first files)."""
    root = SCALE / f"corpus-s{seed}"
    info = root / "corpus.json"
    if info.exists():
        have = json.loads(info.read_text())
        if have["stories"] >= n and have["add_files"] >= files:
            return root
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    print(f"  generating the corpus: {n:,} stories (seed {seed})", flush=True)
    out = child("corpus", root, [n, seed, files], timeout)
    info.write_text(json.dumps(out))
    return root


def ensure_store(corpus: Path, n: int, seed: int, schema: str, rebuild: bool, timeout: float) -> tuple[Path, dict]:
    """The store of the first n stories of the corpus, built once (build.json: how)."""
    root = SCALE / f"store-n{n}-s{seed}-{schema}"
    info = root / "build.json"
    if info.exists() and not rebuild:
        return root, {**json.loads(info.read_text()), "cached": True}
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    project_config(root)  # root/config.toml (the shipped config) and root/sources/
    names = sorted((corpus / "sources").iterdir())[: (n + 99) // 100]
    for f in names:
        os.link(f, root / "sources" / f.name)
    print(f"  building the store of {n:,} stories", flush=True)
    out = child("build", root, [], timeout)
    out.update(files=len(names), db_mb=du_mb(*root.glob("publisher.db*")), feeds_mb=du_mb(root / "feeds"),
               sources_mb=du_mb(root / "sources"), built=now_iso())
    info.write_text(json.dumps(out))
    return root, {**out, "cached": False}


def working_copy(store: Path, n: int) -> Path:
    """A copy to write into: the database copied, sources and feeds hard-linked."""
    run = SCALE / f"run-n{n}"
    shutil.rmtree(run, ignore_errors=True)
    run.mkdir(parents=True)
    for p in store.glob("publisher.db*"):
        shutil.copyfile(p, run / p.name)
    for name in ("sources", "feeds"):
        link_tree(store / name, run / name)
    shutil.copyfile(store / "config.toml", run / "config.toml")
    # Written out before anything is timed: a 5 GB copy's dirty pages otherwise go to the disk
    # during the first publish timed on it, and its commit's fsync waits for them.
    os.sync()
    return run


def publish_bin(run: Path, timeout: float) -> dict:
    res = process([str(BIN), "--config", str(run / "config.toml"), "publish"], timeout)
    if res["code"]:
        raise RuntimeError(f"publisher publish failed ({res['code']}): {res['stderr'].strip()[-300:]}")
    m = SUMMARY.search(res["stdout"])
    return {"wall_s": res["wall_s"], "rss_mb": res["rss_mb"], "stories": int(m.group(1)) if m else None,
            "summary": res["stdout"].strip().splitlines()[-1] if res["stdout"].strip() else ""}


def publish_timed(run: Path, timeout: float) -> dict:
    res = process([sys.executable, __file__, "--child", "publish", str(run)], timeout)
    if res["code"]:
        raise RuntimeError(f"--child publish failed ({res['code']}): {res['stderr'].strip()[-300:]}")
    lines = res["stdout"].strip().splitlines()
    out = json.loads(lines[-1])
    m = next((SUMMARY.search(ln) for ln in reversed(lines) if SUMMARY.search(ln)), None)
    out.update(wall_s=res["wall_s"], rss_mb=res["rss_mb"], summary=lines[-2] if len(lines) > 1 else "",
               stories=int(m.group(1)) if m else None)
    if out["code"]:
        raise RuntimeError(f"--child publish: exit {out['code']}: {res['stderr'].strip()[-300:]}")
    return out


def batch_decisions(run: Path, corpus: Path) -> dict | None:
    """Precision/recall of the batch's decisions (provenance: anything but 'new' is a duplicate),
    against its truth; None when the schema no longer has them where this looks."""
    from dedup import load_truth, prf

    truth = load_truth(corpus / "batch")
    index = {(f"batch-{f}", ln): i for i, (f, ln) in enumerate(zip(truth["file"], truth["line"]))}
    try:
        with sqlite3.connect(f"file:{run / 'publisher.db'}?mode=ro", uri=True) as conn:
            rows = conn.execute("""SELECT s.location, p.first_line, p.decision FROM provenance p
                                   JOIN sources s ON s.id = p.source WHERE s.location LIKE 'batch-%'""").fetchall()
    except sqlite3.Error:
        return None
    pred = [None] * len(truth["dup"])
    for loc, line, decision in rows:
        if (loc, line) in index:
            pred[index[(loc, line)]] = decision != "new"
    if None in pred:
        return None
    return prf(pred, truth["dup"])


def turns(items: list, i: int) -> list:
    """items in the order of turn i: rotated by i, and every other turn reversed, so that each
    comes first and last in turn and a busy moment of the machine falls on all alike."""
    k = i % len(items)
    order = items[k:] + items[:k]
    return order[::-1] if i % 2 else order


def measure(sizes: list[int], args, schema: str, corpus: Path) -> list[dict]:
    """Every measurement at every size, the sizes taking turns (one file, or one batch, at each
    size in turn): ratios between sizes in one run are what is compared, on a shared machine."""
    t = args.timeout
    results: dict[int, dict] = {}
    stores: dict[int, Path] = {}
    for n in sizes:
        try:
            stores[n], build = ensure_store(corpus, n, args.seed, schema, args.rebuild, args.build_timeout)
        except (RuntimeError, subprocess.SubprocessError) as exc:
            print(f"  {n:,}: build failed: {exc}", flush=True)
            results[n] = {"size": n, "error": f"build: {exc}"}
            continue
        results[n] = {"size": n, "build": build, "add_bin": [], "add_timed": [], "batch": []}
        print(f"  {n:,}: {build['stories']:,} stories, {build['entries']:,} entries ({build['in_topic']:,} in a "
              f"topic), db {build['db_mb']:.0f} MB, feeds {build['feeds_mb']:.0f} MB; build {build['ingest_s']:.0f} s "
              f"ingest + {build['classify_s']:.0f} s classify + {build['write_s']:.0f} s write"
              + (" (cached)" if build["cached"] else ""), flush=True)
    live = [n for n in sizes if n in stores]

    def attempt(n: int, what) -> None:
        if "error" in results[n]:
            return
        try:
            what(results[n])
        except (RuntimeError, subprocess.SubprocessError, AssertionError, OSError) as exc:
            print(f"  {n:,}: error: {exc}", flush=True)
            results[n]["error"] = str(exc)

    # 1. a 10-story file in a fresh process: the command, and the timed child, taking turns
    runs = {n: working_copy(stores[n], n) for n in live}
    adds = sorted((corpus / "add").iterdir())
    for i in range(args.files):
        for n in turns(live, i):
            def add(res: dict, n: int = n) -> None:
                for kind in (("bin", "timed") if i % 2 == 0 else ("timed", "bin")):
                    f = adds[2 * i + (kind == "timed")]
                    shutil.copyfile(f, runs[n] / "sources" / f.name)
                    if kind == "bin":
                        res["add_bin"].append(publish_bin(runs[n], t))
                    else:
                        res["add_timed"].append(publish_timed(runs[n], t))
            attempt(n, add)
    for n in live:
        res = results[n]
        if "error" in res:
            continue
        bins, timed = res["add_bin"], res["add_timed"]
        res["add_bin_ms"] = statistics.median(b["wall_s"] for b in bins) * 1000
        res["add_timed_ms"] = statistics.median(b["wall_s"] for b in timed) * 1000
        res["add_steps_ms"] = {k: statistics.median(b["steps_s"].get(k, 0.0) for b in timed) * 1000
                               for k in ("open", "ingest", "classify", "write", "rest")}
        res["add_rss_mb"] = max(b["rss_mb"] for b in bins + timed)
        print(f"  {n:,}: add a 10-story file: publisher publish {res['add_bin_ms']:.0f} ms (median of {len(bins)}), "
              f"timed child {res['add_timed_ms']:.0f} ms: " + ", ".join(f"{k} {v:.0f}" for k, v in res["add_steps_ms"].items())
              + f" ms; peak RSS {res['add_rss_mb']:.0f} MB", flush=True)
    # 2. the batch, into a fresh copy each time
    for r in range(args.reps):
        for n in turns(live, r):
            def batch(res: dict, n: int = n) -> None:
                run = working_copy(stores[n], n)
                for f in sorted((corpus / "batch" / "sources").iterdir()):
                    shutil.copyfile(f, run / "sources" / f"batch-{f.name}")
                out = publish_timed(run, t)
                out["metrics"] = batch_decisions(run, corpus) if r == 0 else None
                res["batch"].append(out)
            attempt(n, batch)
    for n in live:
        res = results[n]
        if "error" in res:
            continue
        reps = res["batch"]
        stories = reps[0]["stories"] or BATCH
        res["batch_stories"] = stories
        res["ingest_us"] = statistics.median(b["steps_s"].get("ingest", float("nan")) for b in reps) / stories * 1e6
        res["process_us"] = statistics.median(b["wall_s"] for b in reps) / stories * 1e6
        res["batch_rss_mb"] = max(b["rss_mb"] for b in reps)
        res["metrics"] = pr = reps[0]["metrics"]
        print(f"  {n:,}: batch of {stories:,}: ingest {res['ingest_us']:.0f} µs/story, whole process "
              f"{res['process_us']:.0f} µs/story (median of {len(reps)}); peak RSS {res['batch_rss_mb']:.0f} MB"
              + (f"; precision {pr['precision']:.4f}, recall {pr['recall']:.4f}" if pr else ""), flush=True)
    # 3. datasketch on the same batch texts, with the store's texts indexed
    for n in live:
        res = results[n]
        if "error" in res or n > args.ds_max:
            continue
        def sketch(res: dict, n: int = n) -> None:
            ds = child("datasketch", SCALE, [stores[n] / "sources", corpus / "batch"], args.build_timeout)
            ds["us"] = ds["seconds"] / ds["stories"] * 1e6
            res["datasketch"] = ds
            res["ds_dedup_ratio"] = ds["us"] / res["ingest_us"]
            res["ds_process_ratio"] = ds["us"] / res["process_us"]
            print(f"  {n:,}: datasketch {ds['us']:.0f} µs/story (index of {ds['indexed']:,} built in "
                  f"{ds['index_s']:.0f} s); ours ÷: near-duplicate path {res['ds_dedup_ratio']:.2f}×, whole process "
                  f"{res['ds_process_ratio']:.2f}×; precision {ds['metrics']['precision']:.4f}, recall "
                  f"{ds['metrics']['recall']:.4f}", flush=True)
        attempt(n, sketch)
    if not args.keep:
        for n in live:
            shutil.rmtree(SCALE / f"run-n{n}", ignore_errors=True)
    return [results[n] for n in sizes]


# -- report ----------------------------------------------------------------------------------

def table(head: list[str], rows: list[list[str]], md: bool) -> str:
    if md:
        return "\n".join(["| " + " | ".join(head) + " |", "|" + "|".join("---:" for _ in head) + "|"]
                         + ["| " + " | ".join(r) + " |" for r in rows]) + "\n"
    widths = [max(len(x) for x in col) for col in zip(head, *rows)]
    return "\n".join("  ".join(x.rjust(w) for x, w in zip(r, widths)) for r in [head, *rows]) + "\n"


def goals(doc: dict) -> list[dict]:
    ok = [r for r in doc["results"] if "error" not in r]
    if not ok:
        return []
    base, top = ok[0], ok[-1]
    out = []

    def goal(name: str, value: float, limit: float, at_least: bool, text: str) -> None:
        passed = value >= limit if at_least else value <= limit
        early = " (the goal is at 1M; this is the largest size measured)" if top["size"] < 1_000_000 and \
            "1.3×" in name else ""
        out.append({"goal": name, "value": value, "limit": limit, "pass": passed,
                    "text": f"{name}: {'PASS' if passed else 'MISS'}{early} — {text}"})

    if top is not base:
        span = f"{top['size']:,} vs {base['size']:,} stored"
        r = top["add_bin_ms"] / base["add_bin_ms"]
        goal("adding a 10-story file ≤ 1.3× (fresh `publisher publish`)", r, GOALS["add_file"], False,
             f"{top['add_bin_ms']:.0f} vs {base['add_bin_ms']:.0f} ms = {r:.2f}× ({span}; the timed child, 10 stories "
             f"a file at every size: {top['add_timed_ms'] / base['add_timed_ms']:.2f}×, its ingest step "
             f"{top['add_steps_ms']['ingest'] / base['add_steps_ms']['ingest']:.2f}×)")
        r = top["ingest_us"] / base["ingest_us"]
        goal("per-story ingest cost ≤ 1.3×", r, GOALS["per_story"], False,
             f"{top['ingest_us']:.0f} vs {base['ingest_us']:.0f} µs/story = {r:.2f}× ({span})")
    ds = [r for r in ok if "datasketch" in r]
    if ds:
        d = ds[-1]
        goal("near-duplicate path ≥ 5× datasketch", d["ds_dedup_ratio"], GOALS["ds_dedup"], True,
             f"at {d['size']:,} stored: datasketch {d['datasketch']['us']:.0f} µs/story, ours {d['ingest_us']:.0f}")
        goal("whole publish process ≥ 2× datasketch", d["ds_process_ratio"], GOALS["ds_process"], True,
             f"at {d['size']:,} stored: ours {d['process_us']:.0f} µs/story for a {d['batch_stories']:,}-story "
             f"batch, process start and publish included")
    big = [r for r in ok if r["size"] >= 1_000_000]
    if big:
        rss = max(big[-1]["add_rss_mb"], big[-1]["batch_rss_mb"])
        goal("peak memory at 1M ≤ 500 MB", rss, GOALS["rss_1m_mb"], False,
             f"{rss:.0f} MB (the largest publish process at {big[-1]['size']:,})")
    return out


def minmax(values) -> list:
    values = [v for v in values if v is not None]
    return sorted({min(values), max(values)}) if values else []


def report(doc: dict, md: bool) -> str:
    ok = [r for r in doc["results"] if "error" not in r]
    nl = "\n" if md else ""
    out = []
    if not ok:
        return "\n".join(f"{r['size']:,}: {r['error']}" for r in doc["results"])
    base = ok[0]
    rows = [[f"{r['size']:,}", f"{r['build']['entries']:,}", f"{r['build']['in_topic']:,}", f"{r['build']['files']:,}",
             f"{r['build']['db_mb']:.0f}", f"{r['build']['feeds_mb']:.0f}", f"{r['build']['ingest_s']:.1f}",
             f"{r['build']['ingest_s'] / r['build']['stories'] * 1e6:.0f}", f"{r['build']['classify_s']:.1f}",
             f"{r['build']['write_s']:.1f}", f"{r['build']['wall_s']:.0f}", f"{r['build']['rss_mb']:.0f}"] for r in ok]
    out.append("Stores (built once by the fast path, kept under bench/work/scale/):" + nl)
    out.append(table(["stories", "entries", "in a topic", "files", "db MB", "feeds MB", "ingest s", "µs/story",
                      "classify s", "write s", "build wall s", "build RSS MB"], rows, md))
    rows = [[f"{r['size']:,}", "–".join(f"{x:,}" for x in minmax(b["stories"] for b in r["add_bin"])),
             f"{r['add_bin_ms']:.0f}", f"{r['add_bin_ms'] / base['add_bin_ms']:.2f}×",
             f"{r['add_timed_ms']:.0f}", f"{r['add_timed_ms'] / base['add_timed_ms']:.2f}×",
             *(f"{r['add_steps_ms'][k]:.0f}" for k in ("open", "ingest", "classify", "write", "rest")),
             f"{r['add_steps_ms']['ingest'] / base['add_steps_ms']['ingest']:.2f}×", f"{r['add_rss_mb']:.0f}"] for r in ok]
    out.append(f"Adding one 10-story file (5 new, 2 copies, 3 revisions), a fresh process each (median of "
               f"{doc['files']}); `publisher publish` is the command (\"stories read\": how it segmented the "
               f"files), \"timed\" the same CLI with a timer per step, reading 10 stories a file:" + nl)
    out.append(table(["stories", "stories read", "publish ms", "ratio", "timed ms", "ratio", "open", "ingest", "classify", "write", "rest",
                      "ingest ratio", "peak RSS MB"], rows, md))
    rows = []
    for r in ok:
        pr = r["metrics"]
        rows.append([f"{r['size']:,}", f"{r['batch_stories']:,}", f"{r['ingest_us']:.0f}",
                     f"{r['ingest_us'] / base['ingest_us']:.2f}×", f"{r['process_us']:.0f}",
                     f"{r['process_us'] / base['process_us']:.2f}×", f"{r['batch_rss_mb']:.0f}",
                     f"{pr['precision']:.4f}" if pr else "n/a", f"{pr['recall']:.4f}" if pr else "n/a"])
    out.append(f"A batch of {base['batch_stories']:,} stories (labelled_wire, seed {doc['seed'] + BATCH_SEED}) "
               f"published into a fresh copy (median of {doc['reps']}):" + nl)
    out.append(table(["stories stored", "batch", "ingest µs/story", "ratio", "process µs/story", "ratio",
                      "peak RSS MB", "precision", "recall"], rows, md))
    ds = [r for r in ok if "datasketch" in r]
    if ds:
        rows = [[f"{r['size']:,}", f"{r['datasketch']['indexed']:,}", f"{r['datasketch']['index_s']:.0f}",
                 f"{r['datasketch']['us']:.0f}", f"{r['ingest_us']:.0f}", f"{r['ds_dedup_ratio']:.2f}×",
                 f"{r['process_us']:.0f}", f"{r['ds_process_ratio']:.2f}×",
                 f"{r['datasketch']['metrics']['precision']:.4f}", f"{r['datasketch']['metrics']['recall']:.4f}",
                 f"{r['datasketch']['rss_mb']:.0f}"] for r in ds]
        out.append("datasketch (MinHash 128 + MinHashLSH t=0.5, query + insert, in memory) on the same batch texts, "
                   "the store's texts inserted first; ratios are datasketch's µs/story over ours (> 1: ours faster):" + nl)
        out.append(table(["stories stored", "indexed", "index s", "datasketch µs/story", "ours ingest µs", "dedup ratio",
                          "ours process µs", "process ratio", "ds precision", "ds recall", "ds RSS MB"], rows, md))
    out += [f"{r['size']:,} stories: {r['error']}" + nl for r in doc["results"] if "error" in r]
    if doc.get("projection"):
        out.append(doc["projection"] + nl)
    out.append("Goals:" + nl)
    out += [("- " if md else "  ") + g["text"] for g in doc["goals"]]
    return "\n".join(out)


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--sizes", default="1000,10000,100000,1000000", help="stored stories, comma-separated")
    p.add_argument("--files", type=int, default=5, help="10-story files published per size and way (median)")
    p.add_argument("--reps", type=int, default=3, help="batch publishes per size (median)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--ds-max", type=int, default=100_000, help="largest size datasketch is run at (memory)")
    p.add_argument("--rebuild", action="store_true", help="build the stores again even if cached")
    p.add_argument("--keep", action="store_true", help="keep the working copies (bench/work/scale/run-*)")
    p.add_argument("--timeout", type=float, default=900, help="seconds allowed per publish process")
    p.add_argument("--build-timeout", type=float, default=4 * 3600, help="seconds allowed per build")
    p.add_argument("--name", default="scale", help="results file name (NAME.json, NAME.md)")
    p.add_argument("--child", nargs="+", help=argparse.SUPPRESS)  # internal: MODE DIR [ARGS...]
    args = p.parse_args()
    if args.child:
        mode, root, rest = args.child[0], Path(args.child[1]), args.child[2:]
        func = CHILDREN[mode]
        conv = {"corpus": (int, int, int), "datasketch": (Path, Path)}.get(mode, ())
        out = func(root, *(c(x) for c, x in zip(conv, rest)))
        print(json.dumps(out))
        return
    sizes = sorted(int(s.replace("_", "")) for s in args.sizes.split(","))
    if min(sizes) < ADD_SOURCE_STORIES:
        p.error(f"--sizes: at least {ADD_SOURCE_STORIES} (the added files revise stories among the first 1,000)")
    started = time.perf_counter()
    SCALE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=SCALE) as tmp:
        schema = child("schema", Path(tmp), [], 120)["schema"]
    corpus = ensure_corpus(args.seed, sizes[-1], 2 * args.files, args.build_timeout)
    print(f"sizes {', '.join(f'{n:,}' for n in sizes)} (seed {args.seed}, schema {schema})", flush=True)
    results = measure(sizes, args, schema, corpus)
    doc = {"date": now_iso(), "machine": {**machine_info("datasketch", "numpy", mark_dirty=True),
                                           "load_avg": os.getloadavg()},
           "seed": args.seed, "schema": schema, "files": args.files, "reps": args.reps, "goals_limits": GOALS,
           "results": results}
    ok = [r for r in results if "error" not in r]
    if ok and ok[-1]["size"] < 1_000_000:
        top = ok[-1]
        per = top["build"]["wall_s"] / top["size"]
        doc["projection"] = (f"Not measured at 1,000,000: the build of {top['size']:,} took {top['build']['wall_s']:.0f} s "
                             f"({per * 1e6:.0f} µs a story, all steps); at that rate the 1M store takes "
                             f"≥ {per * 1e6 / 60:.0f} min (more as the B-trees outgrow the cache).")
    doc["goals"] = goals(doc)
    doc["wall_s"] = time.perf_counter() - started
    m = doc["machine"]
    note = (f"Python {m['python']}, SQLite {m['sqlite']}, datasketch {m['datasketch']}, {m['cpu_count']} CPUs "
            f"({m['cpu']}), load {m['load_avg'][0]:.1f}; commit {m['commit']}; seed {args.seed}; {doc['date']}; "
            f"whole run {doc['wall_s'] / 60:.1f} min.")
    md = "# Scale benchmark (`bench/scale.py`)\n\n" + report(doc, md=True) + "\n\n" + note + "\n"
    paths = write_results(args.out, args.name, doc, md)
    print("\n" + report(doc, md=False) + "\n\n" + note)
    print(f"\nwrote {paths[0]} and {paths[1]}")


if __name__ == "__main__":
    main()
