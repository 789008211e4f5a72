"""More data for the backup round trip, beyond the demo: run inside a portal process.

``manage.py shell -c "from tests.backup_data import add; add()"`` loads the demo
and adds what it leaves out: a staff note with an attachment in the default storage, an
access token, an invitation, notification preferences, a session, an admin log
entry, the help pages with their search index, and values that are easy to
get wrong (non-ASCII text, every byte value in a file, NULLs, JSON).
"""

from __future__ import annotations

from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.sessions.backends.db import SessionStore
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from portal.accounts.models import NotificationKind, NotificationPreference, User
from portal.customers.models import Customer
from portal.customers.roles import Role
from portal.customers.services import invitation_create
from portal.servicedesk.models import ServiceRequest
from portal.servicedesk.services import service_request_comment_add
from portal.tokens.tests.factories import make_token

# A PDF by its type check (the first bytes), with every byte value in it.
BINARY = b"%PDF-1.4\n" + bytes(range(256)) * 64 + "Grüße, 日本語 ✓".encode() + b"\n%%EOF\n"


def add() -> None:
    call_command("load_demo", verbosity=0)
    call_command("content", "sync", verbosity=0)
    staff = User.objects.filter(is_staff=True).order_by("pk").first()
    assert staff is not None
    request = ServiceRequest.objects.order_by("pk").first()
    assert request is not None
    service_request_comment_add(
        service_request=request,
        author=staff,
        body="Interne Notiz: Zugangskarte für Jürgen prüfen ✓ — <b>not bold</b>",
        as_staff=True,
        internal=True,
        uploads=[SimpleUploadedFile("notiz-ä.pdf", BINARY, "application/pdf")],
    )
    customer = Customer.objects.order_by("pk").first()
    assert customer is not None
    admin = customer.memberships.filter(role=Role.ADMIN).first()
    assert admin is not None
    make_token(admin.user, customer, name="Backup-Prüfung")
    invitation_create(
        customer=customer, email="neu@acme.example", role=Role.MEMBER, invited_by=admin.user
    )
    NotificationPreference.objects.create(
        user=admin.user, kind=NotificationKind.INVOICE, email=False, in_app=True
    )
    session = SessionStore()
    session["_auth_user_id"] = str(admin.user.pk)
    session["note"] = "ß ∑ 🙂"
    session.create()
    LogEntry.objects.log_actions(
        user_id=staff.pk, queryset=[request], action_flag=CHANGE, change_message="Geprüft"
    )


def change() -> None:
    """Changes made after a backup, which a forced restore must undo."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import storages

    from portal.customers.models import Invitation

    Invitation.objects.all().delete()
    Customer.objects.update(name="Renamed after the backup")
    storages["documents"].save("documents/zz/stray", ContentFile(b"not in the backup"))
