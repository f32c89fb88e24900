"""HTTP attacks on `publisher run`: header floods, slow, silent and too many clients.

    python bench/attack.py [--mb 200] [--connections 4] [--slow 500] [--silent 20] [--over 1200] [--out DIR]

Starts `publisher run` with the shipped config (the server's default limits: 32 KiB of request
headers, 8 KiB a line, 100 headers, a 10 s header timeout, 5 s keep-alive, 1,000 connections)
on a published 50-entry feed, and attacks it one case at a time, as issue 14 did:
  header lines   --connections clients each send --mb MB of header lines, reconnecting when cut off
  header value   the same, the lines being one header value that never ends
  many headers   100,000 headers in one request; then a 1 MB header value
  slowloris      --slow connections each sending a header byte every second for 15 s
  silent         --silent connections that send nothing
  over the cap   --over connections at once
Throughout, the service's RSS is sampled (/proc/PID/status, every 20 ms) and a normal client
GETs /all/atom.xml every 0.25 s on a new connection. Reported per case: what was sent, how the
server answered, how many attack connections were still open when the case ended, the peak RSS
(goal: < 200 MB), the normal client's worst time and failures, and the log lines the case
added (refusals are counted into one line per 10 s). Writes attack.json and attack.md.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from _common import (BIN, free_port, options, project_config, scratch, stamp, start_service, wait_until_up,
                     write_results)
from corpus import kyiv_wire

FEED = "/all/atom.xml"
GOAL_MB = 200


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


class Watch:
    """Samples the service's RSS and times a normal client while a case runs."""

    def __init__(self, pid: int, host: str, port: int):
        self.pid, self.host, self.port = pid, host, port
        self.peak = 0.0
        self.worst = 0.0
        self.gets = self.failed = 0
        self._stop = threading.Event()

    def __enter__(self) -> Watch:
        self.peak = rss_mb(self.pid)
        self.threads = [threading.Thread(target=self._sample, daemon=True),
                        threading.Thread(target=self._client, daemon=True)]
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for t in self.threads:
            t.join(30)

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss_mb(self.pid))

    def _client(self) -> None:
        request = f"GET {FEED} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
        while not self._stop.wait(0.25):
            start = time.monotonic()
            self.gets += 1
            try:
                with socket.create_connection((self.host, self.port), timeout=10) as s:
                    s.sendall(request)
                    data = b""
                    while chunk := s.recv(65536):
                        data += chunk
                ok = data.startswith(b"HTTP/1.1 200 ")
            except OSError:
                ok = False
            self.failed += not ok
            self.worst = max(self.worst, time.monotonic() - start)


def first_status(sock: socket.socket) -> str:
    try:
        data = sock.recv(4096)
    except ConnectionResetError:
        return "reset"
    except TimeoutError:
        return "no answer"
    m = re.match(rb"HTTP/1\.1 (\d{3})", data)
    return m.group(1).decode() if m else ("closed" if not data else "other")


