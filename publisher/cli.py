"""The `publisher` command.

    publisher init [DIR]
    publisher [--config PATH] [--log-level LEVEL] run [--access-log]
    publisher [--config PATH] publish [--wait SECONDS]
    publisher [--config PATH] add URL_OR_FILE [--title TEXT] [--interval SECONDS] [--yes]
    publisher [--config PATH] remove URL_OR_FILE
    publisher [--config PATH] status [--json]
    publisher [--config PATH] classify FILE
    publisher [--config PATH] retract ID [--reason TEXT]
    publisher [--config PATH] unretract ID
    publisher [--config PATH] list [--topic SLUG] [--limit N]
    publisher [--config PATH] search WORDS... [--topic SLUG] [--limit N]
    publisher [--config PATH] explain ID
    publisher [--config PATH] reread FILE

The config: --config PATH, else $PUBLISHER_CONFIG, else ./config.toml, else
/etc/publisher/config.toml (config.locate); `init` needs none.

Exit status: 0 success (skipped files are not failures); 1 some source failed or a file could
not be written (the rest is still published), or the database or the disk failed (one line:
`publisher: <path>: database error: database or disk is full`); 2 usage or config error, or
the lock is held; 3 (`add`) a web page that links to feeds: listed, none added (--yes adds the first).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

from publisher import __version__, search, stories
from publisher.add import AddError, add, remove
from publisher.config import Config, load, locate
from publisher.errors import ConfigError, LockHeld, PublisherError, UnknownStory
from publisher.model import Decision, TopicMatch
from publisher.publish import publish
from publisher.report import Progress, PublishReport
from publisher.status import status
from publisher.store import format_time

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
_ID_HELP = ("the story: its tag: id, its name, its page's URL or path (/stories/NAME.html), or the first "
            f"{stories.HASH_PREFIX_MIN}+ hex digits of its id's hash (as `list` shows)")


LIMIT_MAX = 1_000_000  # --limit: more than any terminal shows (and SQLite's integers hold)


def _at_least_one(value: str) -> int:
    """--limit N: a whole number from 1 to LIMIT_MAX (0 would print nothing and look like an
    empty store)."""
    if not (value.isascii() and value.isdigit() or value[:1] == "-" and value[1:].isascii() and value[1:].isdigit()):
        raise argparse.ArgumentTypeError(f"not a whole number: {value[:20]!r}")
    if len(value) > 12 or not 1 <= int(value) <= LIMIT_MAX:
        raise argparse.ArgumentTypeError(f"must be from 1 to {LIMIT_MAX:,}, not {value[:20]}")
    return int(value)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="publisher", description="Wire copy in, clean topic feeds out.")
    p.add_argument("--config", type=Path, default=None, metavar="PATH",
                   help="config file (default: $PUBLISHER_CONFIG, else ./config.toml, else /etc/publisher/config.toml)")
    p.add_argument("--log-level", choices=("debug", "info", "warning", "error"), metavar="LEVEL",
                   help="log lines of this level and above: debug, info, warning, error (default: info for run)")
    p.add_argument("--version", action="version", version=f"publisher {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    it = sub.add_parser("init", help="a new project: DIR/config.toml (commented) and DIR/sources/")
    it.add_argument("dir", type=Path, nargs="?", default=Path("."), metavar="DIR", help="where (default: .)")
    rn = sub.add_parser("run", help="the service: publish on a schedule and on new files, serve the feeds over HTTP")
    rn.add_argument("--access-log", action="store_true", help="log one line per request (or [server] access_log)")
    pb = sub.add_parser("publish", help="read sources, update the store, write changed feeds (once)")
    pb.add_argument("--wait", type=float, default=30.0, metavar="SECONDS",
                    help="how long to wait while another process is writing (default: 30)")
    ad = sub.add_parser("add", help="add a source: a feed URL (to config.toml) or a file (copied into sources/)")
    ad.add_argument("source", metavar="URL_OR_FILE")
    ad.add_argument("--title", metavar="TEXT", help="a feed URL's title (default: the feed's own)")
    ad.add_argument("--interval", type=float, metavar="SECONDS", help="poll a feed URL at most this often")
    ad.add_argument("--yes", action="store_true", help="a web page's URL: add the first feed it links to")
    rm = sub.add_parser("remove", help="undo add: a feed URL leaves config.toml, a file leaves sources/")
    rm.add_argument("source", metavar="URL_OR_FILE")
    st = sub.add_parser("status", help="entries per topic and the last read of every source")
    st.add_argument("--json", action="store_true", help="machine-readable output")
    cl = sub.add_parser("classify", help="dry run: the stories a file gives and their topics; stores nothing")
    cl.add_argument("file", type=Path, metavar="FILE")
    rt = sub.add_parser("retract", help="take a story out of every feed, at once, for good (until unretract)")
    rt.add_argument("id", metavar="ID", help=_ID_HELP)
    rt.add_argument("--reason", metavar="TEXT", help="why (shown by status and explain)")
    why = "undo retract: the story is back in its feeds, at once"
    ur = sub.add_parser("unretract", help=why, description=why)
    ur.add_argument("id", metavar="ID", help=_ID_HELP)
    why = ("the newest stories first, one a line: the start of the id's hash (an ID for explain, retract), "
           "first seen, updated, topics, name; retracted ones too, marked RETRACTED")
    ls = sub.add_parser("list", help=why, description=why)
    ls.add_argument("--topic", metavar="SLUG", help="only this topic's stories (the merged feed's slug: any topic's)")
    ls.add_argument("--limit", type=_at_least_one, default=stories.LIST_LIMIT, metavar="N",
                    help=f"at most N stories (default: {stories.LIST_LIMIT})")
    why = ("the stories with every word, newest first: the start of the id's hash, first seen, topics, name; "
           "the title and a snippet, the matches [marked]; the story's page")
    se = sub.add_parser("search", help=why, description=why)
    se.add_argument("words", nargs="+", metavar="WORDS", help="words to find (all of them; no search syntax; after -- a word may start with -)")
    se.add_argument("--topic", metavar="SLUG", help="only this topic's stories (the merged feed's slug: any topic's)")
    se.add_argument("--limit", type=_at_least_one, default=search.SEARCH_LIMIT, metavar="N",
                    help=f"at most N stories (default: {search.SEARCH_LIMIT}, at most {search.MAX_LIMIT})")
    ex = sub.add_parser("explain", help="a story's history: versions, sources, matches, topics")
    ex.add_argument("id", metavar="ID", help=_ID_HELP)
    rr = sub.add_parser("reread", help="place a file's stories again with today's rules (split an old merge)")
    rr.add_argument("file", metavar="FILE", help="a file in sources/ (its path or its name there)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.log_level:
        from publisher import logs
        logs.setup(args.log_level)
    try:
        if args.command == "init":
            from publisher.scaffold import init
            print("\n".join(init(args.dir)))
            return EXIT_OK
        config = load(locate(args.config))
        if args.command == "run":
            from publisher import service  # the service's libraries load only for `run`
            return service.run(config, log_level=args.log_level or "info", access_log=args.access_log)
        if args.command == "publish":
            return _publish(config, args.wait)
        if args.command == "add":
            print(add(config, args.source, title=args.title, interval=args.interval, yes=args.yes).message)
            return EXIT_OK
        if args.command == "remove":
            print(remove(config, args.source).message)
            return EXIT_OK
        if args.command == "status":
            return _status(config, args.json)
        if args.command == "retract":
            return _retract(config, args.id, args.reason)
        if args.command == "unretract":
            return _unretract(config, args.id)
        if args.command == "list":
            return _list(config, args.topic, args.limit)
        if args.command == "search":
            return _search(config, args.words, args.topic, args.limit)
        if args.command == "explain":
            return _explain(config, args.id)
        if args.command == "reread":
            rep = stories.reread(config, args.file, datetime.now(UTC))
            if rep.outcome == "unchanged":
                print(f"reread {rep.name}: nothing to change ({rep.reason})")
            else:
                print(f"reread {rep.name}: {rep.stories} stories placed again ({rep.new} new, {rep.revised} revised, "
                      f"{rep.duplicate} duplicate); feeds published")
            return EXIT_OK
        return _classify(config, args.file)
    except (ConfigError, LockHeld, UnknownStory) as exc:
        print(f"publisher: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except AddError as exc:
        for line in exc.lines:
            print(line)
        print(f"publisher: {exc}", file=sys.stderr)
        return exc.code
    except PublisherError as exc:
        print(f"publisher: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `publisher classify FILE | head`: the reader left, nothing to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except OSError as exc:  # one no use case made a file's result (a full disk, say): one line, no traceback
        print(f"publisher: {f'{exc.filename}: ' if exc.filename else ''}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILED


def _progress_bar():
    """A rich progress bar on a terminal; nothing at all otherwise."""
    if not sys.stderr.isatty():
        return None, None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn("reading"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                   TextColumn("{task.description}"), transient=True)
    task = bar.add_task("", total=None)

    def update(done: int, total: int, name: str) -> None:
        bar.update(task, completed=done, total=total, description=name)

    return bar, update


def _publish(config: Config, wait: float) -> int:
    bar, update = _progress_bar()
    progress: Progress | None = update
    if bar:
        with bar:
            report = publish(config, datetime.now(UTC), progress=progress, wait=wait)
    else:
        report = publish(config, datetime.now(UTC), wait=wait)
    for line in report.problems():
        print(line, file=sys.stderr)
    print(report.summary())
    if config.service.hub and report.feed_files_written:
        from publisher import websub
        urls = websub.changed_urls(config.site.base_url, config.paths.feeds, report.feed_files_written)
        for line in websub.notify(config.service.hub, urls):
            print(line, file=sys.stderr)  # the feeds are published all the same
    return EXIT_OK if report.ok else EXIT_FAILED


NO_TOPIC = "in no topic"  # what status, classify, explain and search call a story no topic takes


def _utc(value: str | None) -> str | None:
    """A stored time as every other line writes it ("...Z"; the service keeps "+00:00")."""
    if not value:
        return value
    try:
        return format_time(datetime.fromisoformat(value))
    except ValueError:
        return value


def _status(config: Config, as_json: bool) -> int:
    data = status(config, datetime.now(UTC))
    if as_json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return EXIT_OK
    svc = data["service"]
    if svc["running"]:
        print(f"service: running (pid {svc['running']}); next run {_utc(svc['next_run']) or 'not yet scheduled'}")
    else:
        print("service: not running")
    if svc["last_run"]:
        result = "ok" if svc["last_run_ok"] else "with problems"
        print(f"last run: {_utc(svc['last_run'])} ({result}): {svc['last_run_summary']}")
    topics = ", ".join(f"{slug} {n}" for slug, n in data["topics"].items())
    (merged, n_merged), = data["merged"].items()
    print(f"entries: {data['entries']} ({topics}; {merged} {n_merged}; {NO_TOPIC} {data['unclassified']})")
    past = f" ({data['past_caps']:,} stories past a [limits] cap: not read, or cut short)" if data["past_caps"] else ""
    print(f"sources: {len(data['sources'])}{past}")
    if data["versions_not_shown"]:
        print(f"stories with more versions than their pages show (limits.versions_per_story): "
              f"{data['versions_not_shown']:,}")
    for s in data["sources"]:
        counts = f"{s['stories']} stories ({s['new']} new, {s['revised']} revised, {s['duplicate']} duplicate)"
        if s["past_caps"]:
            counts += f", {s['past_caps']:,} past a cap"
        line = f"  {s['outcome']:<9} {s['path']}  {counts}  read {s['read_at']}"
        print(line + (f"  ({s['reason']})" if s["reason"] else ""))
    if data["feeds"]:
        print(f"feeds: {len(data['feeds'])}")
        for f in data["feeds"]:
            state = "never fetched" if not f["fetched_at"] else (
                f"failing ({f['errors']} in a row: {f['last_error']})" if f["errors"] else "ok")
            print(f"  {f['url']}  {f['title'] or ''}  {state}; last success {f['last_success'] or 'never'}; "
                  f"next fetch {f['next_fetch'] or 'now'}")
    if data["retracted"]:
        print(f"retracted: {len(data['retracted'])}")
        for r in data["retracted"]:
            why = f": {r['reason']}" if r["reason"] else ""
            print(f"  {r['id']}  {r['title']}  (retracted {r['retracted_at']}{why})")
    return EXIT_OK


def _retract(config: Config, ref: str, reason: str | None) -> int:
    r = stories.retract(config, ref, reason, datetime.now(UTC))
    if r.done:
        print(f"retracted {r.entry_id} ({r.title}); it is out of every feed")
    else:
        print(f"{r.entry_id} ({r.title}) was already retracted on {r.retracted_at}")
    return _rewritten(config, r.report)


def _unretract(config: Config, ref: str) -> int:
    r = stories.unretract(config, ref, datetime.now(UTC))
    if r.done:
        print(f"unretracted {r.entry_id} ({r.title}); it is back in its feeds")
    else:
        print(f"{r.entry_id} ({r.title}) is not retracted")
    return _rewritten(config, r.report)


def _rewritten(config: Config, report: PublishReport) -> int:
    """After retract/unretract wrote the feeds again: its problems, and the WebSub pings."""
    for line in report.problems():
        print(line, file=sys.stderr)
    if config.service.hub and report.feed_files_written:
        from publisher import websub
        urls = websub.changed_urls(config.site.base_url, config.paths.feeds, report.feed_files_written)
        for line in websub.notify(config.service.hub, urls):
            print(line, file=sys.stderr)
    return EXIT_OK if report.ok else EXIT_FAILED


def _list(config: Config, topic: str | None, limit: int) -> int:
    for s in stories.list_stories(config, topic, limit, datetime.now(UTC)):
        short = s["id"].rpartition("/")[2][:12]
        mark = "  RETRACTED" if s["retracted_at"] else ""
        print(f"{short}  {s['first_seen'][:19]}Z  {s['updated'][:19]}Z  {','.join(s['topics']) or '-'}  "
              f"{s['name']}{mark}")
    return EXIT_OK


# a story's text never drives the terminal, nor turns a line around (bidi overrides)
_TERMINAL_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _marked(segments, bold: bool) -> str:
    """Search matches as [brackets] (bold on a terminal)."""
    on, off = ("\x1b[1m", "\x1b[0m") if bold else ("[", "]")
    return "".join(f"{on}{text}{off}" if hit else text
                   for hit, text in ((hit, _TERMINAL_CONTROLS.sub(" ", text)) for hit, text in segments))


def _search(config: Config, words: list[str], topic: str | None, limit: int) -> int:
    results = search.search_stories(config, words, topic, limit, datetime.now(UTC))
    if not results.found:
        why = "" if results.query.expression else " (no word to search for: give letters or digits)"
        print(f"no stories match {' '.join(words)!r}{why}")
        return EXIT_OK
    bold = sys.stdout.isatty()
    for f in results.found:
        short = f.entry_id.rpartition("/")[2][:12]
        print(f"{short}  {search.iso(f.first_seen)}  {','.join(f.topics) or '-'}  {f.name}")
        print(f"    {_marked(f.title, bold)}")
        if f.snippet:
            print(f"    {_marked(f.snippet, bold)}")
        print(f"    {config.site.base_url}stories/{f.name}.html" if f.topics else f"    ({NO_TOPIC}: no page)")
    if results.query.cut:
        print(f"(only the first words were searched: {results.query.text})", file=sys.stderr)
    return EXIT_OK


_DECISIONS = {
    Decision.NEW: "a new story",
    Decision.DUPLICATE: "a copy of a text already stored",
    Decision.REVISION: "a revision of the story",
    Decision.FULLER: "a fuller version of the story (it contains the text it was compared with)",
    Decision.TEASER: "a teaser of the story (a shorter text inside it): recorded, not published",
    Decision.NEAR_DUPLICATE: "a near-duplicate, not published (on_near_duplicate = skip)",
    Decision.OLDER: "an older version (its file is dated before the shown text's): recorded, not published",
}


def _lines(first: int | None, last: int | None) -> str:
    return f"line {first}" if first == last else f"lines {first}-{last}"


def _explain(config: Config, ref: str) -> int:
    explained = stories.explain(config, ref, datetime.now(UTC))
    h = explained.history
    current = next(v for v in h["versions"] if v["current"])
    number = {v["version"]: i for i, v in enumerate(h["versions"], start=1)}
    print(f"{h['entry_id']}  ({h['name']})")
    print(f"  {_TERMINAL_CONTROLS.sub(' ', current['title'])}")
    print(f"  first seen {h['first_seen']}, updated {h['updated']}")
    if h["retracted_at"]:
        why = f": {h['retract_reason']}" if h["retract_reason"] else ""
        print(f"  RETRACTED {h['retracted_at']}{why} (in no feed; copies and revisions stay out)")
    for v in h["versions"]:
        mark = " (current)" if v["current"] else ""
        dated = f", its file dated {v['dated'][:10]}" if v.get("dated") else ""
        print(f"version {number[v['version']]}{mark}, first seen {v['seen_at']}{dated}, fingerprint {v['fingerprint'][:12]}:")
        print(f"  {_TERMINAL_CONTROLS.sub(' ', v['title'])}")
        for a in v["arrivals"]:
            what = _DECISIONS.get(a["decision"] or "", a["decision"] or "recorded before decisions were kept")
            if a["compared_version"] is not None:
                other = f"version {number[a['compared_version']]}" if a["compared_version"] in number else \
                    f"{a['compared_entry']}"
                what += f"; compared with {other}: Jaccard {a['jaccard']:.2f}, containment {a['containment']:.2f}"
            print(f"  from {a['path']} {_lines(a['first_line'], a['last_line'])}, read {a['read_at']}: {what}")
    accepted = [m.slug for m in explained.matches if m.accepted]
    print(f"topics (current rules, current version): {', '.join(accepted) or NO_TOPIC}")
    _print_matches(explained.matches)
    return EXIT_OK


def _hits(term: str, n: int) -> str:
    """A term and how often it counted (at most MAX_HITS_PER_TERM times: the rest said apart)."""
    from publisher.classify import MAX_HITS_PER_TERM

    if n > MAX_HITS_PER_TERM:
        return f"{term}×{MAX_HITS_PER_TERM} ({n} hits)"
    return f"{term}×{n}" if n > 1 else term


def _print_matches(matches: list[TopicMatch]) -> None:
    for m in matches:
        terms = ", ".join(_hits(t, n) for t, n in m.matched if (t, n) not in m.against) or "no terms"
        verdict = "in" if m.accepted else "out"
        why = (f"; excluded by \"{m.excluded_by}\"" if m.excluded_by else "") + \
              ("; no required term" if m.missing_required else "")
        if m.density is not None:
            why += f"; {m.density:g} per 100 words (at least {m.min_density:g})"
        parts = f" [{', '.join(f'{p} {v:g}' for p, v in m.parts)}]" if m.parts else ""
        against = f"; against: {', '.join(_hits(t, n) for t, n in m.against)}" if m.against else ""
        print(f"   {verdict:<3} {m.slug}: score {m.score:g} of {m.threshold:g}{parts}{why} ({terms}){against}")


def _classify(config: Config, file: Path) -> int:
    try:
        run = stories.classify_file(config, file)
    except OSError as exc:
        print(f"{file}: cannot read: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILED
    result = run.result
    for warning in result.warnings:
        print(f"{file}: warning: {warning}", file=sys.stderr)
    if result.skipped:
        print(f"{file}: skipped: {result.skipped}")
        return EXIT_OK
    starts = {b.line: b for b in run.boundaries}
    for i, (story, matches) in enumerate(run.stories, start=1):
        accepted = [m.slug for m in matches if m.accepted]
        print(f"{i}. {story.title}")
        where = "topics: " + ", ".join(accepted) if accepted else NO_TOPIC
        print(f"   {_lines(story.first_line, story.last_line)}; {where}")
        if story.first_line in starts:
            b = starts[story.first_line]
            print(f"   split from the story before: score {b.score:.2f} of {b.threshold:.2f} ({', '.join(b.cues)})")
        _print_matches(matches)
    if run.near_misses:
        print("near misses (not split):")
        for b in run.near_misses:
            print(f"   before line {b.line}: score {b.score:.2f} of {b.threshold:.2f} ({', '.join(b.cues) or 'no cues'})")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
