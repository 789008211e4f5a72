"""Another customer's objects are a 404 through every endpoint, and never appear in a list.

The operations come from the OpenAPI document, so a new endpoint is tested
the day it is added. A new path parameter fails here until FOREIGN says how
to name an object the caller must not see (another customer's, or a draft
page for a customer's member) and who may see it; a new list with required
parameters fails until QUERIES gives them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from portal.live.models import Notification

from .client import ApiClient, _url
from .world import DRAFT_PAGE, FOREIGN_MARK, World, build_world

pytestmark = pytest.mark.django_db


def _session(user: Any) -> ApiClient:
    client = Client()
    client.force_login(user)  # the test client skips CSRF checks unless asked to enforce them
    return ApiClient(client=client)


def _stranger(world: World) -> ApiClient:
    return ApiClient(world.stranger_token)


def _staff(world: World) -> ApiClient:
    return _session(world.staff)


# Path parameter -> (an object the Acme callers must not see, who may see it).
FOREIGN: dict[str, tuple[Callable[[World], object], Callable[[World], ApiClient]]] = {
    "customer_id": (lambda w: w.other.pk, _stranger),
    "notification_id": (lambda w: w.foreign.pk, _stranger),
    "doc_id": (lambda w: DRAFT_PAGE, _staff),
    "document_id": (lambda w: w.foreign_document_id, _stranger),
    "number": (lambda w: 1, _stranger),  # a version of the document above
    "reference": (lambda w: w.foreign_reference, _stranger),
}
# Path parameters of what is the same for every customer (the request catalog).
SHARED = {"slug"}
# operationId -> a body the operation accepts (for operations that take one).
BODIES: dict[str, dict[str, Any]] = {
    "me_update": {"city": "Bern"},
    "service_request_comment": {"body": "Any news?"},
}
# operationId -> a multipart form the operation accepts (made afresh for each call).
FORMS: dict[str, Callable[[], dict[str, Any]]] = {
    "document_upload": lambda: {"file": SimpleUploadedFile("note.txt", b"A note.\n")},
    "document_version_add": lambda: {"file": SimpleUploadedFile("note.txt", b"Version 2.\n")},
}
# operationId -> query parameters a list needs, and who sees the foreign mark through it.
QUERIES: dict[str, dict[str, str]] = {
    "page_search": {"q": FOREIGN_MARK},
}
LIST_OWNERS: dict[str, Callable[[World], ApiClient]] = {
    "page_search": _staff,
}


def _operations() -> list[tuple[str, str, str]]:
    from portal.api import api

    document = api.get_openapi_schema()
    return [
        (method.upper(), path, operation["operationId"])
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


OPERATIONS = _operations()
WITH_IDS = [
    op for op in OPERATIONS if "{" in op[1] and not set(re.findall(r"\{(\w+)\}", op[1])) <= SHARED
]
LISTS = [op for op in OPERATIONS if op[0] == "GET" and "{" not in op[1]]


@pytest.fixture
def world(tmp_path: Path, settings: Any) -> World:
    settings.PORTAL_CONTENT_DIR = tmp_path / "content"
    return build_world(content_dir=settings.PORTAL_CONTENT_DIR)


def _params(path: str) -> list[str]:
    return re.findall(r"\{(\w+)\}", path)


def _fill(path: str, world: World) -> str:
    for name in _params(path):
        assert name in FOREIGN, (
            f"{path}: say in FOREIGN how to name an object the caller must not see for {{{name}}}"
        )
        path = path.replace(f"{{{name}}}", str(FOREIGN[name][0](world)))
    return path


def _shown(response: Any) -> str:
    """What an answer shows, less the echo of the caller's own search words."""
    body = response.json()
    if isinstance(body, dict):
        body.pop("query", None)
    return json.dumps(body, ensure_ascii=False)


