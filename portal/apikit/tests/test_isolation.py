"""Another customer's objects are a 404 through every endpoint, and never appear in a list.

The operations come from the OpenAPI document, so a new endpoint is tested
the day it is added. A new path parameter fails here until FOREIGN_IDS says
how to name another customer's object for it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from portal.live.models import Notification

from .client import ApiClient
from .world import FOREIGN_MARK, World, build_world

pytestmark = pytest.mark.django_db

# Path parameter -> the id of an object that belongs to the other customer (or its people).
FOREIGN_IDS: dict[str, Callable[[World], object]] = {
    "customer_id": lambda w: w.other.pk,
    "notification_id": lambda w: w.foreign.pk,
}
# operationId -> a body the operation accepts (for operations that take one).
BODIES: dict[str, dict[str, Any]] = {
    "me_update": {"city": "Bern"},
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
WITH_IDS = [op for op in OPERATIONS if "{" in op[1]]
LISTS = [op for op in OPERATIONS if op[0] == "GET" and "{" not in op[1]]


@pytest.fixture
def world() -> World:
    return build_world()


def _fill(path: str, world: World) -> str:
    def foreign(match: re.Match[str]) -> str:
        name = match[1]
        assert name in FOREIGN_IDS, (
            f"{path}: say in FOREIGN_IDS how to name another customer's object for {{{name}}}"
        )
        return str(FOREIGN_IDS[name](world))

    return re.sub(r"\{(\w+)\}", foreign, path)


def _call(api: ApiClient, method: str, path: str, operation_id: str) -> Any:
    return api.request(method, path, BODIES.get(operation_id))


def _session(user: Any) -> ApiClient:
    client = Client()
    client.force_login(user)  # the test client skips CSRF checks unless asked to enforce them
    return ApiClient(client=client)


def test_the_document_has_operations_with_ids() -> None:
    assert WITH_IDS and LISTS


@pytest.mark.parametrize(("method", "path", "operation_id"), WITH_IDS, ids=lambda v: str(v))
def test_another_customers_object_is_a_404(
    world: World, method: str, path: str, operation_id: str
) -> None:
    url = _fill(path, world)
    # The object exists: its own customer reaches it.
    owner = _call(ApiClient(world.stranger_token), method, url, operation_id)
    assert owner.status_code < 400, (url, owner.status_code, owner.content)
    Notification.objects.filter(pk=world.foreign.pk).update(read_at=None)

    for caller in (
        ApiClient(world.admin_token),
        ApiClient(world.write_token),
        _session(world.admin),
    ):
        response = _call(caller, method, url, operation_id)
        assert response.status_code == 404, (url, response.status_code, response.content)
        assert response["Content-Type"] == "application/problem+json"
        assert FOREIGN_MARK not in response.content.decode()
    assert Notification.objects.get(pk=world.foreign.pk).read_at is None


@pytest.mark.parametrize(("method", "path", "operation_id"), LISTS, ids=lambda v: str(v))
def test_lists_never_show_another_customers_objects(
    world: World, method: str, path: str, operation_id: str
) -> None:
    url = path
    for caller in (ApiClient(world.admin_token), _session(world.admin)):
        response = _call(caller, method, url, operation_id)
        assert response.status_code == 200, (url, response.content)
        assert FOREIGN_MARK not in response.content.decode()
    # ... while the other customer does see its own.
    own = _call(ApiClient(world.stranger_token), method, url, operation_id).content.decode()
    assert url.endswith("/me") or url.endswith("/read") or FOREIGN_MARK in own, url


def test_a_token_acts_for_its_customer_only_even_for_a_member_of_both(world: World) -> None:
    from portal.customers.models import Membership
    from portal.tokens.tests.factories import make_token

    Membership.objects.create(user=world.member, customer=world.other, role="member")
    Notification.objects.create(
        user=world.member, customer=world.other, kind="service_request", title=FOREIGN_MARK
    )
    _, acme_only = make_token(world.member, world.acme)
    api = ApiClient(acme_only)
    for _, path, _ in LISTS:
        assert FOREIGN_MARK not in api.get(path).content.decode(), path
    assert api.get(f"customers/{world.other.pk}").status_code == 404
    # The browser session acts for every customer of the person.
    session = _session(world.member)
    assert session.get(f"customers/{world.other.pk}").status_code == 200
    assert FOREIGN_MARK in session.get("notifications").content.decode()
