"""The request catalog, requests, their timeline and conversation."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import PurePath
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .workflow import ActorKind, Status

FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
# Names the form itself uses; a type's fields may not take them.
RESERVED_FIELD_NAMES = frozenset({"title", "save_draft", "csrfmiddlewaretoken"})


class FieldKind(models.TextChoices):
    TEXT = "text", _("Text (one line)")
    LONG_TEXT = "long_text", _("Long text")
    NUMBER = "number", _("Number")
    DATE = "date", _("Date")
    CHOICE = "choice", _("Choice")
    YES_NO = "yes_no", _("Yes / no")
    FILE = "file", _("File")


class RequestType(models.Model):
    """An entry of the catalog: what customers can ask for, with its form and targets."""

    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("address name"), max_length=80, unique=True)
    category = models.CharField(_("category"), max_length=80)
    description = models.TextField(_("description"), blank=True)
    active = models.BooleanField(
        _("offered"), default=True, help_text=_("Only offered types appear in the catalog.")
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    sla_first_response_hours = models.PositiveIntegerField(
        _("first response within (hours)"), default=8
    )
    sla_resolution_hours = models.PositiveIntegerField(_("resolved within (hours)"), default=72)
    fee_amount = models.PositiveIntegerField(
        _("fee (minor units)"),
        null=True,
        blank=True,
        help_text=_("In cents (or the currency's smallest unit); empty for no fee."),
    )
    fee_currency = models.CharField(_("fee currency"), max_length=3, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("category", "position", "name")
        verbose_name = _("request type")
        verbose_name_plural = _("request types")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.fee_amount is not None and not re.fullmatch(r"[A-Z]{3}", self.fee_currency):
            raise ValidationError(
                {"fee_currency": _("Give the fee's currency as three capitals, e.g. EUR.")}
            )
        if self.fee_amount is None and self.fee_currency:
            raise ValidationError({"fee_amount": _("Give an amount, or leave the currency empty.")})
        if self.sla_resolution_hours < self.sla_first_response_hours:
            raise ValidationError(
                {
                    "sla_resolution_hours": _(
                        "A request cannot be resolved before the first response is due."
                    )
                }
            )

    @property
    def has_fee(self) -> bool:
        return self.fee_amount is not None

    @property
    def fee_display(self) -> str:
        if self.fee_amount is None:
            return ""
        return f"{Decimal(self.fee_amount) / 100:.2f} {self.fee_currency}"

    @property
    def resolution_days(self) -> float:
        return self.sla_resolution_hours / 24


class FieldDefinition(models.Model):
    """One question of a request type's form."""

    request_type = models.ForeignKey(RequestType, on_delete=models.CASCADE, related_name="fields")
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    name = models.CharField(
        _("key"),
        max_length=40,
        help_text=_("Lower-case letters, digits and _; stays stable when the label changes."),
    )
    label = models.CharField(_("label"), max_length=120)
    kind = models.CharField(_("kind"), max_length=20, choices=FieldKind.choices)
    required = models.BooleanField(_("required"), default=False)
    help_text = models.CharField(_("help text"), max_length=300, blank=True)
    choices = models.TextField(
        _("choices"), blank=True, help_text=_("For a choice: one option per line.")
    )

    class Meta:
        ordering = ("position", "pk")
        verbose_name = _("form field")
        verbose_name_plural = _("form fields")
        constraints = [
            models.UniqueConstraint(fields=["request_type", "name"], name="one_field_per_key")
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def choice_list(self) -> list[str]:
        return [line.strip() for line in self.choices.splitlines() if line.strip()]

    def clean(self) -> None:
        if not FIELD_NAME.match(self.name) or self.name in RESERVED_FIELD_NAMES:
            raise ValidationError(
                {
                    "name": _(
                        "Use lower-case letters, digits and _ (starting with a letter), "
                        "and not 'title'."
                    )
                }
            )
        if self.kind == FieldKind.CHOICE and len(self.choice_list) < 2:
            raise ValidationError({"choices": _("A choice needs at least two options.")})
        if self.kind != FieldKind.CHOICE and self.choice_list:
            raise ValidationError({"choices": _("Only a choice field has options.")})


class ReferenceCounter(models.Model):
    """The last request number handed out in a year; locked while one is taken."""

    year = models.PositiveSmallIntegerField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.year}: {self.last}"


