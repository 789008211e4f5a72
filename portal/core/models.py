from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditAction(models.TextChoices):
    SIGN_IN = "account.sign_in", _("Signed in")
    SIGN_IN_FAILED = "account.sign_in_failed", _("Failed sign-in attempt")
    SIGN_OUT = "account.sign_out", _("Signed out")
    SIGN_UP = "account.sign_up", _("Account created")
    EMAIL_CONFIRMED = "account.email_confirmed", _("E-mail address confirmed")
    PASSWORD_CHANGED = "account.password_changed", _("Password changed")
    PASSWORD_RESET = "account.password_reset", _("Password reset")
    MFA_ADDED = "account.mfa_added", _("Two-factor method added")
    MFA_REMOVED = "account.mfa_removed", _("Two-factor method removed")
    MFA_RESET = "account.mfa_reset", _("Recovery codes regenerated")
    MFA_FAILED = "account.mfa_failed", _("Wrong two-factor code")
    SESSIONS_REVOKED = "account.sessions_revoked", _("Other sessions signed out")
    SESSION_EXPIRED = "account.session_expired", _("Session expired")
    PROFILE_UPDATED = "account.profile_updated", _("Profile updated")
    DATA_EXPORTED = "account.data_exported", _("Personal data downloaded")
    ACCOUNT_DELETED = "account.deleted", _("Account deleted")
    TOKEN_CREATED = "account.token_created", _("Personal access token created")
    TOKEN_REVOKED = "account.token_revoked", _("Personal access token revoked")
    TOKEN_USED = "account.token_used", _("Personal access token used")
    TOKEN_REFUSED = "account.token_refused", _("Expired or revoked access token refused")
    PROVIDER_LINKED = "account.provider_linked", _("Identity provider linked")
    PROVIDER_UNLINKED = "account.provider_unlinked", _("Identity provider unlinked")
    INVITATION_SENT = "customer.invitation_sent", _("Invitation sent")
    INVITATION_ACCEPTED = "customer.invitation_accepted", _("Invitation accepted")
    INVITATION_REVOKED = "customer.invitation_revoked", _("Invitation withdrawn")
    ROLE_CHANGED = "customer.role_changed", _("Role changed")
    MEMBER_REMOVED = "customer.member_removed", _("Member removed")
    MFA_POLICY_CHANGED = "customer.mfa_policy_changed", _("Two-factor policy changed")
    MEMBER_ADDED_BY_PROVIDER = (
        "customer.member_added_by_provider",
        _("Member added by the identity provider"),
    )
    DOCUMENT_UPLOADED = "document.uploaded", _("Document uploaded")
    DOCUMENT_SHARED = "document.shared", _("Document shared by staff")
    DOCUMENT_DOWNLOADED = "document.downloaded", _("Document downloaded")
    DOCUMENT_QUARANTINED = "document.quarantined", _("Virus found in a document")
    DOCUMENT_TRASHED = "document.trashed", _("Document moved to the trash")
    DOCUMENT_RESTORED = "document.restored", _("Document restored from the trash")
    DOCUMENT_PURGED = "document.purged", _("Document deleted for good")
    INVOICE_ISSUED = "billing.invoice_issued", _("Invoice issued")
    INVOICE_VOIDED = "billing.invoice_voided", _("Invoice voided")
    PAYMENT_RECEIVED = "billing.payment_received", _("Payment received")
    PAYMENT_RECORDED = "billing.payment_recorded", _("Payment recorded by staff")
    REFUND_REQUESTED = "billing.refund_requested", _("Refund requested")
    REFUND_SUCCEEDED = "billing.refund_succeeded", _("Refund made")
    REFUND_FAILED = "billing.refund_failed", _("Refund failed")


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    def update(self, **kwargs: Any) -> int:
        raise PermissionError("Audit events are append-only.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionError("Audit events are append-only.")


class AuditEvent(models.Model):
    """An append-only record of a security-relevant event."""

    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    action = models.CharField(_("event"), max_length=64, choices=AuditAction.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    subject_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("about user"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="audit_events",
    )
    customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("customer"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="audit_events",
    )
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("browser"), max_length=300, blank=True)
    data = models.JSONField(_("details"), default=dict, blank=True)

    objects: ClassVar[AuditEventQuerySet] = AuditEventQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        indexes = [
            models.Index(fields=["subject_user", "-created_at"]),
            models.Index(fields=["customer", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} at {self.created_at:%Y-%m-%d %H:%M}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise PermissionError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PermissionError("Audit events are append-only.")
