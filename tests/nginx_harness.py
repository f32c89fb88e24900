"""Run deploy/nginx.conf for real on 127.0.0.1 (tests/test_deploy.py, bench/serve.py, bench/aggregate.py);
and free_port(), for every local server the tests and benchmarks start.

The site config is wrapped in the few lines a whole nginx.conf needs, with its listen and root
lines pointed at a port and a feeds directory, and everything nginx writes kept in `workdir`.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (for servers that must be told their port)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def conf(workdir: Path, root: Path, port: int, workers: int = 1, *, open_file_cache: bool = True) -> Path:
    """A whole nginx.conf around deploy/nginx.conf. open_file_cache=False drops those lines
    (bench/serve.py measures what they are worth)."""
    site = (DEPLOY / "nginx.conf").read_text()
    if not open_file_cache:
        site = re.sub(r"(?m)^\s*open_file_cache\w* [^;]*;\n", "", site)
    site = re.sub(r"(?m)^\s*listen \[::\]:80;\n", "", site)
    site = re.sub(r"(?m)^(\s*)listen 80;", rf"\1listen 127.0.0.1:{port};", site)
    site = re.sub(r"(?m)^(\s*)root \S+;", rf"\1root {root};", site)
    user = "user root;\n" if os.geteuid() == 0 else ""  # tmp dirs are private to their owner
    for d in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (workdir / d).mkdir(parents=True, exist_ok=True)
    path = workdir / "nginx.conf"
    path.write_text(f"""{user}daemon off;
worker_processes {workers};
pid {workdir}/nginx.pid;
error_log {workdir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    client_body_temp_path {workdir}/client_body;
    proxy_temp_path {workdir}/proxy;
    fastcgi_temp_path {workdir}/fastcgi;
    uwsgi_temp_path {workdir}/uwsgi;
    scgi_temp_path {workdir}/scgi;
{site}
}}
""")
    return path


def command(workdir: Path, config: Path, *args: str) -> list[str]:
    assert NGINX, "nginx is not installed"
    return [NGINX, *args, "-e", str(workdir / "error.log"), "-p", str(workdir), "-c", str(config)]


@contextmanager
def running(workdir: Path, root: Path, port: int, workers: int = 1, *, open_file_cache: bool = True) -> Iterator[str]:
    """nginx serving `root` on 127.0.0.1:port; yields the base URL."""
    config = conf(workdir, root, port, workers, open_file_cache=open_file_cache)
    proc = subprocess.Popen(command(workdir, config), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    try:
        while True:
            try:
                urllib.request.urlopen(base + "/", timeout=1).close()
                break
            except urllib.error.HTTPError:
                break  # it answers (a 404 is an answer)
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError(f"nginx exited: {proc.stdout.read().decode(errors='replace')}") from None
                if time.monotonic() > deadline:
                    raise RuntimeError("nginx did not start within 10 s") from None
                time.sleep(0.05)
        yield base
    finally:
        proc.terminate()
        proc.wait(10)
