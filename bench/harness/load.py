"""Load on a running `publisher run` while it re-publishes (bench/load.py, tests/test_reliability.py).

Clients fetch a feed over and over (plain, gzip, conditional), each 200 checked: a complete XML
document whose ETag is the one made from its bytes. Meanwhile a writer drops a new story into
sources/ every `republish_every` seconds (so the feeds change all the time) and slow clients
hold connections open sending half a request, a byte at a time.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from lxml import etree


@dataclass
class Figures:
    requests: int = 0
    ok_200: int = 0
    not_modified: int = 0
    failed: int = 0  # an error, a timeout, or a status other than 200/304
    bad_bodies: int = 0  # a 200 that is not a whole document
    bad_etags: int = 0  # an ETag that is not the one of the body sent
    distinct_versions: int = 0  # how many different feeds were served (re-publishing worked)
    republished: int = 0
    slow_clients: int = 0
    probe_worst_seconds: float = 0.0  # the slowest /healthz answer during the load
    errors: list[str] = field(default_factory=list)


async def _client(base: str, path: str, until: float, figures: Figures, seen: set[bytes], rng: random.Random):
    etag = None
    async with httpx.AsyncClient(timeout=10) as client:
        while time.monotonic() < until:
            kind = rng.random()
            headers = {"Accept-Encoding": "gzip"} if kind < 0.3 else {"Accept-Encoding": "identity"}
            if etag and kind > 0.6:
                headers["If-None-Match"] = etag
            figures.requests += 1
            try:
                r = await client.get(base + path, headers=headers)  # httpx unpacks gzip
            except httpx.HTTPError as exc:
                figures.failed += 1
                figures.errors.append(f"{type(exc).__name__}: {exc}")
                continue
            if r.status_code == 304:
                figures.not_modified += 1
                continue
            if r.status_code != 200:
                figures.failed += 1
                figures.errors.append(f"HTTP {r.status_code}")
                continue
            figures.ok_200 += 1
            data = r.content
            try:
                etree.fromstring(data)
            except etree.XMLSyntaxError as exc:
                figures.bad_bodies += 1
                figures.errors.append(f"not a whole document: {exc}")
                continue
            gzipped = r.headers.get("content-encoding") == "gzip"
            digest = hashlib.sha256(data).hexdigest()[:32]  # both ETags are made from the plain bytes
            want = f'"{digest}-gz"' if gzipped else f'"{digest}"'
            if r.headers.get("etag") != want:
                figures.bad_etags += 1
                figures.errors.append(f"ETag {r.headers.get('etag')} for a body whose is {want}")
            etag = f'"{digest}"'
            seen.add(digest.encode())


def _writer(sources: Path, until: float, every: float, figures: Figures, texts: list[str]) -> None:
    n = 0
    while time.monotonic() < until and n < len(texts):
        part = sources / f"load-{n:05}.txt.part"
        part.write_text(texts[n] + "\n")
        part.rename(sources / f"load-{n:05}.txt")
        n += 1
        figures.republished = n
        time.sleep(every)


def _slow_clients(base: str, count: int, until: float, figures: Figures) -> None:
    parts = urlsplit(base)
    socks = []
    for _ in range(count):
        try:
            s = socket.create_connection((parts.hostname, parts.port), timeout=2)
            s.sendall(b"GET /all/atom.xml HTTP/1.1\r\nHost: x\r\n")
            socks.append(s)
        except OSError:
            break
    figures.slow_clients = len(socks)
    while time.monotonic() < until:
        for s in socks:
            try:
                s.sendall(b"X")  # a header that never ends
            except OSError:
                pass
        time.sleep(1)
    for s in socks:
        s.close()


def _probe(base: str, until: float, figures: Figures) -> None:
    with httpx.Client(timeout=10) as client:
        while time.monotonic() < until:
            start = time.monotonic()
            try:
                client.get(base + "/healthz")
            except httpx.HTTPError:
                figures.failed += 1
            figures.probe_worst_seconds = max(figures.probe_worst_seconds, time.monotonic() - start)
            time.sleep(0.25)


def run_load(base: str, sources: Path, *, seconds: float, concurrency: int, texts: list[str],
             republish_every: float = 1.0, slow: int = 100, path: str = "/all/atom.xml") -> Figures:
    figures = Figures()
    until = time.monotonic() + seconds
    seen: set[bytes] = set()
    threads = [threading.Thread(target=_writer, args=(sources, until, republish_every, figures, texts)),
               threading.Thread(target=_slow_clients, args=(base, slow, until, figures)),
               threading.Thread(target=_probe, args=(base, until, figures))]
    for t in threads:
        t.start()

    async def clients():
        rngs = [random.Random(i) for i in range(concurrency)]
        await asyncio.gather(*(_client(base, path, until, figures, seen, rngs[i]) for i in range(concurrency)))

    asyncio.run(clients())
    for t in threads:
        t.join(30)
    figures.distinct_versions = len(seen)
    figures.errors = figures.errors[:20]
    return figures
