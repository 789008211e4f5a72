"""An upload cut off midway, against the real server: nothing visible, nothing left over."""

from __future__ import annotations

import socket
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from portal.customers.roles import Role
from portal.customers.tests.factories import make_customer, make_member
from portal.documents import services, storage
from portal.documents.models import Document
from tests.server import PortalServer

from . import samples


def _signed_in_cookies(user: Any) -> dict[str, str]:
    client = Client()
    client.force_login(user)
    client.get("/documents/")  # sets the CSRF cookie
    return {name: morsel.value for name, morsel in client.cookies.items()}


@pytest.mark.usefixtures("transactional_db")
def test_an_upload_cut_off_midway_leaves_no_document_and_no_file(
    portal_server: PortalServer, document_root: Path, settings: Any, tmp_path: Path
) -> None:
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)  # to see that no temporary file stays
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1024  # the upload goes to a temporary file
    member = make_member(make_customer("Acme Ltd"), Role.MEMBER)
    cookies = _signed_in_cookies(member)
    boundary = "portalboundary"
    head = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="csrfmiddlewaretoken"\r\n\r\n'
        f"{cookies['csrftoken']}\r\n"
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="files"; filename="big.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n"
    ).encode()
    first_half = samples.PDF + b"\0" * 200_000
    announced = len(head) + 2 * len(first_half) + len(f"\r\n--{boundary}--\r\n")
    request = (
        "POST /documents/upload/ HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{portal_server.port}\r\n"
        f"Cookie: {'; '.join(f'{k}={v}' for k, v in cookies.items())}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {announced}\r\n"
        f"Origin: {portal_server.url}\r\n"
        f"Referer: {portal_server.url}/documents/\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", portal_server.port), timeout=10) as client:
        client.sendall(request + head + first_half)
        time.sleep(0.5)  # the server is reading the body when the connection drops
    time.sleep(1.0)  # let the server notice and finish the request

    assert not Document.objects.exists()
    result = services.documents_purge(now=timezone.now() + timedelta(days=2))
    assert list(storage.all_keys()) == []
    assert result.documents == 0
    assert [p for p in tmp_path.iterdir() if p.is_file()] == []

    # The same request sent whole is stored: the test above did reach the upload.
    with socket.create_connection(("127.0.0.1", portal_server.port), timeout=10) as client:
        client.sendall(
            request + head + first_half + first_half + f"\r\n--{boundary}--\r\n".encode()
        )
        answer = client.recv(4096)
    assert answer.startswith(b"HTTP/1.1 302"), answer[:200]
    version = Document.objects.get().current_version
    assert version is not None and version.size == 2 * len(first_half)
