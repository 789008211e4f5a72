"""Two app nodes behind nginx with deploy/'s locations: sessions and live updates cross nodes."""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cluster import ROOT, Cluster
from tests.components import require
from tests.server import free_port
from tests.services import postgres_server, redis_server
from tests.sse import SSEClient

SETUP = """
import json
from django.conf import settings
from django.test import Client
from portal.customers.roles import Role
from portal.customers.tests.factories import make_customer, make_member
from portal.live.models import Notification
member = make_member(make_customer("Acme Ltd"), Role.MEMBER)
Notification.objects.create(user=member, kind="service_request", title="Something happened")
client = Client()
client.force_login(member)
name = settings.SESSION_COOKIE_NAME
print(json.dumps({name: client.cookies[name].value}))
"""


@contextmanager
def nginx(pages: list[str], live: list[str], tmp: Path) -> Iterator[str]:
    """nginx as deployed: the locations of deploy/, the pages and live upstreams it names."""
    require("nginx")
    port = free_port()
    page_servers = "\n".join(f"    server {u};" for u in pages)
    live_servers = "\n".join(f"    server {u};" for u in live)
    (tmp / "nginx.conf").write_text(
        f"""
daemon off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 256; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  upstream portal_pages {{
{page_servers}
  }}
  upstream portal_live {{
{live_servers}
    keepalive 8;
  }}
  server {{
    listen 127.0.0.1:{port};
    add_header X-Portal-Node $upstream_addr always;
    include {ROOT}/deploy/nginx/portal-locations.conf;
  }}
}}
"""
    )
    log = tmp / "nginx.log"
    with log.open("w") as log_file:
        process = subprocess.Popen(
            [shutil.which("nginx") or "/usr/sbin/nginx", "-c", str(tmp / "nginx.conf"),
             "-p", str(tmp)],
            stderr=log_file,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while True:
        try:
            httpx.get(f"{url}/healthz")
            break
        except httpx.HTTPError as error:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError(
                    f"nginx did not start: {process.stderr.read()!r}"
                    if process.stderr
                    else "nginx did not start"
                ) from error
            time.sleep(0.05)
    try:
        yield url
    finally:
        process.terminate()
        process.wait(10)


def nginx_in_front_of(cluster: Cluster, tmp: Path) -> contextlib.AbstractContextManager[str]:
    """nginx as deployed in front of a cluster of nodes in the production topology."""
    return nginx(
        [url.removeprefix("http://") for url in cluster.urls],
        [url.removeprefix("http://") for url in cluster.live_urls],
        tmp,
    )


@pytest.mark.own_servers
def test_two_nodes_behind_nginx_share_sessions_and_live_updates(tmp_path: Path) -> None:
    from django.conf import settings

    with (
        postgres_server() as database,
        redis_server() as redis,
        Cluster(
            data_dir=tmp_path / "data",
            split=True,  # each node: pages in uWSGI, the live stream in uvicorn
            DATABASE_URL=f"{database}/postgres",
            REDIS_URL=redis,
            PORTAL_LIVE_BUS="redis",
            PORTAL_STATIC_ROOT=str(settings.STATIC_ROOT),
        ) as cluster,
        nginx_in_front_of(cluster, tmp_path) as proxy,
    ):
        cookies: Any = cluster.python(SETUP)
        with httpx.Client(base_url=proxy, cookies=cookies) as client:
            # Round robin: the same session is served by both nodes.
            nodes = set()
            for _ in range(6):
                page = client.get("/notifications/")
                assert page.status_code == 200 and "Something happened" in page.text
                nodes.add(page.headers["X-Portal-Node"])
            assert len(nodes) == 2

            with SSEClient(f"{proxy}/live/events", cookies=cookies) as stream:
                assert stream.status == 200
                time.sleep(0.3)
                # Marking read is handled by whichever node nginx picks; the stream
                # is held by one of them. Do it twice so both nodes write once.
                for _ in range(2):
                    page = client.get("/notifications/")
                    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
                    assert token is not None
                    client.post("/notifications/read/", data={"csrfmiddlewaretoken": token[1]})
                frame = stream.next(timeout=3)  # unbuffered through the proxy
                assert frame.json["kind"] == "notifications.changed"
                assert frame.json["data"] == {"unread": 0}


def test_the_production_nginx_site_is_valid(tmp_path: Path) -> None:
    """deploy/nginx/portal.conf passes `nginx -t` (with a stand-in certificate)."""
    require("nginx")
    site = (ROOT / "deploy" / "nginx" / "portal.conf").read_text()
    site = site.replace(
        "/etc/nginx/snippets/portal-locations.conf",
        str(ROOT / "deploy/nginx/portal-locations.conf"),
    )
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "1", "-subj", "/CN=portal.example.com"],
        check=True, capture_output=True,
    )  # fmt: skip
    site = site.replace("/etc/ssl/portal/fullchain.pem", str(cert)).replace(
        "/etc/ssl/portal/privkey.pem", str(key)
    )
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid; error_log stderr; events {{}}\n"
        f"http {{ client_body_temp_path {tmp_path}/b; proxy_temp_path {tmp_path}/p;\n{site}\n}}\n"
    )
    result = subprocess.run(
        ["nginx", "-t", "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


@pytest.mark.own_servers
def test_behind_nginx_the_pages_see_the_client_address_not_a_forged_one(tmp_path: Path) -> None:
    """The pages take the client's address from nginx (trusted), never from the client.

    The client connects from 127.0.0.5; nginx, reaching the node from 127.0.0.1 (the
    default FORWARDED_ALLOW_IPS), appends that address to the X-Forwarded-For the client
    forged. The failed sign-in's audit record holds 127.0.0.5.
    """
    from django.conf import settings

    with (
        Cluster(
            data_dir=tmp_path / "data",
            nodes=1,
            split=True,
            PORTAL_STATIC_ROOT=str(settings.STATIC_ROOT),
        ) as cluster,
        nginx_in_front_of(cluster, tmp_path) as proxy,
        httpx.Client(
            base_url=proxy,
            transport=httpx.HTTPTransport(local_address="127.0.0.5"),
            headers={"X-Forwarded-For": "203.0.113.7"},
        ) as client,
    ):
        form = client.get("/accounts/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
        assert form.status_code == 200 and token is not None
        answer = client.post(
            "/accounts/login/",
            data={
                "csrfmiddlewaretoken": token[1],
                "login": "nobody@example.com",
                "password": "not-the-password",
            },
            # A browser's Origin names nginx's port: the Host nginx passes on must keep it,
            # or the CSRF check refuses the form (403).
            headers={"Origin": proxy, "Referer": f"{proxy}/accounts/login/"},
        )
        assert answer.status_code == 200  # the form again, with its error
        addresses = cluster.python(
            "import json; from portal.core.models import AuditEvent, AuditAction; "
            "print(json.dumps(list(AuditEvent.objects.filter("
            "action=AuditAction.SIGN_IN_FAILED).values_list('ip_address', flat=True))))"
        )
        assert addresses == ["127.0.0.5"]
