"""Real-world feeds nobody here wrote: feedparser's own test suite, published from sources/ and polled.

    python bench/realfeeds.py [--limit N] [--batch 300] [--extra DIR] [--out DIR]

`pip download --no-deps --no-binary :all: feedparser==<the version pinned in constraints.txt>`
into ~/.cache/publisher-bench/ (outside the repository: the feeds are never committed), and its
tests/ feeds (--limit N: the first N, sorted by path) are published with a catch-all topic,
(a) as files in sources/ and (b) polled from a local HTTP server on 127.0.0.1 (feeds listed in
the config may be on loopback), in batches of --batch files, each a fresh project run by
`publisher publish` in a child process (so that its stderr is its own) and each small enough
that every entry it stores is in its output feeds (max_entries is 1000).

For each set and way, it counts: files; crashes (a publish exiting other than 0 or 1, or killed);
tracebacks (stderr holding "Traceback" or "Exception ignored in"); sources rejected, by reason;
entries (the stories each source yielded) against feedparser's own count of entries with text
(a title or text; a copy, same id and text, once) on the same files; the W3C validator's errors and warnings, by type, over every
feed file written; dangerous markup in anything written (script elements, on*= handlers,
javascript:/data:/vbscript: URLs in href or src, in the pages and in the HTML that feeds carry).

--extra DIR publishes another corpus the same way and reports it separately: e.g. the W3C Feed
Validator's testcases (`git archive` of w3c/feedvalidator's testcases/ directory; not on this
machine by default). Prints the figures and writes realfeeds.json and realfeeds.md to
bench/results/ (or --out DIR). Goals: 0 crashes, 0 tracebacks, 0 errors, 0 warnings, entries >=
feedparser's, 0 dangerous.
"""

from __future__ import annotations

import contextlib
import functools
import html
import http.server
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import threading
import time
from collections import Counter
from pathlib import Path

from _common import ROOT, commit, parser, project_config, scratch, stamp, write_results

CACHE = Path.home() / ".cache" / "publisher-bench"
VALIDATE = Path("/work/shared/tools/validate-feeds")
SUFFIXES = (".xml", ".atom", ".rss", ".rdf", ".json")
# every story holding a word that starts with a letter or a digit (a threshold must be > 0)
CATCH_ALL = ('\n[[topics]]\nslug = "everything"\ntitle = "Everything"\nthreshold = 0.5\nrules = [{ weight = 1, '
             'terms = [' + ", ".join(f'"{c}*"' for c in "abcdefghijklmnopqrstuvwxyz0123456789") + "] }]\n")


def pinned(name: str) -> str:
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.lower().startswith(name + "=="):
            return line.split("==", 1)[1].strip()
    raise SystemExit(f"{name} is not pinned in constraints.txt")


def feedparser_corpus() -> Path:
    """feedparser's tests/ directory, downloaded and extracted once into the cache."""
    version = pinned("feedparser")
    tests = CACHE / f"feedparser-{version}" / "tests"
    if tests.is_dir():
        return tests
    CACHE.mkdir(parents=True, exist_ok=True)
    tarball = CACHE / f"feedparser-{version}.tar.gz"
    if not tarball.exists():
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
                        "-d", str(CACHE), f"feedparser=={version}"], check=True)
    with tarfile.open(tarball) as tar:
        members = [m for m in tar.getmembers() if m.isfile() and f"feedparser-{version}/tests/" in m.name]
        tar.extractall(CACHE, members=members, filter="data")
    return tests


