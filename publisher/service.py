"""`publisher run`: the long-running service.

    one process = a scheduler (every [schedule] interval_seconds: the files in sources/, and
                  apart from them the feed URLs, so that files never wait for the network)
                + a watcher (a file dropped into sources/ is read once it has settled)
                + the HTTP server (serve.FeedServer under http.Server) + /healthz, /metrics and
                  /search (publisher.search, on a read-only connection of its own)

Threads: the HTTP server's uvloop event loop in the main thread; APScheduler's two job threads; the watchdog
observer; the settle loop, which reads settled files itself so that a slow scheduled job never
queues a file pickup behind it (both still write one at a time: the write lock); a WebSub
thread. SIGTERM/SIGINT stop a run in progress at the next file or feed boundary (what it has is
committed; feed fetches under way are cancelled), then everything stops and the process exits 0.
A run that fails (a full disk, a database error) is one log line; the next is tried after a
back-off, doubling up to the interval, and /healthz answers 503 until a run works again.
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import stat
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.executors.pool import ThreadPoolExecutor as JobExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from watchdog.events import FileSystemEventHandler
from watchdog.observers import Observer

from publisher import http, lock, search
from publisher.config import Config, load
from publisher.errors import ConfigError, LockHeld, PublisherError
from publisher.model import Outcome
from publisher.publish import check_config, publish
from publisher.report import PublishReport
from publisher.serve import FeedServer
from publisher.sources.files import ignored
from publisher import websub

log = logging.getLogger("publisher")
access_log = logging.getLogger("publisher.access")
# What starts a run, as logged ("schedule run: ...") and counted (publisher_runs{trigger=...}):
# the files on the schedule, the feed URLs on it, a file pickup, and the two runs a config
# reload (SIGHUP, or the file written) brings forward: files, then feeds.
TRIGGERS = ("schedule", "poll", "watch", "reload", "reload-poll")
LOCK_WAIT_SECONDS = 30.0  # how long a run waits for another writer (a `publisher publish`)
STOP_SECONDS = 10.0  # what a stop may take, all in all


# -- health: pure ------------------------------------------------------------------------------

def health(now: datetime, *, started: datetime, last_run: datetime | None, last_success: datetime | None,
           next_run: datetime | None, interval: float, grace: float, scheduler_running: bool,
           failures: int = 0, last_error: str | None = None, config_error: str | None = None) -> tuple[bool, dict]:
    """Is the service keeping to its schedule? Late when the scheduler is not running, or when
    no run has finished for an interval plus the misfire grace (a run hangs, or runs are missed);
    failing while runs fail (`failures` in a row, the last with `last_error`). A config file
    that could not be read again (`config_error`) is said, but is no failure: the last good
    config is in force and everything is served and published (200, so a load balancer keeps
    sending traffic; a monitor alerts on config_error not being null)."""
    since = last_run or started
    late = not scheduler_running or now - since > timedelta(seconds=interval + grace)
    doc = {
        "status": "late" if late else "failing" if failures else "ok",
        "started": _iso(started),
        "last_run": _iso(last_run),
        "last_success": _iso(last_success),
        "next_run": _iso(next_run),
        "interval_seconds": interval,
        "failures": failures,
        "config_error": f"{config_error}; running on the last good config" if config_error else None,
    }
    if late:
        doc["reason"] = "the scheduler is not running" if not scheduler_running else \
            f"no run has finished since {_iso(since)} (the interval is {interval:g} s)"
    elif failures:
        doc["reason"] = f"the last {failures} runs failed: {last_error}" if failures > 1 else \
            f"the last run failed: {last_error}"
    return not late and not failures, doc


def retry_delay(failures: int, interval: float) -> float:
    """Seconds to wait after `failures` failed runs in a row: 1, 2, 4 ... up to the interval
    (a full disk is not retried every second, nor left for a whole interval at first)."""
    return min(2.0 ** max(0, failures - 1), interval)


def _iso(t: datetime | None) -> str | None:
    return t.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z") if t else None


# -- the settle rule: a file is read once it has stopped changing ------------------------------

Key = tuple[int, int]  # (size, mtime_ns)


class Settler:
    """Files a watcher saw, handed out once their size and mtime have been unchanged for
    `settle` seconds (or at once, for a file renamed into place). Thread-safe."""

    def __init__(self, settle: float):
        self.settle = settle
        self._pending: dict[Path, tuple[Key | None, float, bool]] = {}
        self._lock = threading.Lock()

    def touch(self, path: Path, now: float, *, instant: bool = False) -> None:
        with self._lock:
            old = self._pending.get(path)
            self._pending[path] = (None, now, instant or bool(old and old[2] and old[0] is None))

    def __len__(self) -> int:
        return len(self._pending)

    def due(self, now: float, stat: Callable[[Path], Key | None]) -> list[Path]:
        """The files ready to be read; files that vanished are forgotten."""
        ready = []
        with self._lock:
            for path, (key, since, instant) in list(self._pending.items()):
                current = stat(path)
                if current is None:
                    del self._pending[path]
                elif current != key:
                    if instant and key is None:
                        ready.append(path)
                        del self._pending[path]
                    else:
                        self._pending[path] = (current, now, False)
                elif now - since >= self.settle:
                    ready.append(path)
                    del self._pending[path]
        return sorted(ready)


def stat_key(path: Path) -> Key | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return None if stat.S_ISDIR(st.st_mode) else (st.st_size, st.st_mtime_ns)


# -- metrics -----------------------------------------------------------------------------------

class Metrics:
    def __init__(self, requests: Callable[[], int]):
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics
        from prometheus_client.core import CounterMetricFamily

        disable_created_metrics()  # the *_created series double the output and say little here

        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.runs = Counter("publisher_runs", "Ingest + publish runs, by what started them", ["trigger"], registry=r)
        self.run_errors = Counter("publisher_run_errors", "Runs that could not be made (lock busy, error)",
                                  registry=r)
        self.stories = Counter("publisher_stories", "Stories read, by outcome", ["outcome"], registry=r)
        self.files = Counter("publisher_source_files", "Source files read, by outcome", ["outcome"], registry=r)
        self.polled = Counter("publisher_feeds_polled", "Feed URLs fetched, by outcome", ["outcome"], registry=r)
        self.sources_failed = Counter("publisher_sources_failed", "Sources that failed to be read", registry=r)
        self.feeds_written = Counter("publisher_feeds_written", "Feed files written (changed)", registry=r)
        self.last_success = Gauge("publisher_last_success_timestamp_seconds",
                                  "When the last run without problems finished", registry=r)
        self.last_run = Gauge("publisher_last_run_timestamp_seconds", "When the last run finished", registry=r)
        self.duration = Histogram("publisher_run_duration_seconds", "How long runs take", registry=r,
                                  buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300))
        self.files_served = Gauge("publisher_files_served", "Files the HTTP server holds", registry=r)
        for outcome in ("new", "duplicate", "revised"):
            self.stories.labels(outcome)
        for trigger in TRIGGERS:
            self.runs.labels(trigger)

        class Requests:
            def collect(self):
                family = CounterMetricFamily("publisher_http_requests", "HTTP requests answered")
                family.add_metric([], requests())
                yield family

        r.register(Requests())

    def record(self, trigger: str, report: PublishReport, seconds: float, finished: float) -> None:
        self.runs.labels(trigger).inc()
        every = report.sources + report.polled  # files and polled feeds alike
        self.stories.labels("new").inc(sum(s.new for s in every))
        self.stories.labels("duplicate").inc(sum(s.duplicate for s in every))
        self.stories.labels("revised").inc(sum(s.revised for s in every))
        for s in report.sources:
            self.files.labels(s.outcome).inc()
        for s in report.polled:
            self.polled.labels(s.outcome).inc()
        self.sources_failed.inc(report.count(Outcome.FAILED) + report.count(Outcome.FAILED, polled=True))
        self.feeds_written.inc(len(report.feed_files_written))
        self.duration.observe(seconds)
        self.last_run.set(finished)
        if report.ok:
            self.last_success.set(finished)

    def text(self) -> bytes:
        from prometheus_client import generate_latest
        return generate_latest(self.registry)


# -- the service -------------------------------------------------------------------------------

@dataclass
class RunState:
    started: datetime
    last_run: datetime | None = None
    last_success: datetime | None = None
    failures: int = 0  # runs in a row that could not be made (0: the last one worked)
    last_error: str | None = None


class Service:
    def __init__(self, config: Config, out=None, *, access: bool = False):
        self.config = config
        self.access_flag = access  # `run --access-log`: on whatever the config says
        self.out = out or sys.stdout
        self.stop = threading.Event()
        self.state = RunState(started=datetime.now(UTC))
        self.searcher = search.Searcher(config.paths.database)
        self.app = FeedServer(config.paths.feeds, cache_max_age=config.service.cache_max_age,
                              routes={"/healthz": self._healthz, "/metrics": self._metrics}, search=self._search)
        self.metrics = Metrics(lambda: self.app.requests)
        self.settler = Settler(config.service.settle_seconds)
        self.feeds_dirty = threading.Event()
        self.config_changed = threading.Event()  # SIGHUP, or the config file was written
        self.config_error: str | None = None  # why the config on disk was refused (the last good one runs)
        self.reloaded = {"publish": threading.Event(), "poll": threading.Event()}  # next run: a reload's
        self.scheduler = None
        self.observer = None
        self.pings: queue.SimpleQueue[list[str]] = queue.SimpleQueue()
        self.server = None

    # -- runs --

    def scheduled_run(self) -> None:
        """The files in sources/ (the feeds are polled apart: poll_run)."""
        trigger = "reload" if _take(self.reloaded["publish"]) else "schedule"
        self._run(trigger, settle=self.config.service.settle_seconds, next_run=self._next_run(), feeds=False)

    def poll_run(self) -> None:
        """The feed URLs that are due, in a job of their own: a feed that is slow to answer never
        holds up the files (those in sources/ at start-up included)."""
        trigger = "reload-poll" if _take(self.reloaded["poll"]) else "poll"
        if self.config.feed_sources:
            self._run(trigger, next_run=self._next_run(), files=False)

    def _next_run(self) -> datetime | None:
        job = self.scheduler.get_job("publish") if self.scheduler else None
        return job.next_run_time if job else None

    def _run(self, trigger: str, *, only: list[Path] | None = None, settle: float = 0.0,
             next_run: datetime | None = None, files: bool = True, feeds: bool = True) -> PublishReport | None:
        if self.stop.is_set():
            return None
        started = time.monotonic()
        now = datetime.now(UTC)
        record = {"next_run": next_run.isoformat()} if next_run else {}
        try:
            report = publish(self.config, now, wait=LOCK_WAIT_SECONDS, only=only, settle=settle,
                             stop=self.stop.is_set, record=record, files=files, feeds=feeds)
        except LockHeld as exc:
            self.metrics.run_errors.inc()
            log.warning("%s run skipped: %s", trigger, exc)
            return None
        except PublisherError as exc:
            self._failed(trigger, str(exc))
            return None
        except OSError as exc:  # an OS error the use cases did not make a source's or file's result
            self._failed(trigger, f"{f'{exc.filename}: ' if exc.filename else ''}{exc.strerror or exc}")
            return None
        except Exception as exc:  # a bug: logged in full, and the service keeps running
            log.exception("%s run failed", trigger)
            self._failed(trigger, f"{type(exc).__name__}: {exc}", logged=True)
            return None
        if not files and not report.polled:  # no feed was due: no run to speak of
            return report
        seconds = time.monotonic() - started
        finished = datetime.now(UTC)
        unwritten = [e for e in report.errors if ": cannot write: " in e]
        if unwritten:
            # outputs could not be written (a full disk under feeds/): what is served is partly
            # the last good publish, so this run failed: one line (not one per file), /healthz
            # says so, and it is tried again after a back-off
            more = f" (and {len(unwritten) - 1:,} more files)" if len(unwritten) > 1 else ""
            self.reload()
            self._failed(trigger, f"{unwritten[0]}{more}")
            return report
        self.state.failures, self.state.last_error = 0, None
        self.state.last_run = finished
        if report.ok:
            self.state.last_success = finished
        self.metrics.record(trigger, report, seconds, finished.timestamp())
        # Files too fresh for this run go to the settle loop: one dropped just before start-up
        # was never seen by the watcher, and would otherwise wait for the next interval.
        for source in report.sources:
            if source.outcome == Outcome.PENDING and source.path:
                self.settler.touch(source.path, time.monotonic())
        self.reload()
        for line in report.problems():
            log.warning("%s", line)
        stopped = " (stopped early: the rest is read next time)" if report.interrupted else ""
        log.info("%s run: %s in %.2f s%s", trigger, report.summary().removeprefix("publish: "), seconds, stopped)
        if self.config.service.hub and report.feed_files_written:
            self.pings.put(websub.changed_urls(self.config.site.base_url, self.config.paths.feeds,
                                               report.feed_files_written))
        return report

    def _failed(self, trigger: str, reason: str, logged: bool = False) -> None:
        """A run could not be made: one line, /healthz failing, and the next try after a back-off
        (the scheduled job, brought forward; files seen meanwhile wait for it)."""
        self.metrics.run_errors.inc()
        self.state.failures += 1
        self.state.last_error = reason
        delay = retry_delay(self.state.failures, self.config.service.interval_seconds)
        if self.stop.is_set():  # stopping: no next try to announce
            if not logged:
                log.error("%s run failed: %s", trigger, reason)
            return
        if not logged:
            log.error("%s run failed: %s (trying again in %g s)", trigger, reason, delay)
        job = self.scheduler.get_job("publish") if self.scheduler else None
        retry = datetime.now(UTC) + timedelta(seconds=delay)
        if job is not None and (job.next_run_time is None or job.next_run_time > retry):
            job.modify(next_run_time=retry)

    def _ping_loop(self) -> None:
        """Tell the WebSub hub, one publish at a time, off the publishing threads. A daemon
        thread: a hub that hangs never holds up a stop."""
        while True:
            urls = self.pings.get()
            try:
                for line in websub.notify(self.config.service.hub, urls):
                    log.warning("%s", line)
            except Exception:
                log.exception("WebSub ping failed")

    def reload(self) -> None:
        """Serve what is in feeds/ now: read under the write lock, so never half a publish."""
        errors: list[str] = []
        try:
            with lock.held(self.config.paths.lock, wait=LOCK_WAIT_SECONDS):
                self.feeds_dirty.clear()
                n = self.app.reload(errors)
        except PublisherError as exc:
            log.warning("feeds not reloaded: %s", exc)
            return
        except Exception as exc:  # a bug: one line; what was served is served still, and the next publish tries again
            log.error("feeds not reloaded: %s: %s", type(exc).__name__, exc)
            return
        for line in errors:
            log.warning("%s", line)
        self.metrics.files_served.set(n)

    # -- watching --

    def _settle_loop(self) -> None:
        tick = max(0.05, min(0.2, self.config.service.settle_seconds / 4))
        while not self.stop.wait(tick):
            try:
                # while runs fail, files seen wait for the scheduled retry (one run per back-off)
                paths = [] if self.state.failures else self.settler.due(time.monotonic(), stat_key)
                if paths:
                    report = self._run("watch", only=paths)
                    if report is None and not self.stop.is_set():  # busy: try again soon
                        for p in paths:
                            self.settler.touch(p, time.monotonic())
                if self.feeds_dirty.is_set():  # another process published
                    self.reload()
                if self.config_changed.is_set():
                    time.sleep(0.2)  # an editor may write the file in steps
                    self.config_changed.clear()
                    self.reload_config()
            except Exception:
                log.exception("file pickup failed")

    def seen(self, path: str | bytes, *, instant: bool = False) -> None:
        """The watcher saw `path` change (instant: renamed into place, so complete)."""
        path = Path(os.fsdecode(path))
        root = self.config.paths.sources
        if not path.is_relative_to(root) or any(ignored(part) for part in path.relative_to(root).parts):
            return  # e.g. name.part: its rename to name is the event that counts
        self.settler.touch(path, time.monotonic(), instant=instant)

    def seen_directory(self, path: str | bytes, *, instant: bool) -> None:
        for dirpath, dirnames, filenames in os.walk(os.fsdecode(path)):
            dirnames[:] = [d for d in dirnames if not ignored(d)]
            for name in filenames:
                self.seen(os.path.join(dirpath, name), instant=instant)

    def _start_watching(self) -> None:
        service = self
        sources = self.config.paths.sources

        class Sources(FileSystemEventHandler):
            def on_any_event(self, event):
                kind = event.event_type
                if kind in ("opened", "closed_no_write", "deleted"):
                    return
                if event.is_directory:
                    if kind in ("created", "moved"):
                        target = event.dest_path if kind == "moved" else event.src_path
                        service.seen_directory(target, instant=kind == "moved")
                    return
                if kind == "moved":
                    service.seen(event.dest_path, instant=True)
                else:
                    service.seen(event.src_path)

        config_path = str(self.config.path.resolve())

        class ConfigFile(FileSystemEventHandler):
            def on_any_event(self, event):
                paths = (event.src_path, getattr(event, "dest_path", "") or "")
                if event.event_type in ("created", "modified", "moved", "closed") and \
                        any(os.fsdecode(p) == config_path for p in paths if p):
                    service.config_changed.set()

        class Feeds(FileSystemEventHandler):
            def on_any_event(self, event):
                if event.event_type in ("moved", "created", "deleted"):
                    service.feeds_dirty.set()

        try:
            sources.mkdir(parents=True, exist_ok=True)
            self.config.paths.feeds.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            log.error("%s: cannot create directory: %s", exc.filename, exc.strerror or exc)
        observer = Observer()
        try:
            observer.schedule(Sources(), str(sources), recursive=True)
            observer.schedule(Feeds(), str(self.config.paths.feeds), recursive=True)
            observer.schedule(ConfigFile(), str(self.config.path.resolve().parent), recursive=False)
            observer.start()
        except OSError as exc:
            log.error("%s: cannot watch (%s); new files are read on the schedule only",
                      sources, exc.strerror or exc)
            return
        self.observer = observer

    def reload_config(self) -> None:
        """Read the config file again. A bad one is reported and the last good one stays in
        force; a good one takes effect at once (schedule, feeds, topics, dedup, WebSub), except
        for [server] and [paths], which need a restart (said so in the log)."""
        old = self.config
        try:
            new = load(old.path)
            check_config(new)  # (ids never change: a new [site] id_authority is refused here)
        except ConfigError as exc:
            self.config_error = str(exc)
            log.error("%s; the last good config stays in force", exc)
            return
        self.config_error = None
        if new == old:
            log.info("%s: config unchanged", old.path)
            return
        for key in ("paths", "service.host", "service.port", "service.cache_max_age",
                    "service.header_timeout_seconds", "service.keepalive_timeout_seconds", "service.max_connections"):
            a, b = old, new
            for part in key.split("."):
                a, b = getattr(a, part), getattr(b, part)
            if a != b:
                shown = f"[server] {key.removeprefix('service.')}" if key.startswith("service.") else f"[{key}]"
                log.warning("%s: %s changed: that takes a restart", old.path, shown)
        self.config = new
        self.settler.settle = new.service.settle_seconds
        log.info("%s: config reloaded (%d topics, %d feeds)", new.path, len(new.topics), len(new.feed_sources))
        if self.scheduler:
            for job in ("publish", "poll"):
                if new.service.interval_seconds != old.service.interval_seconds:
                    self.scheduler.reschedule_job(job, trigger="interval", seconds=new.service.interval_seconds)
                # new feeds, rules or settings: publish with them now, not at the next interval
                self.reloaded[job].set()
                self.scheduler.modify_job(job, next_run_time=datetime.now(UTC))
        if self.server:
            self.server.access = self._access if self.access_flag or new.service.access_log else None

    # -- HTTP routes --

    def _healthz(self) -> tuple[int, str, bytes]:
        import json

        job = self.scheduler.get_job("publish") if self.scheduler else None
        ok, doc = health(datetime.now(UTC), started=self.state.started, last_run=self.state.last_run,
                         last_success=self.state.last_success, next_run=job.next_run_time if job else None,
                         interval=self.config.service.interval_seconds,
                         grace=self.config.service.misfire_grace_seconds,
                         scheduler_running=bool(self.scheduler and self.scheduler.running),
                         failures=self.state.failures, last_error=self.state.last_error,
                         config_error=self.config_error)
        return (200 if ok else 503), "application/json", (json.dumps(doc) + "\n").encode()

    @staticmethod
    def _access(client: str, method: bytes, path: str, answer: http.Response, seconds: float) -> None:
        """One access log line: client, method and path, status, body bytes, time to answer."""
        if not path.isprintable():  # a decoded %0a never breaks a line of the log
            path = path.encode("unicode_escape").decode("ascii")
        access_log.info('%s "%s %s" %d %d %.3fms', client, method.decode("latin-1"), path, answer.status,
                        len(answer.body), seconds * 1000)

    def _search(self, text: str, page: int, topic: str | None) -> tuple[int, bytes]:
        """/search: the stories of the database as it is now (committed), read-only."""
        return search.answer(self.searcher, self.config, text, page, topic)

    def _metrics(self) -> tuple[int, str, bytes]:
        from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4  # what Prometheus 2 and 3 both read
        return 200, CONTENT_TYPE_PLAIN_0_0_4, self.metrics.text()

    # -- life --

    def _start_scheduler(self) -> None:
        """Two jobs, each run now and every interval, in threads of their own (a job never
        overlaps itself): the files, and the feeds (whose fetch may take up to a minute)."""
        cfg = self.config.service
        self.scheduler = BackgroundScheduler(executors={"default": JobExecutor(2)}, timezone=UTC,
                                             job_defaults={"coalesce": True, "max_instances": 1,
                                                           "misfire_grace_time": int(cfg.misfire_grace_seconds)})
        for job, run in (("publish", self.scheduled_run), ("poll", self.poll_run)):
            self.scheduler.add_job(run, "interval", seconds=cfg.interval_seconds, id=job,
                                   next_run_time=datetime.now(UTC))
        self.scheduler.start()

    def serve_forever(self) -> int:
        cfg = self.config.service
        sock = _listen(cfg.host, cfg.port)
        host, port = sock.getsockname()[:2]
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        self.app.reload()
        self.metrics.files_served.set(len(self.app.files))

        self._start_scheduler()
        self._start_watching()
        settle_thread = threading.Thread(target=self._settle_loop, name="settle", daemon=True)
        settle_thread.start()
        threading.Thread(target=self._ping_loop, name="websub", daemon=True).start()  # a hub may come later

        # The access log is off by default: a line costs more than the answer (a feed reader's
        # conditional GET is one dict lookup here); off, a request pays two `is None` checks.
        # Refused clients are counted in the log either way.
        # Our signal handlers (they stop the scheduler too) stop it through shutdown().
        server = http.Server(self.app.respond, http.Limits(
            header_timeout=cfg.header_timeout_seconds, keepalive_timeout=cfg.keepalive_timeout_seconds,
            max_connections=cfg.max_connections), access=self._access if self.access_flag or cfg.access_log else None)
        self.server = server

        def on_signal(signum, frame):
            force = self.stop.is_set()  # a second signal: no more waiting
            log.info("%s: stopping", signal.Signals(signum).name)
            self.stop.set()
            server.shutdown(force=force)

        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        def on_hup(signum, frame):
            log.info("SIGHUP: reading %s again", self.config.path)
            self.config_changed.set()

        previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, on_hup)
        # the serving line after the handlers: a signal sent as soon as it is read is ours
        shown = f"[{host}]" if ":" in host else host
        url = f"http://{shown}:{port}/"
        print(f"publisher: serving {url} (sources: {self.config.paths.sources}, "
              f"every {cfg.interval_seconds:g} s and on new files)", file=self.out, flush=True)
        feeds = [t.slug for t in self.config.topics] + [self.config.merged.slug]
        for slug in feeds:
            print(f"  {url}{slug}/atom.xml   {url}{slug}/rss.xml", file=self.out, flush=True)
        try:
            server.run(sock)
        finally:
            self.stop.set()
            deadline = time.monotonic() + STOP_SECONDS - 1
            if self.observer:
                self.observer.stop()
            self.scheduler.shutdown(wait=True)  # a run in progress stops at its next boundary
            settle_thread.join(max(0.1, deadline - time.monotonic()))
            if self.observer:
                self.observer.join(max(0.1, deadline - time.monotonic()))
            for s, handler in previous.items():
                signal.signal(s, handler)
            sock.close()
            self.searcher.close()
        log.info("stopped")
        return 0


def _listen(host: str, port: int) -> socket.socket:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConfigError(f"[server] host: cannot resolve {host!r}: {exc.strerror or exc}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"[server] {host}:{port}: cannot listen: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def _take(event: threading.Event) -> bool:
    if event.is_set():
        event.clear()
        return True
    return False


def run(config: Config, *, log_level: str = "info", access_log: bool = False) -> int:
    """`publisher run`. Raises LockHeld when another `run` is using the same database."""
    from publisher import logs

    logs.setup(log_level)
    with lock.held(config.paths.run_lock, what="`publisher run` is already running on this database"):
        return Service(config, access=access_log).serve_forever()
