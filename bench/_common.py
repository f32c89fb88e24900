"""What every bench shares: paths, the publisher internals they use, the stamp and files of a
result, and their scratch set-up (projects, configs, a `publisher run`, child processes).

A bench script imports this before anything of publisher's (bench/, the script's own directory,
is on sys.path when it runs; the tests put it there too, for bench/harness/ and bench/corpus.py).
Importing it puts the repository root on sys.path, so the publisher package is found even when
it is not installed.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import platform
import re
import resource
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"  # where results go unless a bench is given --out
WORK = ROOT / "bench" / "work"  # scratch projects and corpora (git-ignored)
# the shipped config (topics, site, limits), as frozen for the tests: the checkout's config.toml
# is the user's (`publisher add` appends feeds to it), and a bench must not poll them
CONFIG = ROOT / "tests" / "data" / "config.toml"
BIN = Path(sys.executable).parent / "publisher"  # the command, as installed beside this Python

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the publisher package, even when not installed

# -- publisher internals -----------------------------------------------------------------------
# Every name of the publisher package that a bench uses (beyond the `publisher` command), and
# where it lives: when the package moves one, this table is the one place to change. Benches
# take them from here (`from _common import Store`), never from publisher.* themselves. Each is
# imported when first asked for, not with this module: a bench's driver process stays small and
# each measuring child loads only what it uses (ru_maxrss survives fork + exec, and a child's
# peak RSS is a reported figure).
PUBLISHER = {  # name: (module, attribute in it; None: the module itself)
    "load": ("publisher.config", "load"),
    "parse": ("publisher.config", "parse"),
    "dedup": ("publisher.dedup", None),
    "fingerprint": ("publisher.dedup", "fingerprint"),
    "normalise": ("publisher.dedup", "normalise"),
    # the module in which ingest looks `fingerprint` up (bench/dedup.py times it by replacing it there)
    "fingerprint_module": ("publisher.dedup", None),
    "PublishReport": ("publisher.report", "PublishReport"),
    "publish": ("publisher.publish", "publish"),
    "ingest": ("publisher.ingest", "ingest_files"),  # every source file (or `only` these) into the store
    "ingest_file": ("publisher.ingest", "ingest_file"),
    "classify_entries": ("publisher.ingest", "classify_entries"),
    "feed_specs": ("publisher.site", "feed_specs"),
    "write_feeds": ("publisher.site", "write_feeds"),
    "site": ("publisher.site", None),  # bench/publish.py: write_all and what it writes
    "html": ("publisher.render.html", None),
    "entry_rules": ("publisher.entries", None),
    "render_opml": ("publisher.render.opml", "render_opml"),
    "atomic": ("publisher.atomic", None),
    "serve": ("publisher.serve", None),
    "changes": ("publisher.changes", None),
    "render": ("publisher.render.feeds", "render"),
    "content_html": ("publisher.render.text", "content_html"),
    "summary_text": ("publisher.render.text", "summary_text"),
    "wire": ("publisher.sources.wire", None),
    "boundaries": ("publisher.sources.boundaries", None),
    "read_file": ("publisher.sources", "read_file"),
    "topic_scorer": ("publisher.classify", "topic_scorer"),
    "SourceFile": ("publisher.sources.files", "SourceFile"),
    "list_sources": ("publisher.sources.files", "list_sources"),
    "Store": ("publisher.store", "Store"),
    # bench/scale.py: the modules whose functions it times by wrapping them, and the CLI itself
    "ingest_module": ("publisher.ingest", None),
    "site_module": ("publisher.site", None),
    "write_all": ("publisher.site", "write_all"),
    "cli_main": ("publisher.cli", "main"),
}


def _internal(name: str):
    module, attribute = PUBLISHER[name]
    value = importlib.import_module(module)
    return value if attribute is None else getattr(value, attribute)


def __getattr__(name: str):  # `from _common import Store`: the table above, on first use
    if name not in PUBLISHER:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = globals()[name] = _internal(name)
    return value


# -- results -----------------------------------------------------------------------------------

def parser(doc: str) -> argparse.ArgumentParser:
    """A bench's command line: described by the first paragraph of its docstring, with --out DIR,
    where its NAME.json and NAME.md go (bench/results; a trial run gives a temp dir, so that its
    small figures do not replace the recorded ones)."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=RESULTS, metavar="DIR",
                    help="directory for the results files (default: bench/results)")
    return ap


