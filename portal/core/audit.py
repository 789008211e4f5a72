"""Writing the audit log. Every security-relevant action calls ``audit_record``."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from django.http import HttpRequest

from .models import AuditAction, AuditEvent

if TYPE_CHECKING:
    from portal.accounts.models import User
    from portal.customers.models import Customer

# Every audit event is also a log line, for the operator's log platform and alerts.
logger = logging.getLogger("portal.audit")


def client_ip(request: HttpRequest | None) -> str | None:
    """The client's address as the server saw it.

    Behind a proxy the server (uvicorn with --proxy-headers, trusting only the
    proxy's address) already puts the forwarded client address here.
    """
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def audit_record(
    *,
    action: AuditAction,
    request: HttpRequest | None = None,
    actor: User | None = None,
    subject_user: User | None = None,
    customer: Customer | None = None,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    if actor is None and request is not None:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            actor = user
    user_agent = request.headers.get("User-Agent", "")[:300] if request is not None else ""
    event = AuditEvent.objects.create(
        action=action,
        actor=actor,
        subject_user=subject_user if subject_user is not None else actor,
        customer=customer,
        ip_address=client_ip(request),
        user_agent=user_agent,
        data=data or {},
    )
    logger.info(
        "audit %s",
        event.action,
        extra={
            "audit_action": event.action,
            "actor_id": event.actor_id,
            "subject_user_id": event.subject_user_id,
            "customer_id": event.customer_id,
            "ip": event.ip_address,
            "request_id": getattr(request, "request_id", None),
            # Identifiers and names only: no action records a secret (tests scan the logs).
            "audit_data": event.data,
        },
    )
    return event
