"""Concurrency at full size: `status`, `publish` and `run` on one database at once, for a minute.

    python bench/concurrency.py [--seconds 60] [--publishers 3] [--readers 3] [--out DIR]

A `publisher run` picks up a new file every 0.1 s while --publishers loops of `publisher publish`
and --readers loops of `publisher status --json` run against the same database. Counted: commands
run, commands that failed, any output mentioning a locked database, and at the end whether the
store holds every story dropped exactly once (no lost update). Writes concurrency.json and
concurrency.md to bench/results/ (or --out DIR).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

from _common import BIN, options, project_config, scratch, stamp, start_service, write_results
from corpus import stories_text


def main() -> int:
    args = options(__doc__, seconds=60.0, publishers=3, readers=3)
    work = scratch("concurrency")
    config_path = project_config(work, port=0, settle=0.2)
    service, _ = start_service(config_path)
    config = str(config_path)
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
            part = work / "sources" / f"c{i:05}.txt.part"
            part.write_text(texts[i] + "\n")
            part.rename(work / "sources" / f"c{i:05}.txt")
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
    log = (work / "service.log").read_text(errors="replace")
    counts["locked"] += log.lower().count("database is locked")
    lost = counts["dropped"] - status["entries"]
    doc = {**stamp(), "seconds": round(elapsed, 1), **counts, "stories_in_store": status["entries"],
           "lost_or_duplicated": lost, "final_publish_exit": final.returncode, "service_alive": alive,
           "service_exit": code}
    failures = counts["failed"] + counts["locked"] + abs(lost) + (final.returncode != 0) + (not alive) + (code != 0)
    doc["failures"] = failures
    md = (f"`publisher run` + {args.publishers} `publish` loops + {args.readers} `status --json` loops on one "
          f"database for {elapsed:.0f} s, a new file every 0.1 s; {doc['machine']}; {doc['when']}\n\n"
          "| commands run | failed | 'database is locked' | files dropped | stories stored | lost or twice | "
          "service |\n| ---: | ---: | ---: | ---: | ---: | ---: | --- |\n"
          f"| {counts['commands']} | {counts['failed']} | {counts['locked']} | {counts['dropped']} | "
          f"{status['entries']} | {lost} | {'ran throughout, exit ' + str(code) if alive else 'DIED'} |\n")
    write_results(args.out, "concurrency", doc, md)
    print(md)
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
