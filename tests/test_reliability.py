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

import pytest

from conftest import SEED
from corpus import BILLION_LAUGHS, stories_text  # noqa: F401 - tests/test_feed.py takes BILLION_LAUGHS from here
from harness.checks import assert_feeds_whole
from publisher.faults import POINTS

BIN = Path(sys.executable).parent / "publisher"
# (point, which hit): early, middle and late in a run, in every stage. Each run goes on
# (ingest.file counts the files read: one the store has, unchanged, is passed over before it)
# from what the killed ones left.
CRASH_PLAN = [
    ("ingest.file", 1), ("ingest.file", 40), ("ingest.file", 70), ("ingest.commit", 1), ("ingest.file", 20),
    ("ingest.commit", 2), ("classify.commit", 1), ("write.temp", 1), ("pages.written", 1), ("write.renamed", 1),
    ("write.temp", 4), ("write.renamed", 5), ("write.temp", 9), ("pages.written", 1), ("write.renamed", 7),
    ("write.temp", 6), ("ingest.file", 5), ("write.renamed", 2), ("write.temp", 2), ("classify.commit", 1),
    ("write.temp", 7), ("write.renamed", 9),
]


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


# -- HTTP under load while re-publishing -------------------------------------------------------

def test_under_load_while_republishing_every_answer_is_whole_and_its_etag_its_own(running, seed, tmp_path):
    from harness.load import run_load
    from service_harness import write_atomically

    service = running()
    write_atomically(tmp_path / "sources" / "seed.txt", seed)
    service.wait_for({"all": 5})
    figures = run_load(service.base, tmp_path / "sources", seconds=10, concurrency=50,
                       texts=stories_text(40, seed=5), republish_every=0.5, slow=100)
    assert figures.failed == 0, figures.errors
    assert figures.bad_bodies == 0 and figures.bad_etags == 0, figures.errors
    assert figures.requests > 1000 and figures.ok_200 > 100 and figures.not_modified > 100
    assert figures.republished >= 15 and figures.distinct_versions >= 10  # the feed did change meanwhile
    assert figures.slow_clients == 100 and figures.probe_worst_seconds < 2  # and stayed responsive
    assert service.proc.poll() is None


@pytest.mark.parametrize("target, headers", [
    ("/" + "a" * 100_000, {}),
    ("/all/atom.xml", {f"X-H{i}": "v" * 1000 for i in range(200)}),
    ("/all/atom.xml", {"X-Big": "v" * 200_000}),
])
def test_very_long_paths_and_headers_are_refused_and_the_server_stays_up(running, target, headers):
    from conftest import raw_request

    service = running()
    service.wait_log("schedule run:")
    try:
        status, _, body = raw_request(service.base, target, headers=headers)
        # a real feed may be served whatever the headers; a 100 KB path is not a file
        assert status in ((200, 400, 413, 431) if target == "/all/atom.xml" else (400, 404, 414))
    except (ConnectionError, OSError):
        pass  # the server may simply close such a connection
    assert service.get("/healthz").status_code == 200 and service.proc.poll() is None


# -- status, publish and run at once -----------------------------------------------------------

def test_status_publish_and_run_at_once_never_see_a_locked_database_nor_lose_an_update(running, tmp_path):
    import threading
    import time

    from service_harness import write_atomically

    service = running(settle=0.2)
    service.wait_log("schedule run:")
    texts = stories_text(60, seed=9)
    outputs: list[subprocess.CompletedProcess] = []
    guard = threading.Lock()
    until = time.monotonic() + 8

    def command(*args):
        while time.monotonic() < until:
            proc = subprocess.run([str(BIN), "--config", str(service.config), *args], capture_output=True, text=True,
                                  timeout=120)
            with guard:
                outputs.append(proc)

    def writer():
        for i, text in enumerate(texts):
            write_atomically(tmp_path / "sources" / f"c{i:03}.txt", (text + "\n").encode())
            time.sleep(0.1)

    threads = [threading.Thread(target=command, args=("publish", "--wait", "60")) for _ in range(2)]
    threads += [threading.Thread(target=command, args=("status", "--json")) for _ in range(2)]
    threads.append(threading.Thread(target=writer))
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    assert len(outputs) >= 8
    for proc in outputs:
        assert proc.returncode == 0, proc.stderr
        assert "locked" not in proc.stderr.lower()
    final = subprocess.run([str(BIN), "--config", str(service.config), "publish"], capture_output=True, text=True,
                           timeout=120)
    assert final.returncode == 0
    doc = json.loads(subprocess.run([str(BIN), "--config", str(service.config), "status", "--json"],
                                    capture_output=True, text=True, timeout=60).stdout)
    assert doc["entries"] == len(texts)  # every story once: none lost, none twice
    assert service.proc.poll() is None


