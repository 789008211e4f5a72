"""The statuses of a service request and who may move it where, written once.

Everything else (services, forms, pages, tests) asks :func:`allowed_targets`;
nothing else lists transitions.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Status(models.TextChoices):
    SUBMITTED = "submitted", _("Submitted")
    IN_REVIEW = "in_review", _("In review")
    IN_PROGRESS = "in_progress", _("In progress")
    WAITING_FOR_CUSTOMER = "waiting_for_customer", _("Waiting for customer")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")
    CANCELLED = "cancelled", _("Cancelled")

    @property
    def colour(self) -> str:
        """The badge colour; a CSS class ``badge-<colour>`` draws it."""
        return STATUS_COLOURS[self]

    @property
    def is_open(self) -> bool:
        """Someone still has work to do on it."""
        return self in OPEN_STATUSES


STATUS_COLOURS: dict[Status, str] = {
    Status.SUBMITTED: "blue",
    Status.IN_REVIEW: "purple",
    Status.IN_PROGRESS: "amber",
    Status.WAITING_FOR_CUSTOMER: "orange",
    Status.RESOLVED: "green",
    Status.CLOSED: "grey",
    Status.CANCELLED: "grey",
}

OPEN_STATUSES = frozenset(
    {Status.SUBMITTED, Status.IN_REVIEW, Status.IN_PROGRESS, Status.WAITING_FOR_CUSTOMER}
)
# Before work starts a customer may still withdraw the request.
NOT_STARTED = frozenset({Status.SUBMITTED, Status.IN_REVIEW})


class ActorKind(models.TextChoices):
    CUSTOMER = "customer", _("Customer")
    STAFF = "staff", _("Staff")


_S = Status
TRANSITIONS: dict[ActorKind, dict[Status, frozenset[Status]]] = {
    ActorKind.CUSTOMER: {
        # Cancel before work starts.
        _S.SUBMITTED: frozenset({_S.CANCELLED}),
        _S.IN_REVIEW: frozenset({_S.CANCELLED}),
        # Reply when asked: back to where it was before (see services).
        _S.WAITING_FOR_CUSTOMER: frozenset({_S.IN_REVIEW, _S.IN_PROGRESS}),
        # Confirm, or reopen within PORTAL_REOPEN_DAYS of the resolution.
        _S.RESOLVED: frozenset({_S.CLOSED, _S.IN_REVIEW}),
    },
    ActorKind.STAFF: {
        _S.SUBMITTED: frozenset(
            {_S.IN_REVIEW, _S.IN_PROGRESS, _S.WAITING_FOR_CUSTOMER, _S.RESOLVED, _S.CANCELLED}
        ),
        _S.IN_REVIEW: frozenset(
            {_S.IN_PROGRESS, _S.WAITING_FOR_CUSTOMER, _S.RESOLVED, _S.CANCELLED}
        ),
        _S.IN_PROGRESS: frozenset(
            {_S.IN_REVIEW, _S.WAITING_FOR_CUSTOMER, _S.RESOLVED, _S.CANCELLED}
        ),
        _S.WAITING_FOR_CUSTOMER: frozenset(
            {_S.IN_REVIEW, _S.IN_PROGRESS, _S.RESOLVED, _S.CANCELLED}
        ),
        _S.RESOLVED: frozenset({_S.IN_PROGRESS, _S.CLOSED}),
    },
}
# A customer's move out of "resolved" back into work is a reopening, limited in time.
REOPEN = (ActorKind.CUSTOMER, Status.RESOLVED, Status.IN_REVIEW)


def allowed_targets(actor: ActorKind | str, status: Status | str) -> frozenset[Status]:
    """Statuses ``actor`` may move a request in ``status`` to (before time limits)."""
    return TRANSITIONS[ActorKind(actor)].get(Status(status), frozenset())


def is_allowed(actor: ActorKind | str, from_status: Status | str, to_status: Status | str) -> bool:
    return Status(to_status) in allowed_targets(actor, from_status)
