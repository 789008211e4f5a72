"""One world for the security tests: customer A with a user per role and one of
everything a route can name, customer B with its own admin, a staff member, and
personal access tokens.

Objects belong to customer A unless their name says otherwise, so a route that
names one must refuse B's admin. Built through the services (as the portal
builds them) wherever one exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import Any

from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import models

from portal.accounts.models import User
from portal.apikit.tests.world import MEMBERS_PAGE, write_pages
from portal.billing import services as billing
from portal.billing.models import Invoice, Payment, Refund, RefundStatus
from portal.billing.tests.factories import make_invoice
from portal.core.tests.factories import UserFactory
from portal.customers.models import Customer, Invitation, Membership
from portal.customers.roles import Role
from portal.customers.services import invitation_create
from portal.customers.tests.factories import make_customer, make_member
from portal.documents.services import document_trash, document_upload
from portal.live.models import Notification
from portal.servicedesk import services as servicedesk
from portal.servicedesk.models import Attachment, RequestType, ServiceRequest
from portal.servicedesk.tests.factories import make_request, make_request_type
from portal.tokens.models import PersonalAccessToken, TokenScope
from portal.tokens.tests.factories import make_token

# Written into every object of customer B: no answer to customer A's people may contain it.
FOREIGN_MARK = "Zebra-Foreign-7731"


@dataclass
class World:
    acme: Customer
    globex: Customer
    admin: User
    member: User
    billing: User
    other: User  # customer B's admin
    staff: User  # a superuser with a second factor: the back office's people
    request_type: RequestType
    service_request: ServiceRequest
    foreign_request: ServiceRequest
    attachment: Attachment
    document_id: int
    foreign_document_id: int
    invoice: Invoice
    payment: Payment
    foreign_invoice: Invoice
    notification: Notification  # the member's
    membership: Membership  # the billing user's, which admins may change
    invitation: Invitation
    invitation_token: str
    token: PersonalAccessToken  # the member's write token
    read_secret: str
    write_secret: str
    page_id: str = MEMBERS_PAGE
    extra: dict[str, Any] = field(default_factory=dict)

    def user(self, actor: str) -> User:
        user: User = getattr(self, actor)
        return user


def build_world(content_dir: Path) -> World:
    acme = make_customer("Acme Ltd")
    globex = make_customer(f"Globex {FOREIGN_MARK}")
    admin = make_member(acme, Role.ADMIN, first_name="Ada")
    member = make_member(acme, Role.MEMBER, first_name="Max")
    billing_user = make_member(acme, Role.BILLING, first_name="Bill")
    other = make_member(globex, Role.ADMIN, first_name=FOREIGN_MARK)
    staff: User = UserFactory(is_staff=True, is_superuser=True, first_name="Sam")
    Authenticator.objects.create(user=staff, type=Authenticator.Type.TOTP, data={"secret": "x"})
    write_pages(content_dir)

    request_type = make_request_type()
    service_request = make_request(customer=acme, submitted_by=member, request_type=request_type)
    comment = servicedesk.service_request_comment_add(
        service_request=service_request,
        author=member,
        body="See the photo.",
        uploads=[SimpleUploadedFile("note.txt", b"A note.\n", "text/plain")],
    )
    foreign_request = make_request(
        customer=globex,
        submitted_by=other,
        request_type=request_type,
        title=f"Broken {FOREIGN_MARK}",
    )
    document = document_upload(
        customer=acme,
        uploaded_by=member,
        file=SimpleUploadedFile("contract.txt", b"The contract, signed.\n"),
        title="Contract",
    )
    foreign_document = document_upload(
        customer=globex,
        uploaded_by=other,
        file=SimpleUploadedFile("secret.txt", f"{FOREIGN_MARK} inside\n".encode()),
        title=f"Plans {FOREIGN_MARK}",
    )
    trashed = document_upload(
        customer=acme,
        uploaded_by=member,
        file=SimpleUploadedFile("old.txt", b"An old note.\n"),
        title="Old note",
    )
    document_trash(document=trashed.document, actor=member)
    invoice = make_invoice(acme)
    payment = billing.payment_record_manual(
        invoice=make_invoice(acme, amount_minor=30_00), actor=None
    )
    foreign_invoice = make_invoice(globex, description=f"Work {FOREIGN_MARK}")
    notification = Notification.objects.create(
        user=member, customer=acme, kind="service_request", title="Your request moved"
    )
    invitation, invitation_token = invitation_create(
        customer=acme, email="new.person@example.com", role=Role.MEMBER, invited_by=admin
    )
    to_revoke, _ = invitation_create(
        customer=acme, email="other.person@example.com", role=Role.BILLING, invited_by=admin
    )
    token, write_secret = make_token(member, acme, TokenScope.WRITE)
    read_secret = make_token(member, acme, TokenScope.READ)[1]
    _back_office_objects(staff=staff, member=member, payment=payment)
    return World(
        acme=acme,
        globex=globex,
        admin=admin,
        member=member,
        billing=billing_user,
        other=other,
        staff=staff,
        request_type=request_type,
        service_request=service_request,
        foreign_request=foreign_request,
        attachment=comment.attachments.get(),
        document_id=document.document_id,
        foreign_document_id=foreign_document.document_id,
        invoice=invoice,
        payment=payment,
        foreign_invoice=foreign_invoice,
        notification=notification,
        membership=Membership.objects.get(user=billing_user, customer=acme),
        invitation=invitation,
        invitation_token=invitation_token,
        token=token,
        read_secret=read_secret,
        write_secret=write_secret,
        extra={
            "trashed_document_id": trashed.document_id,
            "revoked_invitation_id": to_revoke.pk,
        },
    )


def _back_office_objects(*, staff: User, member: User, payment: Payment) -> None:
    """A row for each back-office model that nothing above creates, so that every
    change, history and delete page has a real object to open."""
    from allauth.socialaccount.models import SocialAccount, SocialApp, SocialToken
    from allauth.usersessions.models import UserSession

    Group.objects.create(name="Service desk")
    app = SocialApp.objects.create(provider="openid_connect", provider_id="idp", name="IdP")
    account = SocialAccount.objects.create(user=member, provider="idp", uid="member-1")
    SocialToken.objects.create(app=app, account=account, token="not-a-real-token")
    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session.create()  # a live session: the sessions page drops rows whose session is gone
    UserSession.objects.create(
        user=member, ip="127.0.0.1", session_key=session.session_key, user_agent="pytest"
    )
    Refund.objects.create(
        payment=payment,
        invoice=payment.invoice,
        amount_minor=1_00,
        currency=payment.invoice.currency,
        status=RefundStatus.REQUESTED,
        created_by=staff,
    )


def first_object(model: type[models.Model]) -> models.Model | None:
    """The oldest row of ``model``: customer A's where both customers have one.

    None only for task results: the tests run tasks at once, and the database
    backend's admin cannot show a row under the immediate backend."""
    return model._default_manager.order_by("pk").first()