def corpus_files(top: Path, limit: int | None) -> list[Path]:
    files = sorted(p for p in top.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
    return files[:limit] if limit else files


# -- feedparser's own count ----------------------------------------------------------------------

def feedparser_entries(path: Path) -> int:
    """Entries feedparser finds with a title or a text (what could be a story), a copy counted
    once: two entries with the same title and text (no id, or the same) are one story here,
    published once by design (feedparser's corpus has two such files)."""
    import feedparser

    def text(value: str) -> str:
        return html.unescape(re.sub(r"<[^>]*>", "", value or "")).strip()

    try:
        parsed = feedparser.parse(path.read_bytes())
    except Exception:  # noqa: BLE001 (feedparser's own failure: it found nothing)
        return 0
    seen = set()
    for e in parsed.entries:
        bodies = [c.get("value", "") for c in e.get("content", [])] + [e.get("summary", ""), e.get("title", "")]
        texts = tuple(text(b) for b in bodies)
        if any(texts):
            seen.add((e.get("id"), texts))
    return len(seen)


# -- dangerous markup --------------------------------------------------------------------------

_TAG = re.compile(r"<[a-zA-Z][^>]*>")
_SCRIPT = re.compile(r"<\s*script\b", re.I)
_HANDLER = re.compile(r"[\s\"'/]on[a-z]+\s*=", re.I)
_BAD_URL = re.compile(r"\b(?:href|src)\s*=\s*[\"']?\s*(?:javascript|data|vbscript)\s*:", re.I)


def dangerous_in(markup: str) -> list[str]:
    found = []
    for tag in _TAG.findall(markup):
        squeezed = re.sub(r"[\x00-\x20]+(?=[a-z:])", "", tag, flags=re.I) if "script" in tag.lower() else tag
        if _SCRIPT.match(tag):
            found.append("script")
        elif _HANDLER.search(tag):
            found.append("on*= handler")
        elif _BAD_URL.search(tag) or _BAD_URL.search(squeezed):
            found.append("javascript:/data: URL")
    return found


def dangerous_file(path: Path) -> list[str]:
    """What a reader or a browser would run: in a page its markup; in a feed also the HTML its
    elements carry escaped (content, summary, description), unescaped once."""
    text = path.read_text(encoding="utf-8", errors="replace")
    found = dangerous_in(text)
    if path.suffix in (".xml", ".json"):
        found += dangerous_in(html.unescape(text.replace("\\u003c", "<").replace('\\"', '"')))
    return found


# -- one batch ---------------------------------------------------------------------------------

class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def serving(directory: Path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def flat_name(path: Path, top: Path) -> str:
    name = "__".join(path.relative_to(top).parts)
    return name if name.lower().endswith((".xml", ".atom", ".rss", ".json")) else name + ".xml"


def validate(feeds: Path, base: str) -> tuple[Counter, Counter, list[str]]:
    env = {**os.environ, "PYTHON": sys.executable}
    proc = subprocess.run([str(VALIDATE), "--base", base, str(feeds)], capture_output=True, text=True, env=env,
                          check=False)
    errors, warnings, examples, current = Counter(), Counter(), [], ""
    for line in proc.stdout.splitlines():
        if line.startswith("=== "):
            current = line[4:]
        m = re.match(r"\s+(ERROR|WARN)\s+(.*?)(?:\s+\[(\w+)\])?$", line)
        if m:
            kind = m.group(3) or m.group(2)[:60]
            times = re.search(r"\((\d+) occurrences\)", m.group(2))
            (errors if m.group(1) == "ERROR" else warnings)[kind] += int(times.group(1)) if times else 1
            if len(examples) < 40:
                examples.append(f"{m.group(1)} {kind}: {Path(current).relative_to(feeds)}: {m.group(2)[:160]}")
    if proc.returncode == 2:
        errors[f"validator did not run: {proc.stderr.strip()[:200]}"] += 1
    return errors, warnings, examples


def run_batch(work: Path, top: Path, files: list[Path], way: str, www: Path, base: str | None) -> dict:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    names = {flat_name(p, top): p for p in files}
    if way == "files":
        extra = CATCH_ALL
        (work / "sources").mkdir()
        for name, path in names.items():
            shutil.copyfile(path, work / "sources" / name)
    else:
        extra = CATCH_ALL + "".join(f'\n[[sources.feeds]]\nurl = "{base}/{name}"\n' for name in names)
    config = project_config(work, extra=extra)
    text = config.read_text()
    config.write_text(re.sub(r"(?m)^max_entries = .*$", "max_entries = 1000", text))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "publisher.cli", "--config", str(config), "publish"],
                          capture_output=True, text=True, env=env, timeout=1800, check=False)
    seconds = time.perf_counter() - start
    stderr = proc.stderr
    tracebacks = stderr.count("Traceback") + stderr.count("Exception ignored in")
    crashed = proc.returncode not in (0, 1)
    db = sqlite3.connect(work / "publisher.db")
    by_source: dict[str, int] = {}
    rejected: Counter = Counter()
    for location, outcome, reason, stories in db.execute(
            "SELECT s.location, r.outcome, r.reason, r.stories FROM reads r JOIN sources s ON s.id = r.source"):
        name = location.rsplit("/", 1)[-1]
        by_source[name] = by_source.get(name, 0) + (stories or 0)
        if outcome in ("skipped", "failed"):
            rejected[re.sub(r"\d[\d,.]*", "N", (reason or outcome).split(":")[0])[:90]] += 1
    db.close()
    errors, warnings, examples = validate(work / "feeds", _base_url(config))
    dangerous: Counter = Counter()
    dangerous_examples = []
    for path in sorted((work / "feeds").rglob("*")):
        if path.is_file() and path.suffix in (".xml", ".json", ".html"):
            for kind in dangerous_file(path):
                dangerous[kind] += 1
                if len(dangerous_examples) < 10:
                    dangerous_examples.append(f"{kind}: {path.relative_to(work / 'feeds')}")
    trace_lines = [ln for ln in stderr.splitlines() if "Error" in ln and not ln.startswith("publisher")][:5]
    return {"files": len(files), "seconds": round(seconds, 1), "exit": proc.returncode, "crashed": crashed,
            "tracebacks": tracebacks, "traceback_lines": trace_lines if tracebacks else [],
            "rejected": rejected, "entries": {name: by_source.get(name, 0) for name in names},
            "errors": errors, "warnings": warnings, "examples": examples,
            "dangerous": dangerous, "dangerous_examples": dangerous_examples}


