"""`publisher run`: the service as people run it, in a subprocess, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import httpx
import pytest

import disk_full
from conftest import SEED
from publisher.service import Settler, health
from service_harness import BIN, FEEDS, NEW_STORY, service_config, write_atomically

# -- files dropped into sources/ ---------------------------------------------------------------

def test_a_seed_dropped_into_sources_is_served_within_5_seconds(running, seed, tmp_path):
    service = running()
    service.wait_for({"ukraine": 0, "taiwan-security": 0, "all": 0})
    (tmp_path / "sources" / SEED.name).write_bytes(seed)
    service.wait_for({"ukraine": 1, "taiwan-security": 4, "all": 5}, timeout=5)
    service.wait_log("watch run: 1 files read")


def test_a_file_written_in_two_parts_with_a_pause_is_published_whole(running, seed, tmp_path):
    service = running(settle=1.0)
    service.wait_for({"all": 0})
    half = seed.index(b"\n", len(seed) // 2) + 20  # mid-line: the first half ends mid-sentence
    with open(tmp_path / "sources" / "slow.txt", "wb") as f:
        f.write(seed[:half])
        f.flush()
        time.sleep(0.6)
        f.write(seed[half:])
    service.wait_for({"ukraine": 1, "taiwan-security": 4, "all": 5}, timeout=5)
    # read once, whole: no revision (a half read first would have been revised by the whole)
    assert service.metric('publisher_source_files_total{outcome="new"}') == 1
    assert service.metric('publisher_stories_total{outcome="revised"}') == 0
    assert service.metric('publisher_stories_total{outcome="new"}') == 5


def test_a_renamed_part_file_is_picked_up_without_waiting_to_settle(running, seed, tmp_path):
    service = running(settle=3.0)
    service.wait_for({"all": 0})
    (tmp_path / "sources" / "drop.txt.part").write_bytes(seed)
    time.sleep(0.5)
    assert service.entries("all") == []  # a .part file is never read
    os.replace(tmp_path / "sources" / "drop.txt.part", tmp_path / "sources" / "drop.txt")
    assert service.wait_for({"all": 5}, timeout=2.5) < 2.5  # well before settle_seconds


def test_a_second_file_adds_only_its_new_stories(running, seed, tmp_path):
    service = running()
    write_atomically(tmp_path / "sources" / "a.txt", seed)
    service.wait_for({"ukraine": 1, "taiwan-security": 4, "all": 5})
    ids = {e.id for e in service.entries("all")}
    first_line = seed.decode().splitlines()[0]
    write_atomically(tmp_path / "sources" / "b.txt", (first_line + "\n" + NEW_STORY).encode())
    service.wait_for({"ukraine": 2, "taiwan-security": 4, "all": 6})
    after = {e.id for e in service.entries("all")}
    assert ids < after and len(after - ids) == 1


def test_a_bad_file_is_one_log_line_and_the_service_keeps_serving(running, seed, tmp_path):
    service = running()
    write_atomically(tmp_path / "sources" / "a.txt", seed)
    service.wait_for({"all": 5})
    write_atomically(tmp_path / "sources" / "binary.txt", bytes(range(256)) * 40)
    service.wait_log("binary.txt: skipped:")
    assert [line for line in service.log_text().splitlines() if "binary.txt" in line] == [
        line for line in service.log_text().splitlines() if "binary.txt: skipped:" in line]
    assert len(service.entries("all")) == 5
    assert service.get("/healthz").status_code == 200


# -- status, health, metrics, logs -------------------------------------------------------------

def test_healthz_says_ok_with_the_last_and_next_run(running):
    service = running()
    service.wait_log("schedule run:")
    r = service.get("/healthz")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    doc = r.json()
    assert doc["status"] == "ok"
    last, nxt = (datetime.fromisoformat(doc[k].replace("Z", "+00:00")) for k in ("last_run", "next_run"))
    assert timedelta(seconds=250) < nxt - last <= timedelta(seconds=300)


def test_metrics_are_prometheus_text(running, seed, tmp_path):
    service = running()
    write_atomically(tmp_path / "sources" / "a.txt", seed)
    service.wait_for({"all": 5})
    r = service.get("/metrics")
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    for name in ("publisher_runs_total", "publisher_stories_total", "publisher_sources_failed_total",
                 "publisher_feeds_written_total", "publisher_last_success_timestamp_seconds",
                 "publisher_http_requests_total"):
        assert f"# TYPE {name.removesuffix('_total')}" in r.text, name
    assert service.metric('publisher_stories_total{outcome="new"}') == 5
    assert service.metric("publisher_feeds_written_total") >= 6
    assert abs(service.metric("publisher_last_success_timestamp_seconds") - time.time()) < 60


def test_status_while_running_shows_the_service_and_its_next_run(running, seed, tmp_path):
    service = running()
    write_atomically(tmp_path / "sources" / "a.txt", seed)
    service.wait_for({"all": 5})
    service.wait_log("schedule run:")
    proc = subprocess.run([str(BIN), "--config", str(service.config), "status", "--json"], capture_output=True,
                          text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["service"]["running"] == service.proc.pid
    assert doc["service"]["next_run"] and doc["service"]["last_run"]
    assert doc["topics"] == {"ukraine": 1, "taiwan-security": 4} and doc["merged"] == {"all": 5}
    assert [(s["path"], s["outcome"]) for s in doc["sources"]] == [("a.txt", "new")]
    text = subprocess.run([str(BIN), "--config", str(service.config), "status"], capture_output=True,
                          text=True, timeout=30).stdout
    assert f"service: running (pid {service.proc.pid})" in text


def test_one_log_line_per_run(running, seed, tmp_path):
    service = running()
    service.wait_log("schedule run:")
    write_atomically(tmp_path / "sources" / "a.txt", seed)
    service.wait_for({"all": 5})
    service.wait_log("watch run:")
    runs = [line for line in service.log_text().splitlines() if " run: " in line]
    assert len(runs) == 2
    assert re.search(r"watch run: 1 files read \(0 skipped, 0 failed, 0 unchanged\); 5 stories "
                     r"\(5 new, 0 revised, 0 duplicate\); (9|10) of 10 feed files and 9 of 9 pages written in \d", runs[1])


def test_publish_from_the_command_line_while_running_is_served(running, seed, tmp_path):
    service = running(settle=30)  # the watcher would wait 30 s: the CLI publish is what shows
    service.wait_log("schedule run:")
    (tmp_path / "sources" / "a.txt").write_bytes(seed)
    proc = subprocess.run([str(BIN), "--config", str(service.config), "publish"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    service.wait_for({"all": 5}, timeout=5)


# -- stopping ----------------------------------------------------------------------------------

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_it_with_exit_0_within_10_s_leaving_valid_feeds_and_no_temp_files(running, seed, tmp_path,
                                                                                         sig):
    service = running()
    write_atomically(tmp_path / "sources" / "a.txt", seed)
    service.wait_for({"all": 5})
    code, seconds = service.stop(sig)
    assert code == 0 and seconds < 10
    leftovers = [p for p in tmp_path.rglob("*") if p.name.endswith((".tmp", ".part")) or "-journal" in p.name]
    assert leftovers == []
    for slug in FEEDS:
        for name in ("atom.xml", "rss.xml"):
            assert feedparser.parse((tmp_path / "feeds" / slug / name).read_bytes()).bozo == 0
    assert "stopped" in service.log_text()


def distinct_stories(n: int, seed: int = 7) -> list[str]:
    """n one-paragraph stories that share no more than chance words (no near-duplicates)."""
    import random
    rng = random.Random(seed)
    words = [f"{a}{b}" for a in ("ka", "lo", "mi", "nu", "pe", "ro", "si", "tu", "va", "ze")
             for b in ("ba", "do", "fi", "gu", "ha", "je", "ki", "lu", "mo", "ny")] * 3
    return [" ".join(rng.sample(words, 40)).capitalize() + "." for _ in range(n)]


def test_a_signal_during_a_large_ingest_stops_at_a_file_boundary_and_loses_nothing(running, tmp_path):
    import sqlite3

    service = running()
    service.wait_log("schedule run:")
    batch = tmp_path / "batch"
    batch.mkdir()
    stories = distinct_stories(3000)
    for i, text in enumerate(stories):
        (batch / f"f{i:04}.txt").write_text(text + "\n")
    os.replace(batch, tmp_path / "sources" / "batch")  # one move: every file is complete at once
    db = tmp_path / "publisher.db"
    deadline = time.monotonic() + 20
    while True:  # the first batch of files is committed: the run is under way
        with sqlite3.connect(db, timeout=30) as conn:
            if conn.execute("SELECT count(*) FROM entries").fetchone()[0] > 0:
                break
        assert time.monotonic() < deadline, service.log_text()
        time.sleep(0.01)
    code, seconds = service.stop()
    assert code == 0 and seconds < 10
    assert "stopped early" in service.log_text()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        before = dict(conn.execute("SELECT entry_id, name FROM entries"))
    assert 0 < len(before) < len(stories)
    proc = subprocess.run([str(BIN), "--config", str(service.config), "publish"], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    with sqlite3.connect(db) as conn:
        after = dict(conn.execute("SELECT entry_id, name FROM entries"))
    assert len(after) == len(stories)  # the rest read, nothing twice
    assert all(after[k] == v for k, v in before.items())  # and no id changed


def test_a_signal_while_waiting_for_another_writer_stops_within_10_s(running, tmp_path):
    config = service_config(tmp_path)
    lock_path = tmp_path / "publisher.db.lock"
    holder = subprocess.Popen([sys.executable, "-c",
                               "import time; from pathlib import Path; from publisher import lock\n"
                               f"with lock.held(Path({str(lock_path)!r})):\n"
                               "    print('held', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        service = running(config=config)  # its first run waits for the lock (up to 30 s)
        time.sleep(0.5)
        code, seconds = service.stop()
        assert code == 0 and seconds < 10
    finally:
        holder.kill()
        holder.wait(10)


class Silent:
    """A feed server that accepts connections and never answers (nor closes them)."""

    def __init__(self):
        import socket
        import threading

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/feed.xml"
        self.connected = threading.Event()
        self.held = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:  # closed
                return
            self.held.append(conn)
            self.connected.set()

    def close(self):
        self.sock.close()
        for conn in self.held:
            conn.close()


def test_sigterm_while_a_feed_is_fetched_stops_within_10_s_and_files_do_not_wait_for_it(running, seed, tmp_path):
    """The feed never answers (its read timeout is 20 s, its deadline 60 s): a file already in
    sources/ at start-up is served at once all the same, and SIGTERM cancels the fetch."""
    silent = Silent()
    try:
        config = service_config(tmp_path, extra=f'\n[[sources.feeds]]\nurl = "{silent.url}"\n')
        early = tmp_path / "sources" / "early.txt"
        early.write_bytes(seed)
        os.utime(early, (time.time() - 600, time.time() - 600))  # there well before start-up
        service = running(config=config)
        assert silent.connected.wait(10)  # the feed is being fetched
        service.wait_for({"ukraine": 1, "taiwan-security": 4, "all": 5}, timeout=5)
        assert silent.held and not any(conn.fileno() < 0 for conn in silent.held)  # ... and still is
        code, seconds = service.stop()
        assert code == 0 and seconds < 10
        assert "timed out" not in service.log_text()  # cancelled, not failed: nothing to back off
    finally:
        silent.close()


def test_a_second_run_on_the_same_database_is_refused_at_once(running, tmp_path):
    service = running()
    service.wait_log("schedule run:")
    start = time.monotonic()
    proc = subprocess.run([str(BIN), "--config", str(service.config), "run"], capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 2 and time.monotonic() - start < 5
    assert f"`publisher run` is already running on this database (pid {service.proc.pid})" in proc.stderr
    assert service.get("/healthz").status_code == 200  # the first one is unharmed


def test_a_port_in_use_is_one_clear_line(tmp_path):
    import socket
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    config = service_config(tmp_path)
    config.write_text(config.read_text().replace("port = 0", f"port = {taken.getsockname()[1]}"))
    try:
        proc = subprocess.run([str(BIN), "--config", str(config), "run"], capture_output=True, text=True, timeout=30)
    finally:
        taken.close()
    assert proc.returncode == 2
    assert proc.stderr.strip().endswith("cannot listen: Address already in use") and "Traceback" not in proc.stderr


def test_a_full_disk_under_run_is_one_line_per_try_with_back_off_and_healthz_503_until_a_run_works(
        running, seed, tmp_path, monkeypatch):
    flag = tmp_path / "disk-is-full"
    for name, value in disk_full.env(tmp_path, flag).items():
        monkeypatch.setenv(name, value)  # for the `publisher run` child
    service = running()
    service.wait_log("schedule run:")
    assert service.get("/healthz").status_code == 200
    flag.touch()
    write_atomically(tmp_path / "sources" / "a.txt", seed)
    service.wait_log("run failed:")
    r = service.get("/healthz")
    assert r.status_code == 503 and r.json()["status"] == "failing" and r.json()["failures"] >= 1
    assert r.json()["reason"].startswith("the last ") and "database or disk is full" in r.json()["reason"]
    service.wait_log("(trying again in 2 s)", timeout=10)
    flag.unlink()
    service.wait_for({"ukraine": 1, "taiwan-security": 4, "all": 5}, timeout=15)  # the retry works
    assert service.get("/healthz").status_code == 200
    log_text = service.log_text()
    assert "Traceback" not in log_text
    failed = [line for line in log_text.splitlines() if "run failed:" in line]
    database = tmp_path / "publisher.db"
    assert all(line.endswith(f"run failed: {database}: database error: database or disk is full "
                             f"(trying again in {2 ** i} s)") for i, line in enumerate(failed)), failed
    assert 2 <= len(failed) <= 4  # one line a try: 1, 2, 4 s apart (not one every 1.2 s)


# -- pure parts --------------------------------------------------------------------------------

def test_log_lines_are_in_utc_and_say_their_zone(running):
    service = running()
    service.wait_log("schedule run:")
    line = next(line for line in service.log_text().splitlines() if "schedule run:" in line)
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) INFO schedule run: ", line)
    assert m, line
    logged = datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs(datetime.now(UTC) - logged) < timedelta(seconds=30)  # UTC, not local time marked Z


def test_log_level_warning_leaves_out_the_info_lines_and_keeps_the_warnings(running, tmp_path):
    service = running(options=("--log-level", "warning"))
    service.get("/healthz")
    write_atomically(tmp_path / "sources" / "binary.txt", bytes(range(256)) * 40)
    service.wait_log("WARNING binary.txt: skipped:")
    service.stop()
    text = service.log_text()
    assert " INFO " not in text, text
    quiet = running(config=service.config, options=("--log-level", "debug"))
    quiet.wait_log("schedule run:")
    assert " DEBUG " in quiet.log_text()


def test_an_unknown_log_level_is_a_usage_error(tmp_path):
    proc = subprocess.run([str(BIN), "--log-level", "loud", "--config", str(service_config(tmp_path)), "run"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and "invalid choice: 'loud'" in proc.stderr and "Traceback" not in proc.stderr


def access_lines(service) -> list[str]:
    return [line for line in service.log_text().splitlines() if '"GET ' in line or '"HEAD ' in line]


def test_no_access_log_by_default(running):
    service = running()
    service.wait_log("schedule run:")
    assert service.get("/all/atom.xml").status_code == 200
    assert service.get("/nope").status_code == 404
    service.stop()
    assert access_lines(service) == []


def test_access_log_is_one_line_per_request_with_client_method_path_status_bytes_and_time(running):
    service = running(run_options=("--access-log",))
    service.wait_log("schedule run:")
    first = service.get("/all/atom.xml", headers={"Accept-Encoding": "identity"})
    again = service.get("/all/atom.xml", headers={"If-None-Match": first.headers["etag"], "Accept-Encoding": "identity"})
    assert again.status_code == 304
    assert service.get("/no%0Ape").status_code == 404
    assert httpx.head(service.base + "/all/rss.xml").status_code == 200
    service.stop()
    lines = access_lines(service)
    assert len(lines) == 4, service.log_text()
    size = len(first.content)
    pattern = r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ INFO 127\.0\.0\.1 "%s" %d %d \d+\.\d{3}ms$'
    for line, (request, status, n) in zip(lines, [("GET /all/atom.xml", 200, size), ("GET /all/atom.xml", 304, 0),
                                                  (r"GET /no\\npe", 404, 10),
                                                  ("HEAD /all/rss.xml", 200, 0)]):
        assert re.match(pattern % (request, status, n), line), (line, request)


def test_access_log_can_be_turned_on_in_the_config(running, tmp_path):
    config = service_config(tmp_path)
    config.write_text(re.sub(r"(?m)^port = 0$", "port = 0\naccess_log = true", config.read_text(), count=1))
    assert "access_log = true" in config.read_text()
    service = running(config=config)
    assert service.get("/healthz").status_code == 200
    service.stop()
    assert [line.split(" INFO ", 1)[1].split('" ')[0] for line in access_lines(service)] == \
        ['127.0.0.1 "GET /healthz']


T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_health_says_a_broken_config_but_stays_ok_on_the_last_good_one():
    ok, doc = health(T0 + timedelta(seconds=330), started=T0, last_run=T0 + timedelta(seconds=301),
                     last_success=T0 + timedelta(seconds=301), next_run=T0 + timedelta(seconds=600),
                     interval=300, grace=60, scheduler_running=True, config_error="config.toml: line 3: bad")
    assert ok and doc["status"] == "ok"
    assert doc["config_error"] == "config.toml: line 3: bad; running on the last good config"


def test_health_is_ok_while_runs_keep_to_the_schedule():
    ok, doc = health(T0 + timedelta(seconds=330), started=T0, last_run=T0 + timedelta(seconds=301),
                     last_success=T0 + timedelta(seconds=301), next_run=T0 + timedelta(seconds=600),
                     interval=300, grace=60, scheduler_running=True)
    assert ok and doc["status"] == "ok" and doc["next_run"] == "2026-11-25T12:10:00Z"


def test_health_fails_when_runs_were_missed():
    ok, doc = health(T0 + timedelta(seconds=1000), started=T0, last_run=T0 + timedelta(seconds=1),
                     last_success=None, next_run=T0 + timedelta(seconds=600), interval=300, grace=60,
                     scheduler_running=True)
    assert not ok and doc["status"] == "late" and "no run has finished since 2026-11-25T12:00:01Z" in doc["reason"]


def test_health_fails_while_runs_fail_and_retries_back_off_up_to_the_interval():
    from publisher.service import retry_delay

    ok, doc = health(T0, started=T0, last_run=T0, last_success=T0, next_run=None, interval=300, grace=60,
                     scheduler_running=True, failures=3, last_error="x.db: database error: database or disk is full")
    assert not ok and doc["status"] == "failing" and doc["failures"] == 3
    assert doc["reason"] == "the last 3 runs failed: x.db: database error: database or disk is full"
    assert [retry_delay(n, 300) for n in range(1, 12)] == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
    assert retry_delay(3, 2.5) == 2.5


def test_health_fails_when_the_scheduler_is_not_running():
    ok, doc = health(T0, started=T0, last_run=None, last_success=None, next_run=None, interval=300, grace=60,
                     scheduler_running=False)
    assert not ok and doc["reason"] == "the scheduler is not running"


def test_settler_hands_out_a_file_once_it_stopped_changing():
    sizes = {Path("a"): (10, 1)}
    s = Settler(1.0)
    s.touch(Path("a"), 0.0)
    assert s.due(0.1, sizes.get) == []  # first look: remembered
    sizes[Path("a")] = (20, 2)
    assert s.due(0.5, sizes.get) == []  # grew: waits again
    assert s.due(1.4, sizes.get) == []  # stable for 0.9 s
    assert s.due(1.6, sizes.get) == [Path("a")]
    assert s.due(5.0, sizes.get) == []  # handed out once


def test_settler_hands_out_a_renamed_file_at_once_and_forgets_vanished_ones():
    s = Settler(10.0)
    s.touch(Path("moved"), 0.0, instant=True)
    s.touch(Path("gone"), 0.0)
    assert s.due(0.01, {Path("moved"): (1, 1)}.get) == [Path("moved")]
    assert len(s) == 0


# -- a real feed reader subscribes -------------------------------------------------------------

def test_a_feed_reader_subscribed_over_http_sees_each_story_once(running, seed, tmp_path):
    from reader import make_reader

    service = running()
    write_atomically(tmp_path / "sources" / "a.txt", seed)
    service.wait_for({"ukraine": 1, "taiwan-security": 4, "all": 5})
    reader = make_reader(str(tmp_path / "reader.sqlite"))
    try:
        urls = {slug: f"{service.base}/{slug}/atom.xml" for slug in FEEDS}
        for url in urls.values():
            reader.add_feed(url)
        reader.update_feeds(scheduled=False)

        def entries(slug):
            return {e.id: e for e in reader.get_entries(feed=urls[slug])}

        for slug in FEEDS:
            feed = reader.get_feed(urls[slug])
            assert feed.last_exception is None, (slug, feed.last_exception)
        first = {slug: entries(slug) for slug in FEEDS}
        assert {slug: len(first[slug]) for slug in FEEDS} == {"ukraine": 1, "taiwan-security": 4, "all": 5}
        for e in first["all"].values():
            reader.mark_entry_as_read(e)

        # an update with nothing new: a 304 for each feed, nothing changes
        requests = service.metric("publisher_http_requests_total")
        reader.update_feeds(scheduled=False)
        assert service.metric("publisher_http_requests_total") == requests + 1 + len(FEEDS)  # + this /metrics
        assert {slug: set(entries(slug)) for slug in FEEDS} == {slug: set(first[slug]) for slug in FEEDS}

        # a new file with one new story and one the reader has seen
        first_line = seed.decode().splitlines()[0]
        write_atomically(tmp_path / "sources" / "b.txt", (first_line + "\n" + NEW_STORY).encode())
        service.wait_for({"ukraine": 2, "taiwan-security": 4, "all": 6})
        reader.update_feeds(scheduled=False)
        second = {slug: entries(slug) for slug in FEEDS}
        assert {slug: len(second[slug]) for slug in FEEDS} == {"ukraine": 2, "taiwan-security": 4, "all": 6}
        for slug in FEEDS:
            assert set(first[slug]) <= set(second[slug])  # no id changed
        unread = list(reader.get_entries(feed=urls["all"], read=False))
        assert len(unread) == 1 and "metro" in unread[0].title  # only the new story is new to the reader
    finally:
        reader.close()


# -- WebSub ------------------------------------------------------------------------------------

def _pings(httpserver) -> list[str]:
    out = []
    for request, _ in list(httpserver.log):
        assert request.form["hub.mode"] == "publish"
        out.append(request.form["hub.url"])
    return sorted(out)


def _wait_pings(httpserver, n: int, timeout: float = 10.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while len(httpserver.log) < n:
        assert time.monotonic() < deadline, f"{len(httpserver.log)} pings, expected {n}"
        time.sleep(0.05)
    time.sleep(0.3)  # and no more than that
    return _pings(httpserver)


def test_websub_hub_gets_one_ping_per_changed_feed(running, seed, tmp_path, httpserver):
    hub = httpserver.url_for("/hub")
    httpserver.expect_request("/hub", method="POST").respond_with_data("", status=204)
    service = running(extra=f'\n[websub]\nhub = "{hub}"\n')
    site = "http://127.0.0.1:8080/"
    formats = ("atom.xml", "rss.xml", "feed.json")
    every = sorted(f"{site}{slug}/{name}" for slug in FEEDS for name in formats)
    assert _wait_pings(httpserver, 9) == every  # the first run writes every (empty) feed
    httpserver.clear_log()
    write_atomically(tmp_path / "sources" / "a.txt", seed)
    service.wait_for({"all": 5})
    assert _wait_pings(httpserver, 9) == every
    httpserver.clear_log()
    write_atomically(tmp_path / "sources" / "b.txt", NEW_STORY.encode())  # Ukraine only
    service.wait_for({"ukraine": 2, "all": 6})
    assert _wait_pings(httpserver, 6) == sorted(f"{site}{slug}/{name}" for slug in ("ukraine", "all")
                                                for name in formats)
    atom = service.get("/all/atom.xml").text
    rss = service.get("/all/rss.xml").text
    assert f'<link href="{hub}" rel="hub"/>' in atom and f'<atom:link href="{hub}" rel="hub"/>' in rss


def test_a_failing_hub_is_logged_and_publishing_goes_on(running, seed, tmp_path, httpserver):
    hub = httpserver.url_for("/hub")
    httpserver.expect_request("/hub", method="POST").respond_with_data("down", status=500)
    service = running(extra=f'\n[websub]\nhub = "{hub}"\n')
    write_atomically(tmp_path / "sources" / "a.txt", seed)
    service.wait_for({"ukraine": 1, "taiwan-security": 4, "all": 5})
    service.wait_log(f"{hub}: WebSub ping for http://127.0.0.1:8080/all/atom.xml refused: HTTP 500")
    assert service.get("/healthz").json()["status"] == "ok"


# -- config changes while running --------------------------------------------------------------

FEED_DOC = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>Other Wire</title><link>https://o.example/</link>'
            b"<description>d</description><item><title>Kyiv metro</title><guid>m1</guid><description>Kyiv's metro "
            b"stations in Ukraine will stay open all night during air raid alerts, the city said on Tuesday."
            b"</description></item></channel></rss>")


def test_publisher_add_url_while_running_is_polled_without_a_restart(running, tmp_path, httpserver):
    httpserver.expect_request("/feed.xml").respond_with_data(FEED_DOC, content_type="application/rss+xml")
    service = running()
    service.wait_log("schedule run:")
    proc = subprocess.run([str(BIN), "--config", str(service.config), "add", httpserver.url_for("/feed.xml")],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    service.wait_log("config reloaded (2 topics, 1 feeds)")
    service.wait_for({"ukraine": 1, "all": 1}, timeout=10)
    assert "# Near-duplicates" in service.config.read_text()  # comments kept


def test_a_bad_config_is_reported_and_the_last_good_one_stays_in_force(running, seed, tmp_path):
    service = running()
    service.wait_log("schedule run:")
    good = service.config.read_text()
    service.config.write_text(good.replace("max_entries = 50", 'max_entries = "many"'))
    service.wait_log("[feeds] max_entries: expected an integer, got 'many' (a string); the last good config "
                     "stays in force")
    # /healthz says so, still 200: everything is served and published, on the last good config
    r = service.get("/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok", r.text
    assert r.json()["config_error"] == (f"{service.config}: [feeds] max_entries: expected an integer, got 'many' "
                                        "(a string); running on the last good config")
    write_atomically(tmp_path / "sources" / "a.txt", seed)
    service.wait_for({"ukraine": 1, "taiwan-security": 4, "all": 5})  # still working, on the old config
    service.config.write_text(good.replace("max_entries = 50", "max_entries = 2"))
    service.wait_for({"taiwan-security": 2, "all": 2}, timeout=10)  # the fixed config: in force at once
    assert service.get("/healthz").json()["config_error"] is None
    service.wait_log("reload run:")  # the run the reload brought forward says so, not "schedule run"
    assert service.log_text().count("schedule run:") == 1


def test_a_changed_id_authority_is_refused_like_a_bad_config_and_the_last_good_one_stays(running, seed, tmp_path):
    service = running()
    write_atomically(tmp_path / "sources" / "a.txt", seed)
    service.wait_for({"ukraine": 1, "taiwan-security": 4, "all": 5})
    good = service.config.read_text()
    old = re.search(r'id_authority = "([^"]+)"', good).group(1)
    service.config.write_text(good.replace(f'id_authority = "{old}"', 'id_authority = "news.mine.test,2026"'))
    service.wait_log(f'[site] id_authority is "news.mine.test,2026", but the ids already published from '
                     f'publisher.db were made with "{old}" and never change')
    service.wait_log("the last good config stays in force")
    assert service.get("/healthz").json()["config_error"].startswith(f"{service.config}: [site] id_authority")
    write_atomically(tmp_path / "sources" / "b.txt", NEW_STORY.encode())  # still publishing, with the old ids
    service.wait_for({"ukraine": 2, "all": 6}, timeout=10)
    assert "news.mine.test" not in service.get("/all/atom.xml").text


def test_sighup_reads_the_config_again_and_does_not_stop_the_service(running, seed, tmp_path):
    service = running()
    service.wait_log("schedule run:")
    service.proc.send_signal(signal.SIGHUP)
    service.wait_log(f"SIGHUP: reading {service.config} again")
    service.wait_log(f"{service.config}: config unchanged")
    assert service.proc.poll() is None and service.get("/healthz").status_code == 200


def test_a_slow_feed_never_delays_a_file_pickup(running, seed, tmp_path, httpserver):
    import threading
    fetching = threading.Event()

    def slow(request):
        fetching.set()
        time.sleep(6)
        from werkzeug.wrappers import Response
        return Response(FEED_DOC, content_type="application/rss+xml")

    httpserver.expect_request("/slow.xml").respond_with_handler(slow)
    service = running(extra=f'\n[[sources.feeds]]\nurl = "{httpserver.url_for("/slow.xml")}"\n')
    assert fetching.wait(10)  # the scheduled run is fetching the slow feed: 6 s to go
    write_atomically(tmp_path / "sources" / "a.txt", seed)
    assert service.wait_for({"ukraine": 1, "taiwan-security": 4, "all": 5}, timeout=3) < 3
    service.wait_for({"ukraine": 2, "all": 6}, timeout=15)  # and the feed's story once it arrives


def test_a_file_dropped_just_before_start_up_is_published_at_once(running, seed, tmp_path):
    config = service_config(tmp_path, settle=1.0)
    (tmp_path / "sources" / "early.txt").write_bytes(seed)  # fresh: the first run leaves it to settle
    service = running(config=config)
    service.wait_for({"ukraine": 1, "taiwan-security": 4, "all": 5}, timeout=5)  # not in 300 s


def test_a_config_edit_to_a_server_limit_says_it_takes_a_restart(running, tmp_path):
    service = running()
    config = service.config
    text = config.read_text()
    assert "[server]" in text
    config.write_text(text.replace("[server]", "[server]\nmax_connections = 50\nheader_timeout_seconds = 3", 1))
    os.kill(service.proc.pid, signal.SIGHUP)
    deadline = time.monotonic() + 10
    log = ""
    while time.monotonic() < deadline:
        log = service.log.read_text()
        if "header_timeout_seconds changed" in log and "max_connections changed" in log:
            break
        time.sleep(0.1)
    assert "[server] max_connections changed: that takes a restart" in log, log
    assert "[server] header_timeout_seconds changed: that takes a restart" in log, log
    service.proc.send_signal(signal.SIGTERM)
    assert service.proc.wait(10) == 0


def test_a_file_dropped_while_a_hostile_one_is_read_is_published_within_seconds(running, tmp_path):
    # 1M short lines (the was 33 MB: one story of a million paragraphs that took 70 s
    # and 3.5 GB); 7.9 MB here, under the 8 MiB size limit: within the [limits] defaults it
    # costs a few seconds
    service = running()
    service.wait_for({"all": 0})
    hostile = "".join(f"{i:06x}.\n" for i in range(1_000_000)).encode()
    assert len(hostile) < 8 * 1024 * 1024
    write_atomically(tmp_path / "sources" / "hostile.txt", hostile)
    time.sleep(1)  # the hostile file is being read
    write_atomically(tmp_path / "sources" / "news.txt", NEW_STORY.encode())
    service.wait_for({"ukraine": 1}, timeout=15)  # a guard: it takes a few seconds
    service.wait_log("hostile.txt: warning: 1,000,000 lines; the first 10,000 read")


def test_a_full_disk_under_feeds_fails_the_run_in_one_line_with_healthz_503_until_it_has_room(
        running, seed, tmp_path, monkeypatch):
    flag = tmp_path / "feeds-disk-is-full"
    for name, value in disk_full.feeds_env(tmp_path, flag).items():
        monkeypatch.setenv(name, value)  # for the `publisher run` child
    service = running()
    service.wait_log("schedule run:")
    flag.touch()
    write_atomically(tmp_path / "sources" / "a.txt", seed)
    service.wait_log("run failed:")
    r = service.get("/healthz")
    assert r.status_code == 503 and r.json()["status"] == "failing", r.text
    assert "cannot write: No space left on device" in r.json()["reason"]
    flag.unlink()
    service.wait_for({"ukraine": 1, "taiwan-security": 4, "all": 5}, timeout=15)  # the retry works
    assert service.get("/healthz").status_code == 200
    log_text = service.log_text()
    assert "Traceback" not in log_text
    assert not [line for line in log_text.splitlines() if "cannot write" in line and "run failed" not in line]


def test_a_reload_that_fails_unexpectedly_is_one_logged_line_and_what_was_served_stays(project, seed, caplog):
    from publisher.service import Service

    project.add_source(SEED.name, seed)
    assert project.publish().ok
    service = Service(project.config)
    service.reload()
    served = dict(service.app.files)
    assert served

    def broken(errors=None):
        raise ValueError("embedded null byte")  # (what a NUL in a journal line once raised)

    service.app.reload = broken
    with caplog.at_level(logging.WARNING, logger="publisher"):
        service.reload()  # raised, and ended the reloads of the service's thread
    assert service.app.files == served
    assert [r.getMessage() for r in caplog.records] == ["feeds not reloaded: ValueError: embedded null byte"]
