"""Background tasks of the core: e-mail. Tasks take plain values and are safe to run twice."""

from __future__ import annotations

from django.db import transaction
from django_tasks import task

from .email import send_portal_email


@task()
def send_email(*, to: list[str], subject: str, body: str) -> None:
    send_portal_email(to=to, subject=subject, body=body)


def send_email_on_commit(*, to: list[str], subject: str, body: str) -> None:
    """Queue an e-mail once the current transaction has committed (at once outside one)."""
    transaction.on_commit(lambda: send_email.enqueue(to=to, subject=subject, body=body))
