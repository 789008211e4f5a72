from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.apikit.tests.client import ApiClient
from portal.apikit.tests.world import World, build_world
from portal.servicedesk.models import Comment, ServiceRequest
from portal.servicedesk.workflow import Status

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> World:
    return build_world()


def test_the_catalog_lists_types_with_their_fields(world: World) -> None:
    api = ApiClient(world.read_token)
    body = api.get("request-types").json()
    (access_card,) = body["results"]
    assert access_card["slug"] == "access-card" and access_card["fee"] is None
    assert [(f["name"], f["kind"], f["required"]) for f in access_card["fields"]] == [
        ("details", "long_text", True),
        ("cards", "number", False),
    ]
    assert api.get("request-types/access-card").json()["name"] == "Access card"
    assert api.get("request-types/nothing").status_code == 404


def test_submit_a_request_with_the_types_fields(world: World) -> None:
    response = ApiClient(world.write_token).post(
        "service-requests",
        {
            "request_type": "access-card",
            "title": "Two new cards",
            "answers": {"details": "For the new starters.", "cards": 2},
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["reference"].startswith("SR-") and body["status"] == "submitted"
    assert {a["name"]: a["value"] for a in body["answers"]} == {
        "details": "For the new starters.",
        "cards": "2",
    }
    assert body["actions"] == ["cancel"]
    assert ServiceRequest.objects.get(reference=body["reference"]).submitted_by == world.member


def test_submission_errors_name_the_answer(world: World) -> None:
    response = ApiClient(world.write_token).post(
        "service-requests",
        {"request_type": "access-card", "title": "x", "answers": {"cards": "many", "pets": 1}},
    )
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"answers.details", "answers.cards", "answers.pets"}
    pointers = {e["pointer"] for e in response.json()["errors"]}
    assert pointers == {"/answers/details", "/answers/cards", "/answers/pets"}  # RFC 6901
    unknown = ApiClient(world.write_token).post(
        "service-requests", {"request_type": "nope", "title": "x"}
    )
    assert unknown.json()["errors"][0]["field"] == "request_type"


@pytest.mark.parametrize("extra", [{"status": "resolved"}, {"customer": 2}, {"reference": "SR"}])
def test_mass_assignment_on_submission_changes_nothing(world: World, extra: dict[str, Any]) -> None:
    before = ServiceRequest.objects.count()
    response = ApiClient(world.write_token).post(
        "service-requests",
        {"request_type": "access-card", "title": "x", "answers": {"details": "d"}, **extra},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == next(iter(extra))
    assert ServiceRequest.objects.count() == before


def test_roles_and_scopes_apply(world: World) -> None:
    body = {"request_type": "access-card", "title": "x", "answers": {"details": "d"}}
    assert ApiClient(world.read_token).post("service-requests", body).status_code == 403
    assert ApiClient(world.billing_token).post("service-requests", body).status_code == 403
    assert ApiClient(world.billing_token).get("service-requests").status_code == 403


def test_list_filter_and_get(world: World) -> None:
    api = ApiClient(world.read_token)
    body = api.get("service-requests", status="open").json()
    assert [r["reference"] for r in body["results"]] == [world.reference]
    assert api.get("service-requests", status="closed").json()["count"] == 0
    assert api.get("service-requests", status="nonsense").status_code == 422
    detail = api.get(f"service-requests/{world.reference}").json()
    assert detail["timeline"][0]["to_status"] == "submitted"
    assert detail["comments"] == []
    assert api.get("service-requests/SR-2026-999999").status_code == 404
    assert api.get("service-requests/not-a-reference").status_code in {404, 422}


def test_comment_cancel_and_reopen(world: World) -> None:
    api = ApiClient(world.write_token)
    comment = api.post(f"service-requests/{world.reference}/comments", {"body": "Any news?"})
    assert comment.status_code == 201 and comment.json()["by"] == "customer"
    assert Comment.objects.filter(service_request__reference=world.reference).count() == 1
    assert api.post(f"service-requests/{world.reference}/reopen").status_code == 409
    cancelled = api.post(f"service-requests/{world.reference}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert api.post(f"service-requests/{world.reference}/cancel").status_code == 409
    closed = api.post(f"service-requests/{world.reference}/comments", {"body": "Hello?"})
    assert closed.status_code == 409


@pytest.mark.parametrize("blank", [" ", "\x1f", "\n\u3000\t"])
def test_a_blank_message_or_title_is_refused_by_name_and_nothing_is_stored(
    world: World, blank: str
) -> None:
    api = ApiClient(world.write_token)
    requests_before = ServiceRequest.objects.count()
    comment = api.post(f"service-requests/{world.reference}/comments", {"body": blank})
    assert comment.status_code == 422
    assert [(e["field"], e["code"]) for e in comment.json()["errors"]] == [("body", "blank")]
    assert "other than spaces" in comment.json()["errors"][0]["message"]
    submitted = api.post(
        "service-requests",
        {"request_type": "access-card", "title": blank, "answers": {"details": "Two"}},
    )
    assert submitted.status_code == 422
    assert [e["field"] for e in submitted.json()["errors"]] == ["title"]
    assert not Comment.objects.exists()
    assert ServiceRequest.objects.count() == requests_before


def test_reopen_a_resolved_request(world: World) -> None:
    from django.utils import timezone

    ServiceRequest.objects.filter(reference=world.reference).update(
        status=Status.RESOLVED, resolved_at=timezone.now()
    )
    api = ApiClient(world.write_token)
    assert api.get(f"service-requests/{world.reference}").json()["actions"] == ["reopen"]
    response = api.post(f"service-requests/{world.reference}/reopen")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "in_review"


def test_internal_notes_never_show(world: World) -> None:
    sr = ServiceRequest.objects.get(reference=world.reference)
    Comment.objects.create(
        service_request=sr, author=world.staff, author_kind="staff", body="secret", internal=True
    )
    detail = ApiClient(world.read_token).get(f"service-requests/{world.reference}").json()
    assert "secret" not in str(detail)


def _list(api: ApiClient, **params: Any) -> tuple[Any, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        response = api.get("service-requests", **params)
    assert response.status_code == 200, response.content
    return response.json(), [q["sql"] for q in captured.captured_queries]


def _reads_requests(queries: list[str]) -> bool:
    return any('FROM "servicedesk_servicerequest"' in sql for sql in queries)


def test_the_list_asked_for_again_is_kept_until_a_request_changes(world: World) -> None:
    from portal.servicedesk import services

    api = ApiClient(world.read_token)
    first, queries = _list(api)
    assert _reads_requests(queries)
    again, queries = _list(api)
    assert again == first and not _reads_requests(queries)
    sr = ServiceRequest.objects.get(reference=world.reference)
    services.service_request_transition(
        service_request=sr, to_status=Status.IN_PROGRESS, actor=world.staff, as_staff=True
    )
    changed, queries = _list(api)
    assert _reads_requests(queries)
    assert {r["reference"]: r["status"] for r in changed["results"]}[world.reference] == (
        "in_progress"
    )
    # A filter or search is read every time, never kept.
    for params in ({"status": "open"}, {"search": "card"}):
        _list(api, **params)
        assert _reads_requests(_list(api, **params)[1])


def test_a_kept_list_is_not_shown_once_the_caller_may_not_see_requests(world: World) -> None:
    from portal.customers.models import Membership
    from portal.customers.roles import Role

    api = ApiClient(world.read_token)
    _list(api)
    _list(api)  # kept
    Membership.objects.filter(user=world.member, customer=world.acme).update(role=Role.BILLING)
    # QuerySet.update sends no signal; the role is read with the token all the same.
    response = api.get("service-requests")
    assert response.status_code == 403


def test_pages_of_a_kept_list_are_kept_apart(world: World) -> None:
    from portal.servicedesk.tests.factories import make_request

    sr = ServiceRequest.objects.get(reference=world.reference)
    for n in range(4):
        make_request(customer=sr.customer, submitted_by=world.member, title=f"More {n}")
    api = ApiClient(world.read_token)
    pages = [_list(api, page=page, page_size=2)[0] for page in (1, 2, 3)]
    again = [_list(api, page=page, page_size=2) for page in (1, 2, 3)]
    assert [body for body, _queries in again] == pages
    assert not any(_reads_requests(queries) for _body, queries in again)
    references = [r["reference"] for body in pages for r in body["results"]]
    assert len(references) == len(set(references)) == 5
    assert api.get("service-requests", page=4, page_size=2).status_code == 404


def test_listing_requests_costs_the_same_queries_for_one_or_many(world: World) -> None:
    from portal.core.fragments import versions_bump
    from portal.servicedesk.tests.factories import make_request

    api = ApiClient(world.read_token)
    api.get("service-requests")
    versions_bump(customers=[world.acme.pk])  # the list as read, not as kept
    with CaptureQueriesContext(connection) as one:
        api.get("service-requests")
    for _ in range(6):
        make_request(customer=world.acme, submitted_by=world.member)
    with CaptureQueriesContext(connection) as many:
        assert api.get("service-requests").json()["count"] == 7
    assert len(many) == len(one) <= 7, [q["sql"] for q in many]
