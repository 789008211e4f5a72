"""Bench data, written fast: PostgreSQL COPY for the big tables, bulk inserts for the rest.

Customers, users with memberships and signed-in sessions, a request catalog,
service requests with their timelines (status changes and comments), invoices
with lines, documents with a small file each, notifications.

Three customers are the growth ladder (scenario c): ``growth[0]`` requests for
the first, ``growth[1]`` for the second, ``growth[2]`` for the third; every
other customer gets ``per_customer`` requests. Run inside a configured Django
process (``manage.py shell -c``); returns JSON with the session cookies the
load generators use and the keys of sample pages.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
import sys
import time
from collections.abc import Iterable, Sequence
from typing import Any

from allauth.usersessions.models import UserSession
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.sessions.backends.cached_db import KEY_PREFIX
from django.contrib.sessions.backends.db import SessionStore as DbSessionStore
from django.contrib.sessions.models import Session
from django.core.cache import caches
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import connection, models, transaction
from django.middleware.csrf import CSRF_SECRET_LENGTH
from django.utils import timezone
from django.utils.crypto import get_random_string

from bench.clients import USER_AGENT
from portal.accounts.models import User
from portal.billing.models import Invoice, InvoiceLine, InvoiceStatus
from portal.customers.models import Customer, Membership
from portal.customers.roles import Role
from portal.documents.models import Category, Document, DocumentVersion, ScanStatus, Source
from portal.live.models import Notification
from portal.servicedesk.models import (
    Comment,
    FieldDefinition,
    FieldKind,
    RequestType,
    ServiceRequest,
    StatusChange,
)
from portal.servicedesk.workflow import ActorKind, Status

BATCH = 5000
# Requests per customer in every state; older ones are closed.
RECENT = 40
STATUS_MIX = [
    Status.SUBMITTED,
    Status.IN_REVIEW,
    Status.IN_PROGRESS,
    Status.WAITING_FOR_CUSTOMER,
    Status.RESOLVED,
    Status.CLOSED,
    Status.CLOSED,
    Status.CLOSED,
]


def _log(message: str) -> None:
    print(f"[seed {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _next_id(model: type[models.Model]) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {model._meta.db_table}")  # noqa: S608
        return int(cursor.fetchone()[0])


def _copy(model: type[models.Model], fields: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """COPY rows (values in ``fields`` order, ``id`` first) into the model's table."""
    columns = [model._meta.get_field(name).column for name in fields]
    table = model._meta.db_table
    count = 0
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg 3
        with raw.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
        # Explicit ids: move the identity sequence past them.
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
            f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
        )
    return count


def _request_types() -> list[RequestType]:
    made = []
    for n, (name, category) in enumerate(
        [("Access card", "Facilities"), ("New laptop", "IT"), ("Billing question", "Finance")]
    ):
        request_type = RequestType.objects.create(
            name=name, slug=f"bench-{n}", category=category, description=f"{name} (bench)"
        )
        FieldDefinition.objects.create(
            request_type=request_type, position=1, name="details", label="Details",
            kind=FieldKind.LONG_TEXT, required=True,
        )  # fmt: skip
        made.append(request_type)
    return made


