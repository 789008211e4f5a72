"""Debian's nginx in front of the portal's servers, with the locations of deploy/nginx."""

from __future__ import annotations

import resource
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.server import free_port

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"


@contextmanager
def nginx_front(pages: list[str], live: list[str], work: Path, connections: int) -> Iterator[int]:
    """nginx on a free port: ``pages`` and ``live`` are the upstreams' host:port lists."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        raise RuntimeError("nginx is missing: apt-get install -y nginx (make bench does this)")
    work.mkdir(parents=True, exist_ok=True)
    # nginx's workers, another user when the master runs as root, keep request bodies in
    # their temporary folders under ``work``: they must be able to reach it.
    work.chmod(0o755)
    port = free_port()
    # Each stream holds two descriptors in nginx (client and upstream). This machine caps a
    # process at its hard limit, so two nginx processes share the streams (reuseport).
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    per_worker = hard if hard != resource.RLIM_INFINITY else connections * 2 + 1024
    workers = max(1, min(4, -(-(connections * 2 + 1024) // per_worker)))
    page_servers = "\n".join(f"    server {upstream};" for upstream in pages)
    live_servers = "\n".join(f"    server {upstream};" for upstream in live)
    (work / "nginx.conf").write_text(
        f"""
daemon off;
worker_processes {workers};
worker_rlimit_nofile {per_worker};
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections {per_worker - 256}; }}
http {{
  access_log off;
  client_body_temp_path {work}/body;
  proxy_temp_path {work}/proxy;
  fastcgi_temp_path {work}/fastcgi;
  uwsgi_temp_path {work}/uwsgi;
  scgi_temp_path {work}/scgi;
  upstream portal_pages {{
{page_servers}
  }}
  upstream portal_live {{
{live_servers}
    keepalive 64;
  }}
  server {{
    listen {HOST}:{port} backlog=4096 reuseport;
    include {ROOT}/deploy/nginx/portal-locations.conf;
  }}
}}
"""
    )
    process = subprocess.Popen([nginx, "-c", str(work / "nginx.conf"), "-p", str(work)])
    deadline = time.monotonic() + 10
    while True:
        try:
            httpx.get(f"http://{HOST}:{port}/healthz")
            break
        except httpx.HTTPError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError("nginx did not start") from None
            time.sleep(0.05)
    try:
        yield port
    finally:
        process.terminate()
        process.wait(10)
