"""Serving benchmark: the embedded server (`publisher run`) vs nginx with deploy/nginx.conf.

    python bench/serve.py [--seconds 10] [--rounds 3] [--connections 50] [--out DIR]

Publishes 60 stories (a 50-entry feed), starts `publisher run` and nginx on the same feeds
directory, and loads both with the same generator (wrk, one thread, loopback), alternating
servers and request kinds each round: conditional GETs (If-None-Match with each server's own
ETag: 304s, what feed readers send most) and full GETs of all/atom.xml. Both run with their
limits on (the embedded server's defaults; deploy/nginx.conf sets nginx's to match: 32 KiB of
headers, 10 s header timeout, 5 s keep-alive), checked before measuring: each refuses 40 KB
of headers. Reported: medians of the rounds with their range, and the embedded/nginx ratio of
each round (the two measured minutes apart at most; the machine is shared and noisy: ratios
travel, absolute numbers do not). Goals: embedded >= 0.5x nginx for 304s, >= 0.6x for full GETs.
Results are printed and written to serve.json and serve.md in bench/results/ (or --out DIR).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import urllib.request
from importlib.metadata import version
from pathlib import Path

from _common import (BIN, ROOT, free_port, options, project_config, scratch, stamp, start_service, wait_until_up,
                     write_results)
from corpus import kyiv_wire
from harness import nginx

FEED = "/all/atom.xml"


def wrk(url: str, seconds: float, connections: int, headers: dict[str, str]) -> dict:
    args = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "5s"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run(args + [url], capture_output=True, text=True, timeout=seconds + 30).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {"rps": rps, "non_2xx_3xx": int(bad.group(1)) if bad else 0,
            "socket_errors": sum(map(int, errors.groups())) if errors else 0}


def refuses_big_headers(base: str) -> int:
    """The status a server answers 40 KB of request headers with (it should refuse them)."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"GET " + FEED.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                     + b"".join(b"X-Pad-%02d: %s\r\n" % (i, b"v" * 1000) for i in range(40)) + b"\r\n")
        return int(sock.recv(65536).split(b" ", 2)[1])


def etag(url: str) -> str:
    with urllib.request.urlopen(url) as r:
        assert r.status == 200
        return r.headers["ETag"]


