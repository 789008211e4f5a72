from __future__ import annotations

from typing import Any

from portal.accounts.models import User
from portal.core.tests.factories import UserFactory
from portal.customers.models import Customer
from portal.servicedesk import services
from portal.servicedesk.models import FieldDefinition, FieldKind, RequestType, ServiceRequest
from portal.servicedesk.workflow import Status


def make_request_type(
    name: str = "Access card", slug: str = "access-card", **overrides: Any
) -> RequestType:
    defaults: dict[str, Any] = {
        "category": "Facilities",
        "description": "A new or replacement access card.",
        "sla_first_response_hours": 8,
        "sla_resolution_hours": 72,
    }
    defaults.update(overrides)
    request_type = RequestType.objects.create(name=name, slug=slug, **defaults)
    FieldDefinition.objects.create(
        request_type=request_type,
        position=1,
        name="details",
        label="Details",
        kind=FieldKind.LONG_TEXT,
        required=True,
        help_text="What do you need?",
    )
    FieldDefinition.objects.create(
        request_type=request_type,
        position=2,
        name="cards",
        label="Number of cards",
        kind=FieldKind.NUMBER,
        required=False,
    )
    return request_type


def make_staff(**fields: Any) -> User:
    user: User = UserFactory(is_staff=True, **fields)
    return user


def make_request(
    *,
    customer: Customer,
    submitted_by: User,
    request_type: RequestType | None = None,
    title: str = "Replace my access card",
    details: str = "It stopped working on Monday.",
    status: Status | None = None,
) -> ServiceRequest:
    """A submitted request; with ``status``, forced into it directly (for workflow tests)."""
    service_request = services.service_request_submit(
        customer=customer,
        submitted_by=submitted_by,
        request_type=request_type or RequestType.objects.first() or make_request_type(),
        title=title,
        answers={"details": details, "cards": None},
    )
    if status is not None and status != service_request.status:
        ServiceRequest.objects.filter(pk=service_request.pk).update(status=status)
        service_request.refresh_from_db()
    return service_request