class ServiceRequest(models.Model):
    reference = models.CharField(_("reference"), max_length=20, unique=True, editable=False)
    customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("customer"),
        on_delete=models.PROTECT,
        related_name="service_requests",
    )
    request_type = models.ForeignKey(
        RequestType, verbose_name=_("type"), on_delete=models.PROTECT, related_name="requests"
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("submitted by"),
        on_delete=models.PROTECT,
        related_name="service_requests",
    )
    title = models.CharField(_("summary"), max_length=200)
    # [{"name", "label", "kind", "value"}]: a snapshot, so later changes to the
    # type's form do not change what was asked and answered.
    answers = models.JSONField(_("answers"), default=list, blank=True)
    search_text = models.TextField(blank=True, editable=False)
    status = models.CharField(
        _("status"), max_length=24, choices=Status.choices, default=Status.SUBMITTED
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assigned to"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_service_requests",
        limit_choices_to={"is_staff": True},
    )
    created_at = models.DateTimeField(_("submitted"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(_("last change"), default=timezone.now)
    first_response_due_at = models.DateTimeField(_("first response due"))
    resolution_due_at = models.DateTimeField(_("resolution due"))
    first_responded_at = models.DateTimeField(_("first response"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    # The next SLA deadline while open (the staff queue's order); empty otherwise.
    due_at = models.DateTimeField(_("due"), null=True, blank=True)
    rating = models.PositiveSmallIntegerField(_("rating"), null=True, blank=True)
    rating_comment = models.TextField(_("rating comment"), blank=True)
    rated_at = models.DateTimeField(_("rated"), null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name = _("service request")
        verbose_name_plural = _("service requests")
        indexes = [
            # A customer's list, newest first (the order is the index's: no sort).
            models.Index(fields=["customer", "-created_at", "-id"], name="sr_customer_newest"),
            # The dashboard's counts of open work, however long the history.
            models.Index(fields=["customer", "status"], name="sr_customer_status"),
            models.Index(fields=["status", "due_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(rating__isnull=True) | models.Q(rating__gte=1, rating__lte=5),
                name="rating_between_1_and_5",
            )
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.title}"

    @property
    def status_enum(self) -> Status:
        return Status(self.status)

    @property
    def status_colour(self) -> str:
        return self.status_enum.colour

    @property
    def is_open(self) -> bool:
        return self.status_enum.is_open

    def next_due(self) -> Any:
        """The deadline staff work towards now, or None once it is no longer open."""
        if not self.is_open:
            return None
        if self.first_responded_at is None:
            return self.first_response_due_at
        return self.resolution_due_at

    @property
    def is_overdue(self) -> bool:
        return self.due_at is not None and self.due_at < timezone.now()

    def reopen_until(self) -> Any:
        if self.resolved_at is None:
            return None
        return self.resolved_at + timedelta(days=settings.PORTAL_REOPEN_DAYS)

    @property
    def may_still_reopen(self) -> bool:
        until = self.reopen_until()
        return self.status == Status.RESOLVED and until is not None and timezone.now() <= until


class StatusChange(models.Model):
    """One entry of a request's timeline: who moved it from where to where, and why."""

    service_request = models.ForeignKey(
        ServiceRequest, on_delete=models.CASCADE, related_name="status_changes"
    )
    created_at = models.DateTimeField(_("time"), default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    actor_kind = models.CharField(max_length=10, choices=ActorKind.choices)
    from_status = models.CharField(_("from"), max_length=24, choices=Status.choices, blank=True)
    to_status = models.CharField(_("to"), max_length=24, choices=Status.choices)
    note = models.TextField(_("note"), blank=True)

    class Meta:
        ordering = ("created_at", "id")
        verbose_name = _("status change")
        verbose_name_plural = _("status changes")

    def __str__(self) -> str:
        return f"{self.from_status or '-'} → {self.to_status}"

    @property
    def to_colour(self) -> str:
        return Status(self.to_status).colour

    @property
    def actor_label(self) -> str:
        return public_name(self.actor, self.actor_kind)


class Comment(models.Model):
    """A message in a request's conversation, or a staff-only internal note."""

    service_request = models.ForeignKey(
        ServiceRequest, on_delete=models.CASCADE, related_name="comments"
    )
    created_at = models.DateTimeField(_("time"), default=timezone.now)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    author_kind = models.CharField(max_length=10, choices=ActorKind.choices)
    body = models.TextField(_("message"))
    # Internal notes are for staff only: never on a customer's page, stream, e-mail or export.
    internal = models.BooleanField(_("internal note"), default=False)

    class Meta:
        ordering = ("created_at", "id")
        verbose_name = _("comment")
        verbose_name_plural = _("comments")
        indexes = [models.Index(fields=["service_request", "internal", "created_at"])]

    def __str__(self) -> str:
        return f"{self.service_request_id}: {self.body[:40]}"

    @property
    def by_staff(self) -> bool:
        return self.author_kind == ActorKind.STAFF

    @property
    def author_label(self) -> str:
        return public_name(self.author, self.author_kind)


def attachment_path(instance: Attachment, filename: str) -> str:
    """A random storage key; the name the person gave is kept in the row."""
    suffix = PurePath(filename).suffix.lower()[:10]
    if not re.fullmatch(r"\.[a-z0-9]{1,9}", suffix):
        suffix = ""
    return f"servicedesk/{timezone.now():%Y/%m}/{uuid.uuid4().hex}{suffix}"


class Attachment(models.Model):
    """A file given with a request (``field_name`` set) or with a comment."""

    service_request = models.ForeignKey(
        ServiceRequest, on_delete=models.CASCADE, related_name="attachments"
    )
    comment = models.ForeignKey(
        Comment, null=True, blank=True, on_delete=models.CASCADE, related_name="attachments"
    )
    field_name = models.CharField(max_length=40, blank=True)
    # Files the customer may see go through the documents pipeline (type check,
    # virus scan, audited download) and appear in the customer's library;
    # files of internal notes stay here, for staff only.
    document_version = models.ForeignKey(
        "documents.DocumentVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="service_request_attachments",
    )
    file = models.FileField(upload_to=attachment_path, max_length=200, blank=True)
    original_name = models.CharField(_("file name"), max_length=200)
    size = models.PositiveBigIntegerField(_("size"))
    content_type = models.CharField(max_length=100, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("created_at", "id")
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.original_name


class RequestDraft(models.Model):
    """What someone typed into a request form and has not submitted yet."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    request_type = models.ForeignKey(RequestType, on_delete=models.CASCADE, related_name="+")
    data = models.JSONField(default=dict)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "customer", "request_type"], name="one_draft_per_form"
            )
        ]

    def __str__(self) -> str:
        return f"draft {self.request_type_id} by {self.user_id}"


def public_name(user: Any, kind: str) -> str:
    """How a person appears on a request: staff by name or as the service team, never by e-mail."""
    if user is None:
        return str(_("Portal"))
    if kind == ActorKind.STAFF:
        return str(user.get_full_name() or _("Service team"))
    return str(user.display_name)