def options(doc: str, **defaults: float) -> argparse.Namespace:
    """The parsed command line of parser(doc) with an option --NAME for each default given,
    of the default's type."""
    ap = parser(doc)
    for name, default in defaults.items():
        ap.add_argument(f"--{name}", type=type(default), default=default)
    return ap.parse_args()


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def machine_line() -> str:
    """The machine in a few words, as the first line of a results file says it."""
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def stamp() -> dict:
    """`when` and `machine`, the first keys of a results document."""
    return {"when": now_iso(), "machine": machine_line()}


def commit(mark_dirty: bool = False) -> str:
    """The checkout's short commit; with mark_dirty, "+dirty publisher/" when publisher/ has
    uncommitted changes (the figures are then of code no commit holds)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True).stdout.strip()

    dirty = mark_dirty and git("status", "--porcelain", "publisher")
    return git("rev-parse", "--short", "HEAD") + ("+dirty publisher/" if dirty else "")


def machine_info(*packages: str, mark_dirty: bool = False) -> dict:
    """The machine in full: Python, platform, CPU, SQLite, the versions of `packages` (keys with
    "_" for "-"), the commit."""
    cpuinfo = Path("/proc/cpuinfo")
    model = next((ln.split(":", 1)[1].strip() for ln in cpuinfo.read_text().splitlines()
                  if ln.startswith("model name")), platform.processor()) if cpuinfo.exists() else ""
    return {"python": platform.python_version(), "platform": platform.platform(), "cpu": model,
            "cpu_count": os.cpu_count(), "sqlite": sqlite3.sqlite_version,
            **{name.replace("-", "_"): version(name) for name in packages}, "commit": commit(mark_dirty)}


def write_results(out: Path, name: str, doc: dict, md: str, *, indent: int = 2) -> tuple[Path, Path]:
    """out/NAME.json (the document) and out/NAME.md (the text as given); returns both paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = out / f"{name}.json", out / f"{name}.md"
    paths[0].write_text(json.dumps(doc, indent=indent, ensure_ascii=False) + "\n", encoding="utf-8")
    paths[1].write_text(md, encoding="utf-8")
    return paths


# -- memory ------------------------------------------------------------------------------------

def peak_rss_mb(children: bool = False) -> float:
    """Peak RSS in MB of this process, or (children) of the largest child waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF)
    return usage.ru_maxrss / 1024  # Linux: KiB


def vm_hwm_mb() -> float | None:
    """Peak RSS of this process image per /proc (reset by exec, unlike ru_maxrss, which survives
    fork + exec and so can show the parent's size: why a driver stays small and measures in
    children): a cross-check."""
    status = Path("/proc/self/status")
    lines = status.read_text().splitlines() if status.exists() else []
    return next((int(ln.split()[1]) / 1024 for ln in lines if ln.startswith("VmHWM:")), None)


# -- scratch -----------------------------------------------------------------------------------

def scratch(name: str) -> Path:
    """bench/work/NAME, emptied and made again: a bench's scratch project."""
    path = WORK / name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


@contextlib.contextmanager
def temp_scratch(prefix: str, keep: bool = False) -> Iterator[Path]:
    """A new directory under bench/work/, removed afterwards with bench/work/ itself when nothing
    else is in it (unless keep: then its path is printed)."""
    WORK.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=WORK))
    try:
        yield path
    finally:
        if keep:
            print(f"kept {path}")
        else:
            shutil.rmtree(path, ignore_errors=True)
            with contextlib.suppress(OSError):
                WORK.rmdir()


