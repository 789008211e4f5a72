"""Demo catalog and requests for ``make run``: a lived-in service desk.

Called by ``portal.core.demo.load_demo_data``; idempotent: types are found by
slug, requests by customer and summary, so a second run changes nothing.
Requests are made through the services (staff@portal.example acting for the
service team); afterwards their timestamps are spread over the past weeks so
the timeline reads like real history.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q
from django.utils import timezone

from portal.accounts.models import User
from portal.customers.models import Customer

from . import services
from .models import Comment, FieldDefinition, FieldKind, RequestType, ServiceRequest, StatusChange
from .workflow import Status

F = FieldKind


@dataclass(frozen=True)
class DemoField:
    name: str
    label: str
    kind: str
    required: bool = False
    help_text: str = ""
    choices: str = ""


@dataclass(frozen=True)
class DemoType:
    slug: str
    name: str
    category: str
    description: str
    first_response_hours: int
    resolution_hours: int
    fields: tuple[DemoField, ...]
    fee_amount: int | None = None
    fee_currency: str = ""


CATALOG = (
    DemoType(
        "report-a-fault",
        "Report a fault",
        "Technical support",
        "Something stopped working: a device, a connection or one of our services.",
        2,
        24,
        (
            DemoField("location", "Where is the problem?", F.TEXT, True, "Site, floor or room."),
            DemoField(
                "description",
                "What happens?",
                F.LONG_TEXT,
                True,
                "What you did, what you expected, what happened instead.",
            ),
            DemoField("people_affected", "How many people are affected?", F.NUMBER),
            DemoField("blocking", "Does it stop your work?", F.YES_NO, True),
            DemoField("screenshot", "Screenshot or photo", F.FILE),
        ),
    ),
    DemoType(
        "new-user-account",
        "New user account",
        "Accounts and access",
        "An account and equipment for someone joining your organisation.",
        4,
        48,
        (
            DemoField("full_name", "Full name", F.TEXT, True),
            DemoField("work_email", "Work e-mail address", F.TEXT, True),
            DemoField("start_date", "First working day", F.DATE, True),
            DemoField("laptop", "Do they need a laptop?", F.YES_NO, True),
            DemoField(
                "applications",
                "Applications they need",
                F.LONG_TEXT,
                False,
                "One per line, e.g. Accounting, CRM.",
            ),
        ),
    ),
    DemoType(
        "access-card",
        "Access card",
        "Facilities",
        "A new, replacement or visitor card for your building.",
        8,
        72,
        (
            DemoField("holder", "Card holder", F.TEXT, True),
            DemoField(
                "card_type",
                "Kind of card",
                F.CHOICE,
                True,
                choices="New card\nReplacement\nVisitor card",
            ),
            DemoField("needed_by", "Needed by", F.DATE),
        ),
    ),
    DemoType(
        "office-move",
        "Office move",
        "Facilities",
        "We move desks, equipment and network points to another room or floor.",
        24,
        240,
        (
            DemoField("from_room", "From room", F.TEXT, True),
            DemoField("to_room", "To room", F.TEXT, True),
            DemoField("move_date", "Preferred date", F.DATE, True),
            DemoField("workstations", "Number of workstations", F.NUMBER, True),
            DemoField("floor_plan", "Floor plan", F.FILE),
        ),
        fee_amount=14900,
        fee_currency="EUR",
    ),
    DemoType(
        "invoice-copy",
        "Copy of an invoice",
        "Billing and contracts",
        "A duplicate of an invoice we sent, e.g. for your auditor.",
        8,
        24,
        (
            DemoField(
                "invoice_number", "Invoice number", F.TEXT, True, "As printed, e.g. INV-2026-0042."
            ),
            DemoField(
                "reason",
                "Why do you need it?",
                F.CHOICE,
                True,
                choices="Lost\nAddress changed\nAuditor request\nOther",
            ),
        ),
    ),
    DemoType(
        "contract-change",
        "Contract change",
        "Billing and contracts",
        "Change your service contract: scope, contact person or billing address.",
        24,
        120,
        (
            DemoField("change", "What should change?", F.LONG_TEXT, True),
            DemoField("effective_from", "From when?", F.DATE),
            DemoField(
                "signed_document",
                "Signed document",
                F.FILE,
                False,
                "If you already have a signed change form.",
            ),
        ),
    ),
    DemoType(
        "general-question",
        "General question",
        "General",
        "Anything else: ask us in your own words.",
        8,
        72,
        (DemoField("question", "Your question", F.LONG_TEXT, True),),
    ),
)


@dataclass(frozen=True)
class DemoRequest:
    customer: str  # customer number
    submitter: str  # e-mail
    type_slug: str
    title: str
    answers: dict[str, Any]
    days_ago: float
    # ("status", to, note) | ("reply", body) | ("customer", body) | ("note", body)
    # | ("rate", stars, text)
    steps: tuple[tuple[Any, ...], ...] = field(default_factory=tuple)


ACME, JANE = "C-900001", "C-900002"
MEMBER, ADMIN, JANE_EMAIL = "member@acme.example", "admin@acme.example", "jane@example.org"

REQUESTS = (
    # --- Acme: one in every status ---
    DemoRequest(
        ACME,
        MEMBER,
        "report-a-fault",
        "Printer on the 3rd floor jams on every job",
        {
            "location": "Head office, 3rd floor, copy room",
            "description": "Every print job jams after the first page since this morning.",
            "people_affected": "12",
            "blocking": True,
        },
        0.1,
    ),
    DemoRequest(
        ACME,
        ADMIN,
        "new-user-account",
        "Account for our new accountant, Priya Shah",
        {
            "full_name": "Priya Shah",
            "work_email": "priya.shah@acme.example",
            "start_date": "2026-12-01",
            "laptop": True,
            "applications": "Accounting\nCRM\nE-mail",
        },
        1,
        (("status", Status.IN_REVIEW, "We are checking the licences."),),
    ),
    DemoRequest(
        ACME,
        MEMBER,
        "office-move",
        "Move the sales team to room 2.14",
        {"from_room": "1.03", "to_room": "2.14", "move_date": "2026-12-12", "workstations": "6"},
        4,
        (
            ("status", Status.IN_REVIEW, ""),
            ("reply", "Thanks! We have booked the movers for 12 December, 8:00."),
            ("note", "Movers confirmed, PO 55-1203. Network points in 2.14 need patching."),
            ("status", Status.IN_PROGRESS, "Movers booked."),
        ),
    ),
    DemoRequest(
        ACME,
        MEMBER,
        "access-card",
        "Replacement card for Martin",
        {"holder": "Martin Member", "card_type": "Replacement"},
        3,
        (
            ("status", Status.IN_PROGRESS, ""),
            (
                "status",
                Status.WAITING_FOR_CUSTOMER,
                "Please confirm the old card number so we can block it.",
            ),
        ),
    ),
    DemoRequest(
        ACME,
        ADMIN,
        "invoice-copy",
        "Copy of invoice INV-2026-0042 for our auditor",
        {"invoice_number": "INV-2026-0042", "reason": "Auditor request"},
        6,
        (
            ("status", Status.IN_PROGRESS, ""),
            ("reply", "Here you are: we have sent the copy to your billing address as well."),
            ("status", Status.RESOLVED, "Copy sent."),
        ),
    ),
    DemoRequest(
        ACME,
        MEMBER,
        "report-a-fault",
        "Wi-Fi drops in meeting room B",
        {
            "location": "Meeting room B",
            "description": "The Wi-Fi drops every few minutes.",
            "people_affected": "8",
            "blocking": False,
        },
        21,
        (
            ("status", Status.IN_REVIEW, ""),
            ("reply", "Could you tell us which network name you connect to?"),
            ("status", Status.WAITING_FOR_CUSTOMER, "Which network?"),
            ("customer", "It is ACME-GUEST."),
            ("note", "Access point AP-B2 firmware outdated."),
            ("status", Status.IN_PROGRESS, ""),
            ("reply", "We replaced the access point. It should be stable now."),
            ("status", Status.RESOLVED, "Access point replaced."),
            ("status", Status.CLOSED, "Confirmed, thank you!"),
            ("rate", 5, "Fast and friendly."),
        ),
    ),
    DemoRequest(
        ACME,
        ADMIN,
        "general-question",
        "Can we get an extra parking space?",
        {"question": "Is there a way to rent one more parking space in the garage?"},
        12,
        (("status", Status.CANCELLED, "Solved internally, sorry for the noise."),),
    ),
    # --- Jane: one in every status ---
    DemoRequest(
        JANE,
        JANE_EMAIL,
        "general-question",
        "How do I change my billing address?",
        {"question": "I moved last month. Where do I update my billing address?"},
        0.2,
    ),
    DemoRequest(
        JANE,
        JANE_EMAIL,
        "contract-change",
        "Switch my plan to yearly billing",
        {"change": "Please switch from monthly to yearly billing.", "effective_from": "2027-01-01"},
        2,
        (("status", Status.IN_REVIEW, ""),),
    ),
    DemoRequest(
        JANE,
        JANE_EMAIL,
        "report-a-fault",
        "Router keeps restarting",
        {
            "location": "Home office",
            "description": "The router restarts every hour.",
            "people_affected": "1",
            "blocking": True,
        },
        2,
        (
            ("status", Status.IN_PROGRESS, ""),
            ("reply", "A technician is looking at your line remotely today."),
        ),
    ),
    DemoRequest(
        JANE,
        JANE_EMAIL,
        "access-card",
        "Visitor card for my accountant",
        {"holder": "Tom Taylor", "card_type": "Visitor card", "needed_by": "2026-12-05"},
        5,
        (
            ("status", Status.IN_REVIEW, ""),
            (
                "status",
                Status.WAITING_FOR_CUSTOMER,
                "Which days will Tom visit? Visitor cards are valid for up to 5 days.",
            ),
        ),
    ),
    DemoRequest(
        JANE,
        JANE_EMAIL,
        "invoice-copy",
        "Copy of my October invoice",
        {"invoice_number": "INV-2026-0198", "reason": "Lost"},
        4,
        (
            ("status", Status.IN_PROGRESS, ""),
            ("reply", "You can now download it from your invoices page."),
            ("status", Status.RESOLVED, ""),
        ),
    ),
    DemoRequest(
        JANE,
        JANE_EMAIL,
        "new-user-account",
        "Second login for my assistant",
        {
            "full_name": "Sam Assistant",
            "work_email": "sam@example.org",
            "start_date": "2026-10-01",
            "laptop": False,
        },
        40,
        (
            ("status", Status.IN_PROGRESS, ""),
            ("reply", "The account is ready; Sam has received an invitation."),
            ("status", Status.RESOLVED, ""),
            ("status", Status.CLOSED, ""),
            ("rate", 4, "Worked well, took a day longer than hoped."),
        ),
    ),
    DemoRequest(
        JANE,
        JANE_EMAIL,
        "office-move",
        "Move my desk to the upstairs room",
        {
            "from_room": "Ground floor",
            "to_room": "Attic",
            "move_date": "2026-11-20",
            "workstations": "1",
        },
        15,
        (("customer", "On second thought I will do it myself."), ("status", Status.CANCELLED, "")),
    ),
)


def _ensure_catalog() -> tuple[dict[str, RequestType], int]:
    types: dict[str, RequestType] = {}
    changed = 0
    for position, demo in enumerate(CATALOG):
        request_type = RequestType.objects.filter(slug=demo.slug).first()
        if request_type is None:
            request_type = RequestType.objects.create(
                slug=demo.slug,
                name=demo.name,
                category=demo.category,
                description=demo.description,
                position=position,
                sla_first_response_hours=demo.first_response_hours,
                sla_resolution_hours=demo.resolution_hours,
                fee_amount=demo.fee_amount,
                fee_currency=demo.fee_currency,
            )
            for index, f in enumerate(demo.fields):
                FieldDefinition.objects.create(
                    request_type=request_type,
                    position=index,
                    name=f.name,
                    label=f.label,
                    kind=f.kind,
                    required=f.required,
                    help_text=f.help_text,
                    choices=f.choices,
                )
            changed += 1
        types[demo.slug] = request_type
    return types, changed


def _play(demo: DemoRequest, sr: ServiceRequest, *, submitter: User, staff: User) -> None:
    for step in demo.steps:
        action = step[0]
        if action == "status":
            customer_move = step[1] == Status.CANCELLED or (
                step[1] == Status.CLOSED and sr.status == Status.RESOLVED
            )
            services.service_request_transition(
                service_request=sr,
                to_status=step[1],
                actor=submitter if customer_move else staff,
                as_staff=not customer_move,
                note=step[2],
            )
        elif action in {"reply", "note"}:
            services.service_request_comment_add(
                service_request=sr,
                author=staff,
                body=step[1],
                as_staff=True,
                internal=action == "note",
            )
        elif action == "customer":
            services.service_request_comment_add(service_request=sr, author=submitter, body=step[1])
        elif action == "rate":
            services.service_request_rate(
                service_request=sr, rating=step[1], comment=step[2], actor=submitter
            )
        sr.refresh_from_db()


def _spread_over_time(sr: ServiceRequest, *, days_ago: float) -> None:
    """Give the request's history realistic times: submitted ``days_ago``, then hours apart."""
    start = timezone.now() - dt.timedelta(days=days_ago)
    total = dt.timedelta(days=days_ago) * 0.8
    entries: list[Any] = [
        *StatusChange.objects.filter(service_request=sr),
        *Comment.objects.filter(service_request=sr),
    ]
    entries.sort(key=lambda e: (e.created_at, isinstance(e, Comment), e.pk))
    gap = total / max(len(entries) - 1, 1)
    first_staff = None
    resolved = None
    for index, entry in enumerate(entries):
        stamp = start + gap * index
        type(entry).objects.filter(pk=entry.pk).update(created_at=stamp)
        staff_entry = getattr(entry, "actor_kind", getattr(entry, "author_kind", "")) == "staff"
        if staff_entry and not getattr(entry, "internal", False) and first_staff is None:
            first_staff = stamp
        if isinstance(entry, StatusChange) and entry.to_status == Status.RESOLVED:
            resolved = stamp
    rt = sr.request_type
    sr.created_at = start
    sr.updated_at = start + gap * (len(entries) - 1)
    sr.first_response_due_at = start + dt.timedelta(hours=rt.sla_first_response_hours)
    sr.resolution_due_at = start + dt.timedelta(hours=rt.sla_resolution_hours)
    sr.first_responded_at = first_staff if sr.first_responded_at else None
    sr.resolved_at = resolved if sr.resolved_at else None
    sr.rated_at = sr.updated_at if sr.rating else None
    sr.due_at = sr.next_due()
    ServiceRequest.objects.filter(pk=sr.pk).update(
        created_at=sr.created_at,
        updated_at=sr.updated_at,
        first_response_due_at=sr.first_response_due_at,
        resolution_due_at=sr.resolution_due_at,
        first_responded_at=sr.first_responded_at,
        resolved_at=sr.resolved_at,
        rated_at=sr.rated_at,
        due_at=sr.due_at,
    )


def load_servicedesk_demo(*, customers: dict[str, Customer], staff: User) -> int:
    """Create the demo catalog and requests that are missing. Returns how many were created."""
    types, changed = _ensure_catalog()
    for demo in REQUESTS:
        customer = customers[demo.customer]
        if ServiceRequest.objects.filter(Q(customer=customer) & Q(title=demo.title)).exists():
            continue
        submitter = User.objects.get(email=demo.submitter)
        sr = services.service_request_submit(
            customer=customer,
            submitted_by=submitter,
            request_type=types[demo.type_slug],
            title=demo.title,
            answers=demo.answers,
        )
        _play(demo, sr, submitter=submitter, staff=staff)
        _spread_over_time(sr, days_ago=demo.days_ago)
        changed += 1
    return changed
