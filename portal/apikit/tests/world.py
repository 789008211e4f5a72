"""Two customers with members, tokens and notifications: the API tests' world."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from portal.accounts.models import User
from portal.customers.models import Customer
from portal.customers.roles import Role
from portal.customers.tests.factories import make_customer, make_member
from portal.live.models import Notification
from portal.tokens.models import TokenScope
from portal.tokens.tests.factories import make_token

# Written into every object of the other customer: no answer to Acme may contain it.
FOREIGN_MARK = "Zebra-Foreign-7731"


@dataclass
class World:
    acme: Customer
    other: Customer
    admin: User
    member: User
    billing: User
    stranger: User
    read_token: str  # the member's, read only
    write_token: str  # the member's, read and write
    admin_token: str
    billing_token: str
    stranger_token: str
    mine: Notification
    foreign: Notification
    staff: User  # with a second factor, so the back office and the API let them in
    document_id: int  # Acme's
    foreign_document_id: int  # the other customer's
    reference: str  # Acme's service request
    foreign_reference: str  # the other customer's


PUBLIC_PAGE = "help-api-basics"
MEMBERS_PAGE = "members-handbook"
DRAFT_PAGE = "draft-announcement"


def write_pages(directory: Path) -> None:
    """A public page, one for signed-in people, and a draft only staff may read."""
    from portal.content.services import content_sync
    from portal.content.tests.factories import write_page

    directory.mkdir(parents=True, exist_ok=True)
    write_page(
        directory,
        PUBLIC_PAGE,
        name="API basics",
        tags=["public", "help"],
        body="Tokens and invoices explained.\n",
        relationships=[{"type": "serves", "target": MEMBERS_PAGE, "description": "x"}],
    )
    write_page(directory, MEMBERS_PAGE, name="Members handbook", tags=["help"], body="Invoices.\n")
    write_page(
        directory,
        DRAFT_PAGE,
        name=f"Draft {FOREIGN_MARK}",
        status="draft",
        body=f"Not yet {FOREIGN_MARK}.\n",
    )
    content_sync(directory=directory)


def build_world(content_dir: Path | None = None) -> World:
    """The world; with ``content_dir`` (which the test also makes PORTAL_CONTENT_DIR) pages too."""
    acme, other = make_customer("Acme Ltd"), make_customer(f"Other plc {FOREIGN_MARK}")
    admin = make_member(acme, Role.ADMIN)
    member = make_member(acme, Role.MEMBER)
    billing = make_member(acme, Role.BILLING)
    stranger = make_member(other, Role.ADMIN, first_name=FOREIGN_MARK)
    mine = Notification.objects.create(
        user=member, customer=acme, kind="service_request", title="Your request moved"
    )
    foreign = Notification.objects.create(
        user=stranger, customer=other, kind="service_request", title=f"{FOREIGN_MARK} news"
    )
    if content_dir is not None:
        write_pages(content_dir)
    from allauth.mfa.models import Authenticator

    from portal.core.tests.factories import UserFactory

    staff: User = UserFactory(is_staff=True)
    Authenticator.objects.create(user=staff, type=Authenticator.Type.TOTP, data={})
    from django.core.files.uploadedfile import SimpleUploadedFile

    from portal.documents.services import document_upload

    document = document_upload(
        customer=acme,
        uploaded_by=member,
        file=SimpleUploadedFile("contract.txt", b"The contract, signed.\n"),
        title="Contract",
    )
    foreign_document = document_upload(
        customer=other,
        uploaded_by=stranger,
        file=SimpleUploadedFile("secret.txt", f"{FOREIGN_MARK} inside\n".encode()),
        title=f"Plans {FOREIGN_MARK}",
    )
    from portal.servicedesk.tests.factories import make_request, make_request_type

    request_type = make_request_type()
    reference = make_request(customer=acme, submitted_by=member).reference
    foreign_reference = make_request(
        customer=other,
        submitted_by=stranger,
        request_type=request_type,
        title=f"Broken {FOREIGN_MARK}",
    ).reference
    return World(
        staff=staff,
        reference=reference,
        foreign_reference=foreign_reference,
        document_id=document.document_id,
        foreign_document_id=foreign_document.document_id,
        acme=acme,
        other=other,
        admin=admin,
        member=member,
        billing=billing,
        stranger=stranger,
        read_token=make_token(member, acme, TokenScope.READ)[1],
        write_token=make_token(member, acme, TokenScope.WRITE)[1],
        admin_token=make_token(admin, acme, TokenScope.WRITE)[1],
        billing_token=make_token(billing, acme, TokenScope.WRITE)[1],
        stranger_token=make_token(stranger, other, TokenScope.WRITE)[1],
        mine=mine,
        foreign=foreign,
    )
