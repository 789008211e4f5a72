"""Roles and what each may do, written once."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Permission(models.TextChoices):
    REQUESTS_VIEW = "requests.view", _("See service requests")
    REQUESTS_SUBMIT = "requests.submit", _("Submit and follow service requests")
    DOCUMENTS_VIEW = "documents.view", _("See documents")
    DOCUMENTS_UPLOAD = "documents.upload", _("Upload documents")
    INVOICES_VIEW = "invoices.view", _("See invoices")
    INVOICES_PAY = "invoices.pay", _("Pay invoices")
    MEMBERS_MANAGE = "members.manage", _("Invite and manage members")
    CUSTOMER_MANAGE = "customer.manage", _("Change the organisation's settings")
    ACTIVITY_VIEW = "activity.view", _("See the organisation's activity")


class Role(models.TextChoices):
    ADMIN = "admin", _("Admin")
    MEMBER = "member", _("Member")
    BILLING = "billing", _("Billing")

    @property
    def description(self) -> str:
        return str(ROLE_DESCRIPTIONS[self])

    @property
    def permissions(self) -> frozenset[Permission]:
        return ROLE_PERMISSIONS[self]


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.MEMBER: frozenset(
        {
            Permission.REQUESTS_VIEW,
            Permission.REQUESTS_SUBMIT,
            Permission.DOCUMENTS_VIEW,
            Permission.DOCUMENTS_UPLOAD,
        }
    ),
    Role.BILLING: frozenset({Permission.INVOICES_VIEW, Permission.INVOICES_PAY}),
}

ROLE_DESCRIPTIONS = {
    Role.ADMIN: _("Everything, including inviting and managing members."),
    Role.MEMBER: _("Submits and follows service requests, exchanges documents."),
    Role.BILLING: _("Sees and pays invoices."),
}


def role_allows(role: str, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS.get(Role(role), frozenset())