def _base_url(config: Path) -> str:
    return re.search(r'(?m)^base_url = "([^"]+)"', config.read_text()).group(1)


def run_set(label: str, top: Path, files: list[Path], batch: int) -> dict:
    expected = {flat_name(p, top): feedparser_entries(p) for p in files}
    www = scratch(f"realfeeds-{label}-www")
    for p in files:
        shutil.copyfile(p, www / flat_name(p, top))
    out = {}
    with serving(www) as base:
        for way in ("files", "http"):
            total = {"files": 0, "seconds": 0.0, "crashes": 0, "tracebacks": 0, "traceback_lines": [],
                     "rejected": Counter(), "errors": Counter(), "warnings": Counter(), "examples": [],
                     "dangerous": Counter(), "dangerous_examples": [], "entries": {}}
            for i in range(0, len(files), batch):
                part = run_batch(scratch(f"realfeeds-{label}-{way}") / "p", top, files[i: i + batch], way, www, base)
                total["files"] += part["files"]
                total["seconds"] += part["seconds"]
                total["crashes"] += part["crashed"]
                total["tracebacks"] += part["tracebacks"]
                for key in ("rejected", "errors", "warnings", "dangerous"):
                    total[key] += part[key]
                for key in ("traceback_lines", "examples", "dangerous_examples"):
                    total[key] = (total[key] + part[key])[:40]
                total["entries"].update(part["entries"])
                print(f"  {label} {way} {i + part['files']}/{len(files)}: exit {part['exit']}, "
                      f"{sum(part['entries'].values())} entries, {sum(part['errors'].values())} errors, "
                      f"{sum(part['warnings'].values())} warnings, {part['seconds']} s", flush=True)
            ours = total.pop("entries")
            fewer = {n: (ours.get(n, 0), expected[n]) for n in expected if ours.get(n, 0) < expected[n]}
            total["entries"] = sum(ours.values())
            total["feedparser_entries"] = sum(expected.values())
            total["files_with_fewer"] = len(fewer)
            total["fewer_examples"] = [f"{n}: {a} < {b}" for n, (a, b) in sorted(fewer.items())[:30]]
            total["seconds"] = round(total["seconds"], 1)
            out[way] = total
    return out