def main() -> int:
    args = options(__doc__, seconds=10.0, rounds=3, connections=50)
    for tool, why in (("wrk", "apt-get install wrk"), ("nginx", "apt-get install nginx-light")):
        if tool == "nginx" and nginx.NGINX or shutil.which(tool):
            continue
        print(f"bench/serve.py: {tool} is not installed ({why}); nothing measured", file=sys.stderr)
        return 2

    work = scratch("serve")
    config = project_config(work, port=free_port())
    (work / "sources" / "day.txt").write_text(kyiv_wire(60))
    subprocess.run([str(BIN), "--config", str(config), "publish"], check=True, capture_output=True)
    size = (work / "feeds" / FEED.lstrip("/")).stat().st_size
    entries = (work / "feeds" / FEED.lstrip("/")).read_bytes().count(b"<entry>")

    service, embedded = start_service(config)
    ceiling_port = free_port()
    ceiling = subprocess.Popen([str(Path(sys.executable).parent / "uvicorn"), "ceiling_app:app", "--port",
                                str(ceiling_port), "--log-level", "warning", "--no-access-log", "--no-proxy-headers"],
                               cwd=ROOT / "bench", env=dict(os.environ, CEILING_FILE=str(work / "feeds" / FEED[1:])),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    names = ["embedded", "nginx", "nginx_no_cache", "uvicorn_ceiling"]
    results: dict = {name: {"304": [], "200": []} for name in names}
    problems = 0
    try:
        with nginx.running(work / "nginx", work / "feeds", free_port()) as deployed, \
                nginx.running(work / "nginx2", work / "feeds", free_port(), open_file_cache=False) as plain:
            bases = {"embedded": embedded, "nginx": deployed, "nginx_no_cache": plain,
                     "uvicorn_ceiling": f"http://127.0.0.1:{ceiling_port}"}
            wait_until_up(bases["uvicorn_ceiling"] + FEED, proc=ceiling, name="uvicorn (ceiling_app)")
            tags = {name: etag(base + FEED) for name, base in bases.items()}
            limits = {name: refuses_big_headers(bases[name]) for name in ("embedded", "nginx")}
            if not all(400 <= code < 500 for code in limits.values()):
                print(f"bench/serve.py: the limits are not on: 40 KB of headers got {limits}", file=sys.stderr)
                return 1
            for r in range(args.rounds):
                order = names if r % 2 == 0 else names[::-1]
                for kind in ("304", "200"):
                    for name in order:
                        headers = {"If-None-Match": tags[name]} if kind == "304" else {}
                        m = wrk(bases[name] + FEED, args.seconds, args.connections, headers)
                        problems += m["non_2xx_3xx"] + m["socket_errors"]
                        results[name][kind].append(m["rps"])
                        print(f"round {r + 1}: {name:<15} {kind} {m['rps']:>10,.0f} req/s", flush=True)
    finally:
        for proc in (service, ceiling):
            proc.terminate()
            proc.wait(15)

    med = {name: {kind: statistics.median(v) for kind, v in kinds.items()} for name, kinds in results.items()}
    per_round = {kind: [e / n for e, n in zip(results["embedded"][kind], results["nginx"][kind])]
                 for kind in ("304", "200")}
    ratio = {kind: statistics.median(v) for kind, v in per_round.items()}
    doc = {
        **stamp(),
        "versions": {name: version(name) for name in ("httptools", "uvloop", "uvicorn")} | {
            "nginx": subprocess.run([nginx.NGINX, "-v"], capture_output=True, text=True).stderr.strip().split("/")[-1]},
        "load": f"wrk -t1 -c{args.connections} -d{args.seconds:g}s, {args.rounds} rounds, loopback",
        "feed": {"path": FEED, "entries": entries, "bytes": size},
        "limits_check": {name: f"40 KB of headers: {code}" for name, code in limits.items()},
        "rounds": results, "median_rps": med, "embedded_vs_nginx_per_round": per_round,
        "embedded_vs_nginx": ratio,
        "failed_requests": problems,
        "goal": "embedded >= 0.5x nginx for conditional GETs (304)",
        "goal_met": ratio["304"] >= 0.5,
        "goal_full_met": ratio["200"] >= 0.6,
    }

    def cell(name: str, kind: str) -> str:
        v = results[name][kind]
        return f"{med[name][kind]:,.0f} ({min(v):,.0f}–{max(v):,.0f})"

    md = [f"Serving {FEED} ({entries} entries, {size:,} bytes); {doc['load']}; {doc['machine']}; {doc['when']}",
          "",
          "| request | embedded (publisher run) | nginx, deploy/nginx.conf | embedded / nginx "
          "| nginx without open_file_cache | uvicorn ceiling (fixed answer) |",
          "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for kind, label in (("304", "conditional GET (304)"), ("200", "full GET (200)")):
        md.append(f"| {label} | {cell('embedded', kind)} | {cell('nginx', kind)} | {ratio[kind]:.2f}x "
                  f"({min(per_round[kind]):.2f}–{max(per_round[kind]):.2f}) "
                  f"| {cell('nginx_no_cache', kind)} | {cell('uvicorn_ceiling', kind)} |")
    md += ["", "Requests per second: medians of the rounds (lowest–highest); the ratio is the median of each "
           "round's embedded/nginx (lowest–highest).",
           f"Limits on: 40 KB of request headers got {limits['embedded']} from the embedded server and "
           f"{limits['nginx']} from nginx.",
           f"Failed requests: {problems}. Goals (issue 17): embedded >= 0.5x nginx for 304s: "
           f"{'met' if doc['goal_met'] else 'NOT met'}; >= 0.6x for full GETs: "
           f"{'met' if doc['goal_full_met'] else 'NOT met'}."]
    write_results(args.out, "serve", doc, "\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