# -- hostile sources ---------------------------------------------------------------------------

def hostile_sources(project, tmp_path) -> list[str]:
    """Write every kind of bad input into sources/; returns the names expected in problem lines."""
    add = project.add_source
    add("random.bin.txt", random.Random(1).randbytes(20_000))
    add("invalid-utf8.txt", b"Kyiv \xff\xfe\xfa said \xc3\x28 on Monday that " * 50 + b"\n")
    add("surrogates.txt", b"Taipei \xed\xa0\x80\xed\xb0\x80 lone surrogates.\n")
    add("nul-and-controls.txt", b"Ukraine\x00 said\x01\x02\x1b[31m on Monday\x7f.\n" * 10)
    add("one-long-line.txt", b"Kyiv " + b"word " * 250_000 + b"\n")
    huge = project.sources / "huge.txt"
    with open(huge, "wb") as f:
        f.truncate(40 * 1024 * 1024)  # sparse: 40 MB that take no disk
    add("/".join(f"d{i}" for i in range(60)) + "/deep.txt", "A story in a deep directory about nothing.\n")
    add("name with spaces.txt", "")
    add("new\nline.txt", b"\x00\x00\x00")
    add("ünïcødé.txt", "")
    raw = os.fsencode(project.sources) + b"/caf\xe9.txt"
    with open(raw, "wb") as f:
        f.write(b"\x00binary")
    (project.sources / "passwd-link.txt").symlink_to("/etc/passwd")
    (project.sources / "outside-dir").symlink_to("/etc")
    add("laughs.xml", BILLION_LAUGHS)
    add("xxe.rss", b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><rss version="2.0">'
                   b"<channel><title>t</title><item><title>x</title><description>&x;</description></item></channel></rss>")
    add("malformed.atom", b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><entry><title>a</ti')
    add("wrong-encoding.xml", '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
                              "<item><title>Caf\xe9 in Kyiv</title><description>Ukraine caf\xe9 story.</description>"
                              "</item></channel></rss>".encode("latin-1"))
    add("deep.json", b'{"version": "https://jsonfeed.org/version/1.1", "items": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    return ["random.bin.txt", "huge.txt", "name with spaces.txt", "\\n", "ünïcødé.txt", "caf\\xe9.txt",
            "laughs.xml", "malformed.atom", "deep.json", "passwd-link.txt", "outside-dir"]


def test_hostile_sources_are_one_line_each_and_nothing_published_is_lost(project, seed, tmp_path):
    import resource
    import time

    project.add_source(SEED.name, seed)
    assert publish(project).returncode == 0
    published = committed(project)
    names = hostile_sources(project, tmp_path)
    start = time.monotonic()
    proc = publish(project)
    seconds = time.monotonic() - start
    assert proc.returncode in (0, 1) and "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.splitlines()
    for name in names:
        assert len([line for line in lines if name in line]) >= 1, (name, lines)
    by_file = {}
    for line in lines:
        by_file.setdefault(line.split(": ", 1)[0], []).append(line)
    assert all(len(v) <= 2 for v in by_file.values()), by_file  # a problem line (and maybe a warning) each
    assert not any("passwd" in line and "root:" in line for line in lines)
    now = committed(project)
    assert all(now[k] == v for k, v in published.items())  # nothing already published lost
    ids = assert_feeds_whole(project)
    assert set(published) <= ids
    for path in project.feeds.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert b"root:x:0:0" not in data and b"lollollol" not in data
    assert seconds < 60
    child_rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    assert child_rss_mb < 600  # bounded memory for all of it


# -- inputs that are not regular files ---------------------------------------------------------

def cli(project, *args: str) -> subprocess.CompletedProcess:
    """The CLI in a subprocess with a guard: an open() that blocks is a TimeoutExpired (a failed
    test), not a hung CI."""
    return subprocess.run([str(BIN), "--config", str(project.config_path), *args], capture_output=True, text=True,
                          timeout=30)


def test_a_fifo_in_sources_is_one_line_and_the_other_files_are_published(project, seed):
    project.add_source(SEED.name, seed)
    os.mkfifo(project.sources / "zzz.txt")
    proc = cli(project, "publish")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines() == ["zzz.txt: skipped: not a regular file"]
    assert len(assert_feeds_whole(project)) == 5
    again = cli(project, "publish")
    assert (again.returncode, again.stderr) == (0, "")  # said once, like any skipped file
    status = json.loads(cli(project, "status", "--json").stdout)
    assert {s["path"]: (s["outcome"], s["reason"]) for s in status["sources"]}["zzz.txt"] == (
        "skipped", "not a regular file")


# `mkfifo sources/.f; mv sources/.f sources/zzz.txt` just after a run listed the directory
SWAP_IN_A_FIFO_AFTER_LISTING = """
import os, sys
from publisher import cli, ingest

listed = ingest.list_sources

def list_then_swap(root, *args, **kwargs):
    files = listed(root, *args, **kwargs)
    os.mkfifo(root / ".f")
    os.replace(root / ".f", root / "zzz.txt")
    return files

ingest.list_sources = list_then_swap
sys.exit(cli.main(sys.argv[1:]))
"""


def test_a_fifo_swapped_in_after_the_listing_does_not_block_the_publish(project, seed):
    project.add_source(SEED.name, seed)
    project.add_source("zzz.txt", stories_text(1)[0] + "\n")
    assert cli(project, "publish").returncode == 0
    published = assert_feeds_whole(project)
    project.add_source("later.txt", stories_text(2)[1] + "\n")
    proc = subprocess.run([sys.executable, "-c", SWAP_IN_A_FIFO_AFTER_LISTING, "--config", str(project.config_path),
                           "publish"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines() == ["zzz.txt: skipped: not a regular file"]
    assert published < assert_feeds_whole(project)  # the later file is out; zzz.txt's story stays


@pytest.mark.parametrize("output", ["feeds.opml", "all/atom.xml"])
def test_a_fifo_in_place_of_an_output_file_does_not_block_a_publish_and_is_replaced(project, seed, output):
    project.add_source(SEED.name, seed)
    assert cli(project, "publish").returncode == 0
    path = project.feeds / output
    before = path.read_bytes()
    path.unlink()
    os.mkfifo(path)
    proc = cli(project, "publish")
    assert (proc.returncode, proc.stderr) == (0, "")
    assert path.is_file() and path.read_bytes() == before  # a regular file again, the same bytes


def test_links_out_of_sources_and_loops_are_one_line_each_and_never_read(project, seed):
    from datetime import timedelta

    from conftest import NOW

    project.add_source(SEED.name, seed)
    for name, target in [("shadow.txt", "/etc/shadow"), ("environ.txt", "/proc/self/environ"), ("etc", "/etc"),
                         ("loop.txt", "loop.txt")]:
        (project.sources / name).symlink_to(target)
    report = project.publish()
    assert report.ok
    assert report.problems() == ["environ.txt: skipped: outside sources/", "etc: skipped: outside sources/",
                                 "loop.txt: skipped: symlink loop", "shadow.txt: skipped: outside sources/"]
    assert project.publish(NOW + timedelta(hours=1)).problems() == []  # said once, not every run
    assert len(assert_feeds_whole(project)) == 5


@pytest.mark.parametrize("when", ["before its stat", "before its read"])
def test_a_file_deleted_between_listing_and_reading_is_not_a_failure(project, seed, monkeypatch, when):
    from publisher import ingest

    project.add_source(SEED.name, seed)
    gone = project.add_source("gone.txt", stories_text(1)[0] + "\n")
    if when == "before its stat":
        listed = ingest.list_sources

        def list_then_delete(root, *args, **kwargs):
            files = listed(root, *args, **kwargs)
            gone.unlink()
            return files

        monkeypatch.setattr(ingest, "list_sources", list_then_delete)
    else:
        read = ingest.read_bytes

        def delete_then_read(source, limit):  # the read seam (a SourceFile; a Path before, whose .name is the same)
            if source.name == "gone.txt":
                gone.unlink()
            return read(source, limit)

        monkeypatch.setattr(ingest, "read_bytes", delete_then_read)
    report = project.publish()
    assert report.ok and report.problems() == []
    assert [s.name for s in report.sources] == [SEED.name]
    assert len(assert_feeds_whole(project)) == 5


def test_status_forgets_a_removed_file_and_its_stories_stay_published(project, seed):
    from datetime import timedelta

    from conftest import NOW
    from publisher.status import status

    project.add_source(SEED.name, seed)
    extra = project.add_source("extra.txt", stories_text(1)[0] + "\n")
    project.publish()
    published = assert_feeds_whole(project)
    assert len(published) == 6
    assert [s["path"] for s in status(project.config, NOW)["sources"]] == [SEED.name, "extra.txt"]
    extra.unlink()
    assert [s["path"] for s in status(project.config, NOW)["sources"]] == [SEED.name]
    report = project.publish(NOW + timedelta(hours=1))
    assert report.ok and report.problems() == []
    assert assert_feeds_whole(project) == published  # its story stays published


def test_under_run_a_fifo_in_sources_is_one_line_and_later_files_are_still_published(running, seed, tmp_path):
    from service_harness import write_atomically

    service = running()
    service.wait_for({"all": 0})
    sources = tmp_path / "sources"
    os.mkfifo(sources / ".f")
    os.replace(sources / ".f", sources / "zzz.txt")
    service.wait_log("zzz.txt: skipped: not a regular file")
    write_atomically(sources / "later.txt", seed)
    service.wait_for({"all": 5}, timeout=5)
    assert [line for line in service.log_text().splitlines() if "zzz.txt" in line] == [
        line for line in service.log_text().splitlines() if "zzz.txt: skipped: not a regular file" in line]
    code, seconds = service.stop()  # SIGTERM
    assert code == 0 and seconds < 10


# -- write failures ----------------------------------------------------------------------------

@pytest.mark.parametrize("errno_, message", [(13, "Permission denied"), (28, "No space left on device")])
def test_a_failing_write_leaves_the_previous_feeds_and_the_next_run_recovers(project, seed, monkeypatch,
                                                                             errno_, message):
    import builtins

    from conftest import NOW
    from datetime import timedelta

    project.add_source(SEED.name, seed)
    assert project.publish().ok
    before = project.site_bytes()
    project.add_source("news.txt", stories_text(1)[0] + "\n")
    real_open = builtins.open

    def failing_open(file, mode="r", *args, **kwargs):
        # CI runs as root, where permission bits stop nothing: the error is injected
        if "w" in mode and str(project.feeds) in str(file):
            raise OSError(errno_, message, str(file))
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", failing_open)
    report = project.publish(NOW + timedelta(hours=1))
    monkeypatch.undo()
    assert not report.ok and report.errors
    assert all(line.endswith(f"cannot write: {message}") for line in report.errors), report.errors
    assert project.site_bytes() == before  # every published file as it was
    assert not list(project.feeds.rglob(".*.tmp"))
    again = project.publish(NOW + timedelta(hours=2))
    assert again.ok, again.problems()
    assert len(assert_feeds_whole(project)) == 6  # the new story is out now
