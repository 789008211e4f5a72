"""Every error is a problem document: validation names the field, nothing else leaks."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from portal.apikit.tests.test_auth import assert_problem

from .client import ApiClient
from .world import World, build_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> World:
    return build_world()


@pytest.fixture
def api(world: World) -> ApiClient:
    return ApiClient(world.write_token)


def test_an_unknown_address_is_a_404_problem(api: ApiClient) -> None:
    body = assert_problem(api.get("no-such-thing"), 404)
    assert body["instance"] == "/api/v1/no-such-thing"
    assert_problem(Client().get("/api/v1/no-such-thing"), 404)
    assert_problem(Client().get("/api/v2/"), 404)


def test_pages_outside_the_api_keep_their_html_404(client: Client) -> None:
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_a_wrong_method_is_a_405_problem_with_allow(api: ApiClient) -> None:
    response = api.client.delete("/api/v1/me")
    body = assert_problem(response, 405)
    assert set(response["Allow"].replace(" ", "").split(",")) == {"GET", "PATCH"}
    assert "GET" in body["detail"]


def test_validation_errors_name_the_field(api: ApiClient) -> None:
    response = api.patch("me", {"first_name": "x" * 151, "preferred_language": "xx"})
    body = assert_problem(response, 422, "/validation-error")
    fields = {(e["in"], e["field"]): e for e in body["errors"]}
    assert set(fields) == {("body", "first_name"), ("body", "preferred_language")}
    assert fields[("body", "first_name")]["pointer"] == "/first_name"
    assert fields[("body", "first_name")]["code"] == "string_too_long"
    assert "first_name" in body["detail"]


def test_validation_errors_in_query_and_path_name_them_too(api: ApiClient) -> None:
    body = assert_problem(api.get("notifications", page=0, page_size=1000), 422)
    assert {(e["in"], e["field"]) for e in body["errors"]} == {
        ("query", "page"),
        ("query", "page_size"),
    }
    body = assert_problem(api.get("notifications/0"), 422)
    assert body["errors"][0]["in"] == "path"
    assert body["errors"][0]["field"] == "notification_id"
    body = assert_problem(api.get(f"notifications/{2**64}"), 422)
    assert body["errors"][0]["field"] == "notification_id"


def test_the_profile_form_rules_apply_to_the_api_too(api: ApiClient) -> None:
    body = assert_problem(api.patch("me", {"phone": "12"}), 422)
    assert body["errors"][0]["field"] == "phone"


@pytest.mark.parametrize(
    "value", ["nul \x00 inside", "lone \ud800 surrogate"], ids=["nul", "surrogate"]
)
def test_text_the_database_cannot_store_is_a_validation_error(api: ApiClient, value: str) -> None:
    import json

    raw = json.dumps({"city": value})  # escapes the surrogate as \\ud800
    response = api.client.patch("/api/v1/me", raw, content_type="application/json")
    body = assert_problem(response, 422)
    assert body["errors"][0]["field"] == "city"


def test_a_body_that_is_not_json_is_a_400_problem(api: ApiClient) -> None:
    response = api.client.patch("/api/v1/me", "{not json", content_type="application/json")
    assert_problem(response, 400, "/malformed-request")


def test_a_body_of_the_wrong_shape_is_a_422_problem(api: ApiClient) -> None:
    body = assert_problem(api.patch("me", [1, 2]), 422)
    assert body["errors"][0]["in"] == "body"


@pytest.mark.parametrize(
    "extra",
    [
        {"is_staff": True},
        {"is_superuser": True},
        {"email": "evil@example.com"},
        {"customer": 2},
        {"status": "active"},
        {"id": 999},
        {"password": "x"},
    ],
)
def test_mass_assignment_changes_nothing(
    world: World, api: ApiClient, extra: dict[str, Any]
) -> None:
    before = {
        f: getattr(world.member, f) for f in ("email", "is_staff", "is_superuser", "password")
    }
    response = api.patch("me", {"city": "Bern", **extra})
    body = assert_problem(response, 422)
    assert body["errors"][0]["field"] == next(iter(extra))
    assert body["errors"][0]["code"] == "extra_forbidden"
    world.member.refresh_from_db()
    assert {f: getattr(world.member, f) for f in before} == before
    assert world.member.city != "Bern"


def test_an_unexpected_failure_is_a_500_problem_with_a_request_id(
    api: ApiClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from portal.customers import api as customers_api

    def broken(membership: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(customers_api, "membership_out", broken)
    response = api.get("customers")
    body = assert_problem(response, 500)
    assert "boom" not in body["detail"]
    assert body["request_id"] == response["X-Request-ID"]
    assert any(r.name == "portal.api" and r.exc_info for r in caplog.records)


def test_every_problem_type_has_a_page(client: Client) -> None:
    from portal.apikit.problems import PROBLEM_TYPES

    for kind in PROBLEM_TYPES.values():
        response = client.get(kind.uri)
        assert response.status_code == 200
        assert kind.title in response.content.decode()
    assert client.get("/api/v1/problems/nothing").status_code == 404


def test_the_api_root_points_to_the_document_and_the_reference(client: Client) -> None:
    body = client.get("/api/v1/").json()
    assert body["openapi"].endswith("/api/v1/openapi.json")
    assert body["docs"].endswith("/api/v1/docs")


def test_a_database_that_cannot_be_reached_is_a_503_problem(
    api: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db import OperationalError

    from portal.customers import api as customers_api

    def down(membership: Any) -> Any:
        raise OperationalError("connection refused")

    monkeypatch.setattr(customers_api, "membership_out", down)
    response = api.get("customers")
    assert_problem(response, 503)
    assert response["Retry-After"] == "30"


def test_djangos_own_error_handlers_answer_problems_under_the_api() -> None:
    from django.db import OperationalError
    from django.test import RequestFactory

    from portal.apikit.views import handler500

    for path, kind in (("/api/v1/me", "application/problem+json"), ("/dashboard/", "text/html")):
        request = RequestFactory().get(path)
        try:
            raise OperationalError("down")
        except OperationalError:
            response = handler500(request)
        assert response.status_code == 503
        assert response["Content-Type"].startswith(kind)
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            response = handler500(request)
        assert response.status_code == 500


def test_the_api_over_plain_http_is_refused_not_redirected(client: Client, settings: Any) -> None:
    settings.SECURE_SSL_REDIRECT = True
    refused = client.get("/api/v1/me")
    assert refused.status_code == 403
    assert refused["Content-Type"] == "application/problem+json"
    assert "Location" not in refused
    assert "only over HTTPS" in refused.json()["detail"]
    assert client.get("/api/v1/me", secure=True).status_code == 401  # reached the API
    assert client.get("/dashboard/").status_code == 301  # pages still redirect
