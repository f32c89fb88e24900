"""Serving benchmark: the embedded server (`publisher run`) vs nginx with deploy/nginx.conf.

    python bench/serve.py [--seconds 10] [--rounds 3] [--connections 50]

Publishes 60 stories (a 50-entry feed), starts `publisher run` and nginx on the same feeds
directory, and loads both with the same generator (wrk, one thread, loopback), alternating
servers and request kinds each round: conditional GETs (If-None-Match with each server's own
ETag: 304s, what feed readers send most) and full GETs of all/atom.xml. Reported: medians of
the rounds and the embedded/nginx ratio measured in the same run (the machine is shared and
noisy; ratios travel, absolute numbers do not). Goal: embedded >= 0.5x nginx for 304s.
Results are printed and written to bench/results/serve.json and bench/results/serve.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
import nginx_harness  # noqa: E402
from nginx_harness import free_port  # noqa: E402

RESULTS = ROOT / "bench" / "results"
WORK = ROOT / "bench" / "work" / "serve"
FEED = "/all/atom.xml"
BIN = Path(sys.executable).parent / "publisher"



def stories(n: int) -> str:
    """n distinct Ukraine stories in the wire format: a kicker line and a paragraph each."""
    rng = random.Random(5)
    words = ("grid shelter convoy repair winter council brigade harbour grain corridor power station "
             "volunteer bridge rail supply drone strike village mayor region school hospital fuel").split()
    out = []
    for i in range(n):
        body = " ".join(rng.choice(words) for _ in range(60))
        out.append(f"KYIV: Ukrainian officials in Kyiv reported item {i}: {body}.")
        out.append(f"The report, number {i * 7919}, said {' '.join(rng.sample(words, 12))} in Ukraine.")
    return "\n".join(out) + "\n"


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


def wait_until_up(url: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def etag(url: str) -> str:
    with urllib.request.urlopen(url) as r:
        assert r.status == 200
        return r.headers["ETag"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--connections", type=int, default=50)
    args = ap.parse_args()
    for tool, why in (("wrk", "apt-get install wrk"), ("nginx", "apt-get install nginx-light")):
        if tool == "nginx" and nginx_harness.NGINX or shutil.which(tool):
            continue
        print(f"bench/serve.py: {tool} is not installed ({why}); nothing measured", file=sys.stderr)
        return 2

    shutil.rmtree(WORK, ignore_errors=True)
    (WORK / "sources").mkdir(parents=True)
    port = free_port()
    text = (ROOT / "config.toml").read_text()
    text = re.sub(r"(?m)^port = 8080$", f"port = {port}", text)
    text = re.sub(r"(?m)^base_url = .*$", f'base_url = "http://127.0.0.1:{port}/"', text)
    config = WORK / "config.toml"
    config.write_text(text)
    (WORK / "sources" / "day.txt").write_text(stories(60))
    subprocess.run([str(BIN), "--config", str(config), "publish"], check=True, capture_output=True)
    size = (WORK / "feeds" / FEED.lstrip("/")).stat().st_size
    entries = (WORK / "feeds" / FEED.lstrip("/")).read_bytes().count(b"<entry>")

    service = subprocess.Popen([str(BIN), "--config", str(config), "run"], stdout=subprocess.PIPE,
                               stderr=open(WORK / "service.log", "wb"), text=True)
    ceiling_port = free_port()
    ceiling = subprocess.Popen([str(Path(sys.executable).parent / "uvicorn"), "ceiling_app:app", "--port",
                                str(ceiling_port), "--log-level", "warning", "--no-access-log", "--no-proxy-headers"],
                               cwd=ROOT / "bench", env=dict(os.environ, CEILING_FILE=str(WORK / "feeds" / FEED[1:])),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    names = ["embedded", "nginx", "nginx_no_cache", "uvicorn_ceiling"]
    results: dict = {name: {"304": [], "200": []} for name in names}
    problems = 0
    try:
        embedded = re.match(r"publisher: serving (http://\S+)/ ", service.stdout.readline()).group(1)
        with nginx_harness.running(WORK / "nginx", WORK / "feeds", free_port()) as nginx, \
                nginx_harness.running(WORK / "nginx2", WORK / "feeds", free_port(), open_file_cache=False) as plain:
            bases = {"embedded": embedded, "nginx": nginx, "nginx_no_cache": plain,
                     "uvicorn_ceiling": f"http://127.0.0.1:{ceiling_port}"}
            wait_until_up(bases["uvicorn_ceiling"] + FEED)
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
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "versions": {"uvicorn": version("uvicorn"), "nginx": subprocess.run(
            [nginx_harness.NGINX, "-v"], capture_output=True, text=True).stderr.strip().split("/")[-1]},
        "load": f"wrk -t1 -c{args.connections} -d{args.seconds:g}s, {args.rounds} rounds, loopback",
        "feed": {"path": FEED, "entries": entries, "bytes": size},
        "rounds": results, "median_rps": med, "embedded_vs_nginx": ratio,
        "failed_requests": problems,
        "goal": "embedded >= 0.5x nginx for conditional GETs (304)",
        "goal_met": ratio["304"] >= 0.5,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "serve.json").write_text(json.dumps(doc, indent=2) + "\n")
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
    (RESULTS / "serve.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
