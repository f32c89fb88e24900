"""Run deploy/nginx.conf for real on 127.0.0.1 (tests/test_deploy.py, bench/serve.py, bench/aggregate.py).

The site config is wrapped in the few lines a whole nginx.conf needs, with its listen and root
lines pointed at a port and a feeds directory, and everything nginx writes kept in `workdir`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from _common import ROOT, free_port, wait_until_up

__all__ = ["DEPLOY", "NGINX", "command", "conf", "free_port", "running"]

DEPLOY = ROOT / "deploy"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)


def conf(workdir: Path, root: Path, port: int, workers: int = 1, *, open_file_cache: bool = True,
         upstream: int | None = None) -> Path:
    """A whole nginx.conf around deploy/nginx.conf. open_file_cache=False drops those lines
    (bench/serve.py measures what they are worth); upstream: the port of the `publisher run`
    that /search is proxied to (default: the config's, 8080)."""
    site = (DEPLOY / "nginx.conf").read_text()
    if upstream is not None:
        site = re.sub(r"(?m)^(\s*proxy_pass http://127\.0\.0\.1:)8080;", rf"\g<1>{upstream};", site)
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
def running(workdir: Path, root: Path, port: int, workers: int = 1, *, open_file_cache: bool = True,
            upstream: int | None = None) -> Iterator[str]:
    """nginx serving `root` on 127.0.0.1:port (and /search from 127.0.0.1:upstream); yields the base URL."""
    config = conf(workdir, root, port, workers, open_file_cache=open_file_cache, upstream=upstream)
    proc = subprocess.Popen(command(workdir, config), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base + "/", 10, proc, "nginx")
        yield base
    finally:
        proc.terminate()
        proc.wait(10)