def run(
    *,
    customers: int,
    users: int,
    growth: Sequence[int] = (100_000, 1_000, 10),
    per_customer: int = 100,
    invoices_per_customer: int = 30,
    documents_per_customer: int = 20,
) -> dict[str, Any]:
    """Seed the database; returns what the load generators need (JSON-serialisable)."""
    started = time.monotonic()
    password = make_password("bench-password-2026")
    made_customers = Customer.objects.bulk_create(
        [Customer(name=f"Bench customer {i:04d}", number=f"B-{i:06d}") for i in range(customers)],
        batch_size=BATCH,
    )
    people = User.objects.bulk_create(
        [
            User(email=f"bench{i:05d}@bench.example", first_name="Bench", last_name=f"{i:05d}",
                 password=password)
            for i in range(users)
        ],
        batch_size=BATCH,
    )  # fmt: skip
    staff = User.objects.create(
        email="bench-staff@bench.example", first_name="Sam", last_name="Staff", is_staff=True,
        password=password,
    )  # fmt: skip
    # Role by user index: admin, member, member, billing. A customer's users are i % customers.
    roles = [Role.ADMIN, Role.MEMBER, Role.MEMBER, Role.BILLING]
    Membership.objects.bulk_create(
        [
            Membership(user=user, customer=made_customers[i % customers], role=roles[i % 4])
            for i, user in enumerate(people)
        ],
        batch_size=BATCH,
    )
    _log(f"{customers} customers, {users} users ({time.monotonic() - started:.0f} s)")

    types = _request_types()
    now = timezone.now()
    counts = [growth[i] if i < len(growth) else per_customer for i in range(len(made_customers))]
    request_id = _next_id(ServiceRequest)
    refs: dict[int, list[str]] = {}
    # (id, submitter, created, status) per request, for the timelines below: the COPY
    # holds the connection, so nothing may be read from the database while it runs.
    made: list[tuple[int, int, dt.datetime, str]] = []

    def request_rows() -> Iterable[Sequence[Any]]:
        nonlocal request_id
        serial = 0
        for c_index, customer in enumerate(made_customers):
            submitters = [people[u] for u in range(c_index, users, customers)] or [people[0]]
            refs[customer.pk] = []
            for n in range(counts[c_index]):
                serial += 1
                reference = f"SR-B-{serial:07d}"
                if n < 3 or n == counts[c_index] - 1:
                    refs[customer.pk].append(reference)
                # The newest requests are in play; the long history behind them is closed.
                recent = n >= counts[c_index] - RECENT
                status = STATUS_MIX[n % len(STATUS_MIX)] if recent else Status.CLOSED
                # Spread over the last two years, newest last.
                created = now - dt.timedelta(minutes=(counts[c_index] - n) * 7 + c_index)
                submitter = submitters[n % len(submitters)].pk
                made.append((request_id, submitter, created, status))
                open_ = status not in (Status.RESOLVED, Status.CLOSED, Status.CANCELLED)
                yield (
                    request_id, reference, customer.pk, types[n % 3].pk,
                    submitter, f"Bench request {n} of {customer.name}",
                    json.dumps([{"name": "details", "label": "Details", "kind": "long_text",
                                 "value": "Something needs doing."}]),
                    f"bench request {n}", str(status), created, created,
                    created + dt.timedelta(hours=8), created + dt.timedelta(hours=72),
                    None if status == Status.SUBMITTED else created + dt.timedelta(hours=1),
                    None if open_ else created + dt.timedelta(hours=30),
                    created + dt.timedelta(hours=72) if open_ else None, "",
                )  # fmt: skip
                request_id += 1

    with transaction.atomic():
        made_requests = _copy(
            ServiceRequest,
            ["id", "reference", "customer", "request_type", "submitted_by", "title", "answers",
             "search_text", "status", "created_at", "updated_at", "first_response_due_at",
             "resolution_due_at", "first_responded_at", "resolved_at", "due_at",
             "rating_comment"],
            request_rows(),
        )  # fmt: skip
    _log(f"{made_requests} service requests ({time.monotonic() - started:.0f} s)")

    # Timelines: the submission, a staff move for every other request, and 0-3 messages.
    def timeline_rows(change_id: int) -> Iterable[Sequence[Any]]:
        for pk, submitter, created, status in made:
            yield (change_id, pk, created, submitter, ActorKind.CUSTOMER, "", Status.SUBMITTED, "")
            change_id += 1
            if status != Status.SUBMITTED:
                yield (
                    change_id, pk, created + dt.timedelta(hours=1), staff.pk, ActorKind.STAFF,
                    Status.SUBMITTED, status, "Moved on by the service team.",
                )  # fmt: skip
                change_id += 1

    def comment_rows(comment_id: int) -> Iterable[Sequence[Any]]:
        for pk, submitter, created, _status in made:
            for m in range(pk % 4):
                by_staff = m % 2 == 1
                yield (
                    comment_id, pk, created + dt.timedelta(minutes=30 * (m + 1)),
                    staff.pk if by_staff else submitter,
                    ActorKind.STAFF if by_staff else ActorKind.CUSTOMER,
                    f"Message {m} on this request.", False,
                )  # fmt: skip
                comment_id += 1

    with transaction.atomic():
        changes = _copy(
            StatusChange,
            ["id", "service_request", "created_at", "actor", "actor_kind", "from_status",
             "to_status", "note"],
            timeline_rows(_next_id(StatusChange)),
        )  # fmt: skip
        comments = _copy(
            Comment,
            ["id", "service_request", "created_at", "author", "author_kind", "body", "internal"],
            comment_rows(_next_id(Comment)),
        )  # fmt: skip
    _log(f"{changes} status changes, {comments} comments ({time.monotonic() - started:.0f} s)")

    # Invoices with one line each; open, paid and overdue ones.
    today = timezone.localdate()
    invoice_id = _next_id(Invoice)
    invoice_rows, line_rows = [], []
    line_id = _next_id(InvoiceLine)
    for c_index, customer in enumerate(made_customers):
        for n in range(invoices_per_customer):
            issued = today - dt.timedelta(days=(invoices_per_customer - n) * 12)
            status = InvoiceStatus.OPEN if n >= invoices_per_customer - 3 else InvoiceStatus.PAID
            total = 11900 + 100 * n
            invoice_rows.append(
                (
                    invoice_id, f"INV-B-{c_index:03d}-{n:04d}", customer.pk, str(status), "EUR",
                    issued, issued + dt.timedelta(days=30), customer.name, "", 10000 + 100 * n,
                    total - 10000 - 100 * n, total, total if status == InvoiceStatus.PAID else 0,
                    0, "", now,
                )
            )  # fmt: skip
            line_rows.append((line_id, invoice_id, 1, "Service fee", "1", 10000 + 100 * n, "19.00"))
            invoice_id += 1
            line_id += 1
    with transaction.atomic():
        _copy(
            Invoice,
            ["id", "number", "customer", "status", "currency", "issue_date", "due_date",
             "bill_to", "notes", "subtotal_minor", "tax_minor", "total_minor",
             "amount_paid_minor", "amount_refunded_minor", "source_reference", "created_at"],
            invoice_rows,
        )  # fmt: skip
        _copy(
            InvoiceLine,
            ["id", "invoice", "position", "description", "quantity", "unit_price_minor",
             "tax_rate"],
            line_rows,
        )  # fmt: skip
    _log(f"{len(invoice_rows)} invoices ({time.monotonic() - started:.0f} s)")

    # Documents: one small file each (one shared content, one key per version).
    categories = [
        Category.objects.create(name=f"Bench {name}", slug=f"bench-{name}", position=n)
        for n, name in enumerate(["contracts", "reports", "manuals"])
    ]
    storage = storages["documents"]
    blob = b"A small bench document.\n" * 40
    digest = hashlib.sha256(blob).hexdigest()
    doc_id, version_id = _next_id(Document), _next_id(DocumentVersion)
    doc_rows, version_rows = [], []
    for c_index, customer in enumerate(made_customers):
        uploader = people[c_index % users]
        for n in range(documents_per_customer):
            key = f"bench/{customer.pk}/{secrets.token_hex(8)}.txt"
            storage.save(key, ContentFile(blob))
            stamp = now - dt.timedelta(days=documents_per_customer - n)
            doc_rows.append(
                (doc_id, customer.pk, f"Bench document {n}", categories[n % 3].pk,
                 str(Source.CUSTOMER), uploader.pk, None, stamp, stamp)
            )  # fmt: skip
            version_rows.append(
                (version_id, doc_id, 1, key, f"document-{n}.txt", len(blob), "text/plain",
                 digest, uploader.pk, stamp, str(ScanStatus.CLEAN), "", stamp)
            )  # fmt: skip
            doc_id += 1
            version_id += 1
    with transaction.atomic():
        _copy(
            Document,
            ["id", "customer", "title", "category", "source", "created_by",
             "request_reference", "created_at", "updated_at"],
            doc_rows,
        )  # fmt: skip
        _copy(
            DocumentVersion,
            ["id", "document", "number", "storage_key", "file_name", "size", "content_type",
             "sha256", "uploaded_by", "uploaded_at", "scan_status", "scan_detail",
             "scanned_at"],
            version_rows,
        )  # fmt: skip
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {Document._meta.db_table} d SET current_version_id = v.id "  # noqa: S608
                f"FROM {DocumentVersion._meta.db_table} v WHERE v.document_id = d.id"
            )
    _log(f"{len(doc_rows)} documents ({time.monotonic() - started:.0f} s)")

    Notification.objects.bulk_create(
        [
            Notification(user=user, kind="service_request", title=f"Update {n} for you")
            for user in people[:1000]
            for n in range(5)
        ],
        batch_size=BATCH,
    )
    # One signed-in session per user, as after a sign-in.
    stamp = int(now.timestamp())
    expire = now + dt.timedelta(seconds=settings.SESSION_COOKIE_AGE)
    encoder = DbSessionStore()
    sessions = []
    user_hash = people[0].get_session_auth_hash()  # same password hash for every bench user
    for user in people:
        data = {
            "_auth_user_id": str(user.pk),
            "_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
            "_auth_user_hash": user_hash,
            "portal_session_started": stamp,
            "portal_session_last_seen": stamp,
        }
        sessions.append(
            Session(
                session_key=secrets.token_hex(16),
                session_data=encoder.encode(data),
                expire_date=expire,
            )
        )
    Session.objects.bulk_create(sessions, batch_size=BATCH)
    # A sign-in also leaves the session in the cache (the cached_db backend writes
    # both) and the session's activity row (Account -> Sessions).
    session_cache = caches[settings.SESSION_CACHE_ALIAS]
    for start in range(0, len(sessions), BATCH):
        session_cache.set_many(
            {
                KEY_PREFIX + row.session_key: encoder.decode(row.session_data)
                for row in sessions[start : start + BATCH]
            },
            settings.SESSION_COOKIE_AGE,
        )
    UserSession.objects.bulk_create(
        [
            UserSession(
                # The address and browser of the bench's clients.
                user=user, session_key=row.session_key, ip="127.0.0.1",
                user_agent=USER_AGENT, created_at=now, last_seen_at=now,
            )
            for user, row in zip(people, sessions, strict=True)
        ],
        batch_size=BATCH,
    )  # fmt: skip
    # API tokens (read scope) for admins of ordinary customers: users i with i % 4 == 0.
    from portal.tokens.models import TokenScope
    from portal.tokens.services import token_create

    tokens = []
    for i in range(len(growth), min(users, len(growth) + 4 * 50)):
        if i % 4 == 0 and i % customers >= len(growth):
            _token, secret = token_create(
                user=people[i], customer=made_customers[i % customers], name="bench",
                scope=TokenScope.READ, expires_in_days=30,
            )  # fmt: skip
            tokens.append(secret)
    with connection.cursor() as cursor:
        # Statistics and the visibility map, as autovacuum leaves a settled database.
        cursor.execute("VACUUM ANALYZE")
    _log(f"sessions, notifications, ANALYZE ({time.monotonic() - started:.0f} s)")
    return {
        "cookie_name": settings.SESSION_COOKIE_NAME,
        "sessions": [s.session_key for s in sessions],
        # The Cookie header of each user's browser: the session, and the CSRF cookie its
        # sign-in page set (without it, every page would mint a new CSRF secret and set it).
        "cookies": [
            f"{settings.SESSION_COOKIE_NAME}={row.session_key}; "
            f"{settings.CSRF_COOKIE_NAME}={get_random_string(CSRF_SECRET_LENGTH)}"
            for row in sessions
        ],
        "tokens": tokens,
        "customer_of_user": [made_customers[i % customers].pk for i in range(users)],
        "role_of_user": [str(roles[i % 4]) for i in range(users)],
        # Per growth customer: its request count and a few request references.
        "growth": [
            {"customer_index": i, "requests": counts[i], "references": refs[made_customers[i].pk]}
            for i in range(min(len(growth), customers))
        ],
        # Per customer (by index): a few of its request references.
        "references": [refs[customer.pk] for customer in made_customers],
    }


if __name__ == "__main__":  # pragma: no cover - used through manage.py shell
    json.dump(run(customers=int(sys.argv[1]), users=int(sys.argv[2])), sys.stdout)