def project_config(root: Path, *, port: int | None = None, settle: float | None = None,
                   interval: float | None = None, extra: str = "") -> Path:
    """root/config.toml: the shipped config with only the settings given changed (port 0: any
    free port; another port also sets base_url to it), `extra` appended; and root/sources/.
    Returns the config's path."""
    text = CONFIG.read_text()
    if port is not None:
        text = re.sub(r"(?m)^port = 8080$", f"port = {port}", text)
        if port:
            text = re.sub(r"(?m)^base_url = .*$", f'base_url = "http://127.0.0.1:{port}/"', text)
    if settle is not None:
        text = re.sub(r"(?m)^settle_seconds = .*$", f"settle_seconds = {settle}", text)
    if interval is not None:
        text = re.sub(r"(?m)^interval_seconds = .*$", f"interval_seconds = {interval}", text)
    (root / "sources").mkdir(parents=True, exist_ok=True)
    path = root / "config.toml"
    path.write_text(text + extra)
    return path


def shipped_config(root: Path, sources: Path | None = None, database: Path | None = None):
    """The shipped config (dedup settings, topics, site) as a publisher Config, in this process,
    with its paths moved: sources (root/sources), root/feeds, database (root/publisher.db)."""
    root = root.resolve()
    raw = tomllib.loads(CONFIG.read_text(encoding="utf-8"))
    raw["paths"] = {"sources": str((sources or root / "sources").resolve()), "feeds": str(root / "feeds"),
                    "database": str((database or root / "publisher.db").resolve())}
    return _internal("parse")(raw, root / "config.toml")


# -- processes and servers ---------------------------------------------------------------------

def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (for servers that must be told their port)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, timeout: float = 10, proc: subprocess.Popen | None = None,
                  name: str = "the server") -> None:
    """Until `url` answers (any HTTP status is an answer); RuntimeError when `proc` exits first
    (with its output, if piped) or after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except urllib.error.HTTPError:
            return  # it answers (a 404 is an answer)
        except OSError:
            if proc is not None and proc.poll() is not None:
                output = proc.stdout.read() if proc.stdout else b""
                output = output.decode(errors="replace") if isinstance(output, bytes) else output
                raise RuntimeError(f"{name} exited: {output}") from None
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start within {timeout:g} s") from None
            time.sleep(0.05)


def start_service(config: Path) -> tuple[subprocess.Popen, str]:
    """`publisher run` on `config`, its stderr in service.log beside it, once it has said where it
    serves: (the process, its base URL)."""
    with open(config.parent / "service.log", "wb") as log:
        proc = subprocess.Popen([str(BIN), "--config", str(config), "run"], stdout=subprocess.PIPE, stderr=log,
                                text=True)
    first = proc.stdout.readline()
    m = re.match(r"publisher: serving (http://\S+)/ ", first)
    if not m:
        proc.kill()
        proc.wait(10)
        raise RuntimeError(f"publisher run did not start ({first!r}); see {config.parent / 'service.log'}")
    return proc, m.group(1)


def run_child(script: str, mode: str, root: Path, args: list, timeout: float, *,
              capture_stderr: bool = False) -> dict:
    """`script --child MODE ROOT ARGS...` in a fresh Python process (so its peak RSS is its own);
    returns the JSON of its last stdout line. Its stderr goes to ours, or is captured and its
    last line told if it fails."""
    cmd = [sys.executable, script, "--child", mode, str(root), *map(str, args)]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE if capture_stderr else None,
                          text=True, timeout=timeout, check=False)
    if proc.returncode:
        last = (proc.stderr.strip().splitlines() or ["?"])[-1] if capture_stderr else ""
        raise RuntimeError(f"{mode} {' '.join(map(str, args))} failed (exit {proc.returncode})"
                           + (f": {last}" if last else ""))
    return json.loads(proc.stdout.splitlines()[-1])


def stories_at_blank_lines() -> None:
    """Split generated wire files at blank lines only, as the reader did before it scored gaps
    inside runs of paragraphs. The generated corpora of dedup and pipeline separate stories by
    blank lines and their pseudo-word paragraphs have none of real copy's lexical cohesion, so
    the gap score would split their stories; those benches measure dedup and ingest, not
    segmentation (bench/understanding.py measures that, on real-language copy)."""
    _internal("boundaries").THRESHOLD = float("inf")