def flood(host: str, port: int, megabytes: int, line: bytes, first: bytes) -> tuple[int, int, Counter]:
    """Send `first` then `line` over and over until `megabytes` MB have gone, reconnecting
    whenever the server cuts the connection; (bytes sent, connections, answers by status)."""
    total, connections, answers = 0, 0, Counter()
    block = line * max(1, 65536 // len(line))
    goal = megabytes * 1024 * 1024
    while total < goal:
        connections += 1
        sock = socket.create_connection((host, port), timeout=30)
        got: list[str] = []
        reader = threading.Thread(target=lambda: got.append(first_status(sock)), daemon=True)
        reader.start()
        try:
            sock.sendall(first)
            while total < goal:
                sock.sendall(block)
                total += len(block)
        except OSError:
            pass
        reader.join(30)
        answers[got[0] if got else "no answer"] += 1
        sock.close()
    return total, connections, answers


def case_flood(host: str, port: int, args, line: bytes, first: bytes) -> dict:
    results: list[tuple[int, int, Counter]] = []
    threads = [threading.Thread(target=lambda: results.append(flood(host, port, args.mb, line, first)))
               for _ in range(args.connections)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    answers = sum((r[2] for r in results), Counter())
    return {"sent": f"{sum(r[0] for r in results) / 2**20:,.0f} MB on {sum(r[1] for r in results):,} connections "
                    f"({args.connections} at a time)",
            "answers": dict(answers), "seconds": round(time.monotonic() - start, 1), "left_open": 0}


def case_one(host: str, port: int, request: bytes) -> dict:
    start = time.monotonic()
    with socket.create_connection((host, port), timeout=30) as sock:
        got: list[str] = []
        reader = threading.Thread(target=lambda: got.append(first_status(sock)), daemon=True)
        reader.start()
        try:
            sock.sendall(request)
        except OSError:
            pass
        reader.join(30)
    return {"sent": f"{len(request) / 2**20:.1f} MB in one request", "answers": dict(Counter(got)),
            "seconds": round(time.monotonic() - start, 1), "left_open": 0}


def still_open(sock: socket.socket) -> bool:
    """Open, and not answered (a refusal answers and closes)."""
    sock.setblocking(False)
    try:
        sock.recv(1, socket.MSG_PEEK)  # an answer waits, or the end: refused
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        sock.setblocking(True)
    return False


def case_held(host: str, port: int, count: int, seconds: float, drip: bool) -> dict:
    """`count` connections, each sending nothing (or a header byte a second), for `seconds`."""
    socks = []
    for _ in range(count):
        try:
            s = socket.create_connection((host, port), timeout=10)
            if drip:
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
            socks.append(s)
        except OSError:
            break
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if drip:
            for s in socks:
                try:
                    s.sendall(b"X")
                except OSError:
                    pass
        time.sleep(1)
    left = sum(still_open(s) for s in socks)
    for s in socks:
        s.settimeout(2)
    answers = Counter(first_status(s) for s in socks)
    for s in socks:
        s.close()
    return {"sent": f"{len(socks)} connections, {'a header byte a second' if drip else 'nothing'} for {seconds:g} s",
            "answers": dict(answers), "seconds": round(time.monotonic() - start, 1), "left_open": left}


def case_over(host: str, port: int, count: int) -> dict:
    socks = []
    for _ in range(count):
        try:
            socks.append(socket.create_connection((host, port), timeout=10))
        except OSError:
            break
    time.sleep(1)
    answers = Counter(peek_status(s) for s in socks)  # all at the same moment, 1 s on
    for s in socks:
        s.close()
    return {"sent": f"{len(socks)} connections at once, then nothing for 1 s", "answers": dict(answers),
            "seconds": 1.0, "left_open": answers.get("open", 0)}


def peek_status(sock: socket.socket) -> str:
    """What the server has answered on `sock` so far, without waiting ("open": nothing yet)."""
    sock.setblocking(False)
    try:
        data = sock.recv(4096, socket.MSG_PEEK)
    except BlockingIOError:
        return "open"
    except OSError:
        return "reset"
    m = re.match(rb"HTTP/1\.1 (\d{3})", data)
    return m.group(1).decode() if m else ("closed" if not data else "other")


def main() -> int:
    args = options(__doc__, mb=200, connections=4, slow=500, silent=20, over=1200)
    work = scratch("attack")
    config = project_config(work, port=free_port())
    (work / "sources" / "day.txt").write_text(kyiv_wire(60))
    subprocess.run([str(BIN), "--config", str(config), "publish"], check=True, capture_output=True)
    service, base = start_service(config)
    host, port = base.removeprefix("http://").split(":")
    port = int(port)
    log = work / "service.log"
    cases = {
        "header lines": lambda: case_flood(host, port, args, b"X-Header: value\r\n",
                                           b"GET / HTTP/1.1\r\nHost: x\r\n"),
        "header value": lambda: case_flood(host, port, args, b"a" * 64, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: "),
        "100,000 headers": lambda: case_one(host, port, b"GET / HTTP/1.1\r\nHost: x\r\n"
                                            + b"".join(b"X-%d: v\r\n" % i for i in range(100_000)) + b"\r\n"),
        "a 1 MB header value": lambda: case_one(host, port, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: "
                                                + b"v" * 2**20 + b"\r\n\r\n"),
        "slowloris": lambda: case_held(host, port, args.slow, 15, drip=True),
        "silent": lambda: case_held(host, port, args.silent, 15, drip=False),
        "over the cap": lambda: case_over(host, port, args.over),
    }
    rows = {}
    try:
        wait_until_up(base + FEED, proc=service, name="publisher run")
        time.sleep(1)
        baseline = rss_mb(service.pid)
        for name, run in cases.items():
            lines_before = len(log.read_text(errors="replace").splitlines())
            with Watch(service.pid, host, port) as watch:
                row = run()
            time.sleep(0.5)
            added = log.read_text(errors="replace").splitlines()[lines_before:]
            row.update(peak_rss_mb=round(watch.peak), client_worst_seconds=round(watch.worst, 2),
                       client_gets=watch.gets, client_failed=watch.failed,
                       log_lines=len(added), tracebacks=sum("Traceback" in ln for ln in added))
            rows[name] = row
            print(f"{name}: {row}", flush=True)
        peak = rss_mb(service.pid, "VmHWM")
    finally:
        service.terminate()
        code = service.wait(15)
    doc = {**stamp(), "baseline_rss_mb": round(baseline), "peak_rss_mb": round(peak), "cases": rows,
           "exit": code, "goal": f"peak RSS < {GOAL_MB} MB under the header attack",
           "goal_met": peak < GOAL_MB and code == 0}
    md = [f"`publisher run` with its default limits, attacked one case at a time; {doc['machine']}; {doc['when']}",
          "",
          "| case | sent | answers | open at the end | peak RSS MB | normal GET worst s | failed / GETs | log lines |",
          "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for name, r in rows.items():
        answers = ", ".join(f"{k}: {v:,}" for k, v in sorted(r["answers"].items()))
        md.append(f"| {name} | {r['sent']} | {answers} | {r['left_open']} | {r['peak_rss_mb']} | "
                  f"{r['client_worst_seconds']} | {r['client_failed']} / {r['client_gets']} | {r['log_lines']} |")
    md += ["", f"RSS before: {doc['baseline_rss_mb']} MB; peak over all cases (VmHWM): {doc['peak_rss_mb']} MB. "
           f"Goal (< {GOAL_MB} MB): {'met' if doc['goal_met'] else 'NOT met'}. Exit status after SIGTERM: {code}."]
    write_results(args.out, "attack", doc, "\n".join(md) + "\n")
    print("\n".join(md))
    return 0 if doc["goal_met"] and not any(r["tracebacks"] for r in rows.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