def _call(api: ApiClient, method: str, path: str, operation_id: str) -> Any:
    if operation_id in FORMS:
        response = api.client.post(_url(path), FORMS[operation_id]())
    elif method == "GET":
        response = api.get(path, **QUERIES.get(operation_id, {}))
    else:
        response = api.request(method, path, BODIES.get(operation_id))
    if getattr(response, "streaming", False):  # a download: reading it to the end closes it
        setattr(response, "body", b"".join(getattr(response, "streaming_content")))  # noqa: B009, B010
    return response


def _text(response: Any) -> str:
    body = response.body if getattr(response, "streaming", False) else response.content
    return bytes(body).decode(errors="replace")


def test_the_document_has_operations_with_ids() -> None:
    assert WITH_IDS and LISTS


@pytest.mark.parametrize(("method", "path", "operation_id"), WITH_IDS, ids=lambda v: str(v))
def test_another_customers_object_is_a_404(
    world: World, method: str, path: str, operation_id: str
) -> None:
    url = _fill(path, world)
    # The object exists: someone who may see it reaches it.
    owner = FOREIGN[_params(path)[-1]][1](world)
    response = _call(owner, method, url, operation_id)
    # 2xx, or 409 when the object's state does not allow it (e.g. reopening an open request).
    assert response.status_code < 400 or response.status_code == 409, (
        url,
        response.status_code,
        response.content,
    )
    Notification.objects.filter(pk=world.foreign.pk).update(read_at=None)

    for caller in (
        ApiClient(world.admin_token),
        ApiClient(world.write_token),
        _session(world.admin),
    ):
        response = _call(caller, method, url, operation_id)
        assert response.status_code == 404, (url, response.status_code, response.content)
        assert response["Content-Type"] == "application/problem+json"
        assert FOREIGN_MARK not in _text(response)
    assert Notification.objects.get(pk=world.foreign.pk).read_at is None


@pytest.mark.parametrize(("method", "path", "operation_id"), LISTS, ids=lambda v: str(v))
def test_lists_never_show_another_customers_objects(
    world: World, method: str, path: str, operation_id: str
) -> None:
    for caller in (ApiClient(world.admin_token), _session(world.admin)):
        response = _call(caller, method, path, operation_id)
        assert response.status_code == 200, (path, response.content)
        assert FOREIGN_MARK not in _shown(response)
    # ... while whoever may see those objects does.
    owner = LIST_OWNERS.get(operation_id, _stranger)(world)
    own = _shown(_call(owner, method, path, operation_id))
    not_owned = path.endswith(("/me", "/read", "/request-types"))  # no other customer's data
    assert not_owned or FOREIGN_MARK in own, path


def test_a_token_acts_for_its_customer_only_even_for_a_member_of_both(world: World) -> None:
    from portal.customers.models import Membership
    from portal.tokens.tests.factories import make_token

    Membership.objects.create(user=world.member, customer=world.other, role="member")
    Notification.objects.create(
        user=world.member, customer=world.other, kind="service_request", title=FOREIGN_MARK
    )
    _, acme_only = make_token(world.member, world.acme)
    api = ApiClient(acme_only)
    for _, path, operation_id in LISTS:
        response = api.get(path, **QUERIES.get(operation_id, {}))
        assert FOREIGN_MARK not in _shown(response), path
    assert api.get(f"customers/{world.other.pk}").status_code == 404
    # The browser session acts for every customer of the person.
    session = _session(world.member)
    assert session.get(f"customers/{world.other.pk}").status_code == 200
    assert FOREIGN_MARK in session.get("notifications").content.decode()


def test_a_staff_members_token_reads_pages_as_a_customer(world: World) -> None:
    from portal.customers.models import Membership
    from portal.tokens.tests.factories import make_token

    Membership.objects.create(user=world.staff, customer=world.acme, role="admin")
    _, secret = make_token(world.staff, world.acme)
    assert ApiClient(secret).get(f"pages/{DRAFT_PAGE}").status_code == 404
    assert _staff(world).get(f"pages/{DRAFT_PAGE}").status_code == 200