def goals(res: dict) -> dict:
    return {"crashes": res["crashes"] == 0, "tracebacks": res["tracebacks"] == 0,
            "errors": sum(res["errors"].values()) == 0, "warnings": sum(res["warnings"].values()) == 0,
            "entries": res["entries"] >= res["feedparser_entries"], "dangerous": sum(res["dangerous"].values()) == 0}


def counted(c: Counter) -> str:
    return ", ".join(f"{k} {v}" for k, v in c.most_common()) or "none"


def markdown(doc: dict) -> str:
    md = [f"Real-world feeds: {doc['machine']}; feedparser {doc['feedparser']}; commit {doc['commit']}; {doc['when']}",
          ""]
    for label, ways in doc["sets"].items():
        md += [f"## {label} ({ways['files']['files']} files)", "",
               "| figure | goal | from sources/ | polled over HTTP |", "| --- | --- | ---: | ---: |"]
        f, h = ways["files"], ways["http"]
        rows = [("crashes", "0", "crashes"), ("tracebacks", "0", "tracebacks")]
        for name, goal, key in rows:
            md.append(f"| {name} | {goal} | {f[key]} | {h[key]} |")
        md.append(f"| rejected | - | {sum(f['rejected'].values())} | {sum(h['rejected'].values())} |")
        md.append(f"| entries (feedparser's) | >= feedparser's | {f['entries']} ({f['feedparser_entries']}) | "
                  f"{h['entries']} ({h['feedparser_entries']}) |")
        md.append(f"| files with fewer entries than feedparser | 0 | {f['files_with_fewer']} | {h['files_with_fewer']} |")
        for key in ("errors", "warnings", "dangerous"):
            md.append(f"| validator {key} | 0 | {sum(f[key].values())} | {sum(h[key].values())} |"
                      if key != "dangerous" else
                      f"| dangerous markup | 0 | {sum(f[key].values())} | {sum(h[key].values())} |")
        md.append(f"| seconds | - | {f['seconds']} | {h['seconds']} |")
        md.append("")
        for way, res in ways.items():
            met = [k for k, ok in goals(res).items() if not ok]
            md += [f"{way}: goals {'all met' if not met else 'NOT met: ' + ', '.join(met)}.",
                   f"- rejected by reason: {counted(res['rejected'])}",
                   f"- validator errors by type: {counted(res['errors'])}",
                   f"- validator warnings by type: {counted(res['warnings'])}",
                   f"- dangerous: {counted(res['dangerous'])}"]
            if res["tracebacks"]:
                md.append(f"- traceback lines: {res['traceback_lines'][:5]}")
            if res["examples"]:
                md.append("- first validator messages: " + "; ".join(res["examples"][:8]))
            if res["fewer_examples"]:
                md.append("- fewer entries than feedparser (ours < theirs): " + "; ".join(res["fewer_examples"][:12]))
            md.append("")
    return "\n".join(md) + "\n"


def main() -> int:
    ap = parser(__doc__)
    ap.add_argument("--limit", type=int, default=None, help="only the first N files of each corpus")
    ap.add_argument("--batch", type=int, default=300, help="files per published project")
    ap.add_argument("--extra", type=Path, default=None, metavar="DIR", help="another corpus, reported apart")
    args = ap.parse_args()
    from importlib.metadata import version

    corpora = {"feedparser tests": feedparser_corpus()}
    if args.extra:
        corpora["extra: " + args.extra.name] = args.extra
    doc = {**stamp(), "commit": commit(mark_dirty=True), "feedparser": pinned("feedparser"),
           "version_installed": version("feedparser"), "limit": args.limit, "sets": {}}
    for i, (label, top) in enumerate(corpora.items()):
        files = corpus_files(top, args.limit)
        print(f"{label}: {len(files)} files from {top}", flush=True)
        doc["sets"][label] = run_set(f"set{i}", top, files, args.batch)
    md = markdown(doc)
    write_results(args.out, "realfeeds", doc, md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
