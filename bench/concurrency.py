"""Concurrency at full size: `status`, `publish` and `run` on one database at once, for a minute.

    python bench/concurrency.py [--seconds 60] [--publishers 3] [--readers 3]

A `publisher run` picks up a new file every 0.1 s while --publishers loops of `publisher publish`
and --readers loops of `publisher status --json` run against the same database. Counted: commands
run, commands that failed, any output mentioning a locked database, and at the end whether the
store holds every story dropped exactly once (no lost update). Writes bench/results/concurrency.*.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from test_reliability import stories_text  # noqa: E402

RESULTS = ROOT / "bench" / "results"
WORK = ROOT / "bench" / "work" / "concurrency"
BIN = Path(sys.executable).parent / "publisher"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--publishers", type=int, default=3)
    ap.add_argument("--readers", type=int, default=3)
    args = ap.parse_args()
    shutil.rmtree(WORK, ignore_errors=True)
    (WORK / "sources").mkdir(parents=True)
    text = re.sub(r"(?m)^port = 8080$", "port = 0", (ROOT / "config.toml").read_text())
    (WORK / "config.toml").write_text(re.sub(r"(?m)^settle_seconds = .*$", "settle_seconds = 0.2", text))
    config = str(WORK / "config.toml")
    service = subprocess.Popen([str(BIN), "--config", config, "run"], stdout=subprocess.PIPE,
                               stderr=open(WORK / "service.log", "wb"), text=True)
    service.stdout.readline()
    texts = stories_text(int(args.seconds * 10) + 10, seed=31)
    until = time.monotonic() + args.seconds
    counts = {"commands": 0, "failed": 0, "locked": 0, "dropped": 0}
    guard = threading.Lock()

    def loop(*command):
        while time.monotonic() < until:
            proc = subprocess.run([str(BIN), "--config", config, *command], capture_output=True, text=True,
                                  timeout=300)
            with guard:
                counts["commands"] += 1
                counts["failed"] += proc.returncode != 0
                counts["locked"] += "locked" in (proc.stdout + proc.stderr).lower()

    def writer():
        i = 0
        while time.monotonic() < until and i < len(texts):
            part = WORK / "sources" / f"c{i:05}.txt.part"
            part.write_text(texts[i] + "\n")
            part.rename(WORK / "sources" / f"c{i:05}.txt")
            i += 1
            counts["dropped"] = i
            time.sleep(0.1)

    threads = [threading.Thread(target=loop, args=("publish", "--wait", "120")) for _ in range(args.publishers)]
    threads += [threading.Thread(target=loop, args=("status", "--json")) for _ in range(args.readers)]
    threads.append(threading.Thread(target=writer))
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    final = subprocess.run([str(BIN), "--config", config, "publish", "--wait", "120"], capture_output=True, text=True)
    status = json.loads(subprocess.run([str(BIN), "--config", config, "status", "--json"], capture_output=True,
                                       text=True).stdout)
    alive = service.poll() is None
    service.terminate()
    code = service.wait(15)
    log = (WORK / "service.log").read_text(errors="replace")
    counts["locked"] += log.lower().count("database is locked")
    lost = counts["dropped"] - status["entries"]
    doc = {"when": datetime.now(UTC).isoformat(timespec="seconds"),
           "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
           "seconds": round(elapsed, 1), **counts, "stories_in_store": status["entries"],
           "lost_or_duplicated": lost, "final_publish_exit": final.returncode, "service_alive": alive,
           "service_exit": code}
    failures = counts["failed"] + counts["locked"] + abs(lost) + (final.returncode != 0) + (not alive) + (code != 0)
    doc["failures"] = failures
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "concurrency.json").write_text(json.dumps(doc, indent=2) + "\n")
    md = (f"`publisher run` + {args.publishers} `publish` loops + {args.readers} `status --json` loops on one "
          f"database for {elapsed:.0f} s, a new file every 0.1 s; {doc['machine']}; {doc['when']}\n\n"
          "| commands run | failed | 'database is locked' | files dropped | stories stored | lost or twice | "
          "service |\n| ---: | ---: | ---: | ---: | ---: | ---: | --- |\n"
          f"| {counts['commands']} | {counts['failed']} | {counts['locked']} | {counts['dropped']} | "
          f"{status['entries']} | {lost} | {'ran throughout, exit ' + str(code) if alive else 'DIED'} |\n")
    (RESULTS / "concurrency.md").write_text(md)
    print(md)
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
