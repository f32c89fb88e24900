"""Text lost on the fast path, and what the fallback costs: feedparser's own test feeds read by
publisher/sources/feed.py as it is and as it was (a git revision, loaded from `git show`), each
against the same code forced onto feedparser (the reference: what feedparser would give).

    python bench/feed_fallback.py [--before REV] [--corpus DIR]

The corpus is feedparser's source distribution (pip download --no-deps --no-binary :all:
feedparser==<pinned>), extracted under ~/.cache/publisher-bench/ (never committed). Prints and
writes bench/results/feed_fallback.md: files where the reference gives entries with text but we
give fewer stories, none, or less text (fewer characters of titles and paragraphs); files whose
stories hold C1 control characters or U+FFFD; and parse() time over the corpus, as a ratio to
the revision before, in one run.
"""

from __future__ import annotations

import _common  # noqa: F401  (puts the repository root on sys.path)

import argparse
import re
import subprocess
import sys
import time
import types
from pathlib import Path

from publisher.sources import feed as after

CACHE = Path.home() / ".cache" / "publisher-bench"
BAD = re.compile("[\u0080-\u009f\ufffd]")


def load_before(rev: str) -> types.ModuleType:
    source = subprocess.run(["git", "-C", str(_common.ROOT), "show", f"{rev}:publisher/sources/feed.py"],
                            check=True, capture_output=True, text=True).stdout
    module = types.ModuleType("feed_before")
    module.__file__ = f"{rev}:publisher/sources/feed.py"
    sys.modules[module.__name__] = module  # (dataclasses look their module up)
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    return module


def corpus(root: Path | None) -> list[Path]:
    if root is None:
        found = sorted(CACHE.glob("feedparser-*/tests"))
        if not found:
            sys.exit(f"no corpus: pip download --no-deps --no-binary :all: feedparser==<pinned> -d {CACHE} "
                     "and extract it there")
        root = found[-1]
    return sorted(root.rglob("*.xml"))


def figures(stories) -> tuple[int, int]:
    return len(stories), sum(len(p) for s in stories for p in s.paragraphs) + sum(len(s.title) for s in stories)


def read_all(module, files: list[tuple[Path, bytes]], forced: bool = False) -> tuple[dict, float]:
    saved = module._fast
    if forced:
        module._fast = lambda data, limit: None
    out = {}
    started = time.perf_counter()
    try:
        for path, data in files:
            try:
                out[path] = module.parse(data, url=path.name).result.stories
            except Exception as exc:  # a crash is a figure here, not the end of the bench
                out[path] = exc
    finally:
        module._fast = saved
    return out, time.perf_counter() - started


def typical() -> list[tuple[str, bytes]]:
    """Feeds as most sites serve them (the fast path, nothing to fall back for): 100 entries of
    escaped HTML with non-ASCII text, in RSS 2.0 and Atom (xhtml content)."""
    para = "Ships left the harbour at dawn; the strait\u2019s pilots said \u201cnot before noon\u201d. " * 6
    items = "".join(f"<item><title>Story {i} \u2014 caf\u00e9</title><link>https://n.example/{i}</link>"
                    f"<guid>https://n.example/{i}</guid><pubDate>Tue, 01 Dec 2026 0{i % 10}:00:00 GMT</pubDate>"
                    f"<description>&lt;p&gt;{para}&lt;/p&gt;&lt;p&gt;{para}&lt;/p&gt;</description></item>"
                    for i in range(100))
    rss = f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>N</title>{items}</channel></rss>'
    entries = "".join(f"<entry><id>urn:x:{i}</id><title>Story {i}</title><updated>2026-12-01T00:00:00Z</updated>"
                      f'<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>{para}</p><p>{para}</p>'
                      "</div></content></entry>" for i in range(100))
    atom = f'<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><id>urn:x</id>{entries}</feed>'
    return [("rss", rss.encode()), ("atom", atom.encode())]


def time_typical(module, docs: list[tuple[str, bytes]], rounds: int = 20) -> float:
    """Seconds for `rounds` parses of each document: the best of five."""
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(rounds):
            for name, data in docs:
                module.parse(data, url=f"https://n.example/{name}")
        best = min(best, time.perf_counter() - started)
    return best


def compare(got: dict, reference: dict) -> dict[str, list[str]]:
    worse: dict[str, list[str]] = {"none": [], "fewer": [], "less text": [], "crash": [], "C1 or U+FFFD": []}
    for path, ref in reference.items():
        mine = got[path]
        if isinstance(mine, Exception):
            worse["crash"].append(path.name)
            continue
        if any(BAD.search(s.title + "".join(s.paragraphs)) for s in mine):
            worse["C1 or U+FFFD"].append(path.name)
        if isinstance(ref, Exception) or not ref:
            continue
        (n, chars), (ref_n, ref_chars) = figures(mine), figures(ref)
        if n == 0:
            worse["none"].append(path.name)
        elif n < ref_n:
            worse["fewer"].append(path.name)
        elif chars < ref_chars:
            worse["less text"].append(path.name)
    return worse


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", default="e55f365", help="the revision to compare with (default: before the fallback)")
    ap.add_argument("--corpus", type=Path, help="a directory of .xml feeds (default: feedparser's tests/)")
    ap.add_argument("--out", type=Path, default=_common.RESULTS / "feed_fallback.md")
    args = ap.parse_args()
    files = [(p, p.read_bytes()) for p in corpus(args.corpus)]
    before = load_before(args.before)
    reference, _ = read_all(after, files, forced=True)
    with_text = sum(1 for r in reference.values() if not isinstance(r, Exception) and r)
    runs = {}
    for name, module in (("before", before), ("after", after), ("before ", before), ("after ", after)):
        got, seconds = read_all(module, files)
        runs[name.strip()] = (got, min(seconds, runs.get(name.strip(), (None, seconds))[1]))
    lines = [f"# Text lost on the fast path ({len(files):,} feeds of feedparser's test suite)", "",
             f"Reference: the same code forced onto feedparser; {with_text:,} files give entries with text.",
             f"Before: {args.before}. Time: parse() over all files, best of two, same run.", "",
             "| | before | after |", "| --- | ---: | ---: |"]
    worse = {k: compare(v[0], reference) for k, v in runs.items()}
    for key in worse["before"]:
        lines.append(f"| {key} | {len(worse['before'][key])} | {len(worse['after'][key])} |")
    b, a = runs["before"][1], runs["after"][1]
    docs = typical()
    tb, ta = time_typical(before, docs), time_typical(after, docs)
    def falls_back(data: bytes) -> bool:
        lacking = doc[0].get("lacking") if isinstance(doc := after._fast(data, 1000), tuple) else None
        return bool(lacking) and not (lacking == after.NO_ENTRIES and not after._ENTRY_TAG.search(data))
    fell_back = sum(1 for _, data in files if falls_back(data))
    lines += [f"| parse() seconds, whole corpus | {b:.2f} | {a:.2f} ({a / b:.2f}x) |",
              f"| parse() seconds, typical feeds (2 x 100 entries, x20, best of 5) | {tb:.2f} | {ta:.2f} "
              f"({ta / tb:.2f}x) |", "",
              f"Read by the fast path, then by feedparser too: {fell_back:,} files.", ""]
    for key, names in worse["after"].items():
        if names:
            lines.append(f"After, {key}: " + ", ".join(names[:40]) + (" ..." if len(names) > 40 else ""))
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
