"""No open redirects: every ``next=`` (and every stored link the portal follows)
that points off the site is refused, on sign-in, sign-out, re-authentication,
the language switch, the customer switch, the notification links, the back
office's sign-in, and any other page that takes one.

Sign-in through an identity provider keeps to the same rule: see
``portal/accounts/tests/test_oidc.py::test_a_next_page_on_this_site_is_honoured_and_another_site_is_not``.
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core.cache import cache
from django.test import Client

from portal.core.tests.factories import TEST_PASSWORD
from portal.live.models import Notification

from .test_access_matrix import POST_ONLY, _value, routes
from .world import World, build_world

pytestmark = pytest.mark.django_db

# Ways to write "another site" that browsers follow and naive checks let through.
HOSTILE = [
    "https://evil.example/",
    "http://evil.example",
    "//evil.example/",
    "///evil.example/",
    "/\\evil.example/",
    "\\\\evil.example",
    "\\/evil.example",
    "https:evil.example",
    "http://testserver@evil.example/",
    "https://testserver.evil.example/",
    " //evil.example",
    "\t//evil.example",
    "/%2F%2Fevil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
]


def assert_stays_on_site(location: str) -> None:
    """A redirect a browser would follow to this site only."""
    # Browsers drop tabs and newlines, trim spaces, and read "\" as "/".
    normal = "".join(ch for ch in location if ch not in "\t\r\n").strip().replace("\\", "/")
    parts = urlsplit(normal)
    assert not parts.scheme and not parts.netloc, f"off-site redirect: {location!r}"
    assert normal.startswith("/") and not normal.startswith("//"), location


@pytest.fixture
def world(db: None, tmp_path: Path, settings: Any) -> World:
    settings.PORTAL_CONTENT_DIR = tmp_path / "content"
    return build_world(settings.PORTAL_CONTENT_DIR)


def _signed_in(world: World) -> Client:
    client = Client()
    client.force_login(world.member)
    return client


def test_sign_in_refuses_an_off_site_next(world: World) -> None:
    for target in HOSTILE:
        client = Client()
        response = client.post(
            "/accounts/login/",
            {"login": world.member.email, "password": TEST_PASSWORD, "next": target},
        )
        assert response.status_code == 302, target
        assert "_auth_user_id" in client.session  # signed in all the same
        assert_stays_on_site(response["Location"])


def test_sign_in_honours_a_next_page_on_this_site(world: World) -> None:
    response = Client().post(
        "/accounts/login/",
        {"login": world.member.email, "password": TEST_PASSWORD, "next": "/requests/"},
    )
    assert response["Location"] == "/requests/"


# allauth's forms carry ``?next=`` into a hidden field as given (escaped) and check it
# when the form comes back: the tests above and below post exactly that.


def test_sign_out_refuses_an_off_site_next(world: World) -> None:
    for target in HOSTILE:
        client = _signed_in(world)
        response = client.post("/accounts/logout/", {"next": target})
        assert response.status_code == 302
        assert "_auth_user_id" not in client.session
        assert_stays_on_site(response["Location"])


def test_reauthentication_refuses_an_off_site_next(world: World) -> None:
    client = _signed_in(world)
    for target in HOSTILE:
        cache.clear()  # re-authentication attempts are rate limited per person
        response = client.post(
            "/accounts/reauthenticate/", {"password": TEST_PASSWORD, "next": target}
        )
        assert response.status_code == 302, target
        assert_stays_on_site(response["Location"])


@pytest.mark.parametrize("signed_in", [False, True])
def test_the_language_switch_refuses_an_off_site_next_and_referer(
    world: World, signed_in: bool
) -> None:
    client = _signed_in(world) if signed_in else Client()
    for target in HOSTILE:
        response = client.post("/i18n/setlang/", {"language": "de", "next": target})
        assert response.status_code == 302
        assert_stays_on_site(response["Location"])
        response = client.post("/i18n/setlang/", {"language": "en"}, headers={"referer": target})
        assert response.status_code == 302
        assert_stays_on_site(response["Location"])
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/pages/"})
    assert response["Location"] == "/pages/"


def test_the_customer_switch_refuses_an_off_site_next(world: World) -> None:
    client = _signed_in(world)
    for target in HOSTILE:
        response = client.post("/customer/switch/", {"customer": world.acme.pk, "next": target})
        assert response.status_code == 302
        assert_stays_on_site(response["Location"])
    response = client.post("/customer/switch/", {"customer": world.acme.pk, "next": "/requests/"})
    assert response["Location"] == "/requests/"


def test_a_notification_link_to_another_site_is_not_followed(world: World) -> None:
    client = _signed_in(world)
    for target in HOSTILE:
        notification = Notification.objects.create(
            user=world.member, customer=world.acme, kind="service_request", title="x", url=target
        )
        response = client.post("/notifications/read/", {"notification": notification.pk})
        assert response.status_code == 302
        assert_stays_on_site(response["Location"])
        notification.refresh_from_db()
        assert notification.read_at is not None


def test_the_back_office_sign_in_refuses_an_off_site_next(world: World) -> None:
    staff = Client()
    staff.force_login(world.staff)
    for target in HOSTILE:
        response = staff.get("/backoffice/login/", {"next": target})
        assert response.status_code == 302
        assert_stays_on_site(response["Location"])
        # A visitor is sent to the portal's sign-in, which then refuses the target (above).
        response = Client().get("/backoffice/login/", {"next": target})
        assert response.status_code == 302
        assert_stays_on_site(response["Location"])


class _Targets(HTMLParser):
    """Every link and form target of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.targets: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        for name in ("href", "action", "formaction"):
            if found.get(name):
                self.targets.append(found[name] or "")


def _goes_to_evil(target: str) -> bool:
    """A link or form that leads to the other site itself (carrying ``next`` along
    to a page of the portal, which checks it, is fine)."""
    normal = "".join(ch for ch in target if ch not in "\t\r\n").strip().replace("\\", "/")
    parts = urlsplit(normal)
    return "evil.example" in parts.netloc or parts.scheme.lower() in {"javascript", "data"}


@pytest.mark.parametrize("actor", ["anonymous", "member"])
def test_no_page_redirects_or_links_to_an_off_site_next(world: World, actor: str) -> None:
    """Every page of the portal (the back office and API aside), given ``?next=`` of
    another site: any redirect stays here, and no link or form of the page goes there."""
    client = Client() if actor == "anonymous" else _signed_in(world)
    checked = 0
    for route in routes():
        if route.key.startswith(("api", "asgi:", "admin:", "backoffice/", "dev:")):
            continue
        values = {param: _value(world, route, param) for param in route.params}
        path = route.path(values)
        query = {"next": "https://evil.example/", "return_url": "//evil.example/"}
        response: Any
        if route.key in POST_ONLY:
            response = client.post(f"{path}?next=https://evil.example/", query)
        else:
            response = client.get(path, query)
        if getattr(response, "streaming", False):
            b"".join(response.streaming_content)
        elif response.status_code in (301, 302, 303, 307, 308):
            assert_stays_on_site(response["Location"])
        elif response.get("Content-Type", "").startswith("text/html"):
            parser = _Targets()
            parser.feed(response.content.decode())
            off_site = [t for t in parser.targets if _goes_to_evil(t)]
            assert not off_site, f"{route.key}: {off_site}"
        checked += 1
        if actor == "member" and "_auth_user_id" not in client.session:
            client.force_login(world.member)
    assert checked > 60
