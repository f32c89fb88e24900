"""Serving benchmark: the embedded server (`publisher run`) vs nginx with deploy/nginx.conf.

    python bench/serve.py [--seconds 10] [--rounds 3] [--connections 50] [--out DIR]

Publishes 60 stories (a 50-entry feed), starts `publisher run` and nginx on the same feeds
directory, and loads both with the same generator (wrk, one thread, loopback), alternating
servers and request kinds each round: conditional GETs (If-None-Match with each server's own
ETag: 304s, what feed readers send most) and full GETs of all/atom.xml. Reported: medians of
the rounds and the embedded/nginx ratio measured in the same run (the machine is shared and
noisy; ratios travel, absolute numbers do not). Goal: embedded >= 0.5x nginx for 304s.
Results are printed and written to serve.json and serve.md in bench/results/ (or --out DIR).
"""

from __future__ import annotations

import os
import re
import shutil
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
    ratio = {kind: med["embedded"][kind] / med["nginx"][kind] for kind in ("304", "200")}
    doc = {
        **stamp(),
        "versions": {"uvicorn": version("uvicorn"), "nginx": subprocess.run(
            [nginx.NGINX, "-v"], capture_output=True, text=True).stderr.strip().split("/")[-1]},
        "load": f"wrk -t1 -c{args.connections} -d{args.seconds:g}s, {args.rounds} rounds, loopback",
        "feed": {"path": FEED, "entries": entries, "bytes": size},
        "rounds": results, "median_rps": med, "embedded_vs_nginx": ratio,
        "failed_requests": problems,
        "goal": "embedded >= 0.5x nginx for conditional GETs (304)",
        "goal_met": ratio["304"] >= 0.5,
    }
    md = [f"Serving {FEED} ({entries} entries, {size:,} bytes); {doc['load']}; {doc['machine']}; {doc['when']}",
          "",
          "| request | embedded (publisher run) | nginx, deploy/nginx.conf | embedded / nginx "
          "| nginx without open_file_cache | uvicorn ceiling (fixed answer) |",
          "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for kind, label in (("304", "conditional GET (304)"), ("200", "full GET (200)")):
        md.append(f"| {label} | {med['embedded'][kind]:,.0f} | {med['nginx'][kind]:,.0f} | {ratio[kind]:.2f}x "
                  f"| {med['nginx_no_cache'][kind]:,.0f} | {med['uvicorn_ceiling'][kind]:,.0f} |")
    md += ["", "Requests per second, medians of the rounds.",
           f"Failed requests: {problems}. Goal (embedded >= 0.5x nginx for 304s): "
           f"{'met' if doc['goal_met'] else 'NOT met'}."]
    write_results(args.out, "serve", doc, "\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
