from __future__ import annotations

from pathlib import Path

import pytest
from django.core.mail import send_mail
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture
def file_outbox(settings: object, tmp_path: Path) -> Path:
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"  # type: ignore[attr-defined]
    settings.EMAIL_FILE_PATH = tmp_path  # type: ignore[attr-defined]
    return tmp_path


def test_the_development_outbox_lists_and_shows_messages(client: Client, file_outbox: Path) -> None:
    assert "No e-mails yet." in client.get("/dev/outbox/").content.decode()
    send_mail(
        "Confirm your address",
        "Open http://127.0.0.1:8000/accounts/confirm-email/abc/ to confirm.\n<script>x</script>",
        "portal@localhost",
        ["new@example.com"],
    )
    send_mail("Second", "Another body", "portal@localhost", ["b@example.com"])
    listing = client.get("/dev/outbox/").content.decode()
    assert listing.index("Second") < listing.index("Confirm your address")  # newest first
    assert "new@example.com" in listing
    detail_url = listing.split('href="/dev/outbox/')[1].split('"')[0]
    detail = client.get(f"/dev/outbox/{detail_url}")
    assert detail.status_code == 200
    assert "Another body" in detail.content.decode()
    first = client.get(
        "/dev/outbox/" + listing.split('href="/dev/outbox/')[2].split('"')[0]
    ).content.decode()
    # Links are clickable; markup in a body stays text.
    assert '<a href="http://127.0.0.1:8000/accounts/confirm-email/abc/"' in first
    assert "<script>x</script>" not in first and "&lt;script&gt;" in first


def test_an_unknown_outbox_message_is_not_found(client: Client, file_outbox: Path) -> None:
    assert client.get("/dev/outbox/nothing-0/").status_code == 404
