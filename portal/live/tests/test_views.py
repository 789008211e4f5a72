from __future__ import annotations

import pytest
from django.test import Client

from portal.core.tests.factories import UserFactory
from portal.live import services
from portal.live.models import Notification

pytestmark = pytest.mark.django_db


def test_notifications_need_sign_in(client: Client) -> None:
    response = client.get("/notifications/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert client.post("/notifications/read/").status_code == 302
    assert client.get("/live/events").status_code == 404  # the stream is not a Django page


def test_the_empty_state_helps(client: Client) -> None:
    client.force_login(UserFactory())
    page = client.get("/notifications/").content.decode()
    assert "Nothing new" in page


def test_the_bell_counts_unread_and_the_list_shows_them(client: Client) -> None:
    user = UserFactory()
    services.notification_send(user=user, kind="invoice", title="Invoice INV-1 is due")
    client.force_login(user)
    page = client.get("/dashboard/").content.decode()
    assert "data-live-unread>1</span>" in page
    assert 'data-live-url="/live/events"' in page
    listing = client.get("/notifications/").content.decode()
    assert "Invoice INV-1 is due" in listing and "Mark all as read" in listing


def test_opening_a_notification_marks_it_read_and_follows_its_link(client: Client) -> None:
    user = UserFactory()
    note = services.notification_send(user=user, kind="invoice", title="x", url="/dashboard/")
    assert note is not None
    client.force_login(user)
    response = client.post("/notifications/read/", {"notification": note.pk})
    assert response.status_code == 302 and response["Location"] == "/dashboard/"
    note.refresh_from_db()
    assert note.read_at is not None


def test_a_notification_link_never_leaves_the_portal(client: Client) -> None:
    user = UserFactory()
    note = Notification.objects.create(
        user=user, kind="invoice", title="x", url="https://evil.example/"
    )
    client.force_login(user)
    response = client.post("/notifications/read/", {"notification": note.pk})
    assert response["Location"] == "/notifications/"


def test_someone_elses_notification_cannot_be_marked(client: Client) -> None:
    owner = UserFactory()
    note = services.notification_send(user=owner, kind="invoice", title="x")
    assert note is not None
    client.force_login(UserFactory())
    client.post("/notifications/read/", {"notification": note.pk})
    note.refresh_from_db()
    assert note.read_at is None


def test_mark_all_read(client: Client) -> None:
    user = UserFactory()
    for title in ("a", "b"):
        services.notification_send(user=user, kind="invoice", title=title)
    client.force_login(user)
    client.post("/notifications/read/")
    assert not Notification.objects.filter(user=user, read_at__isnull=True).exists()
