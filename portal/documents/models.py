"""Documents of a customer, their versions, and the categories they are filed under."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Category(models.Model):
    """A shelf in the library (contracts, statements, ...), kept by staff in the back office."""

    name = models.CharField(_("name"), max_length=80, unique=True)
    slug = models.SlugField(_("short name"), max_length=80, unique=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        ordering = ("position", "name")
        verbose_name = _("document category")
        verbose_name_plural = _("document categories")

    def __str__(self) -> str:
        return self.name


class Source(models.TextChoices):
    CUSTOMER = "customer", _("Uploaded by the customer")
    STAFF = "staff", _("Shared by the organisation")


class Document(models.Model):
    """A document of one customer: a title and a history of versions.

    Deleting moves it to the trash (``deleted_at``); it can be restored for
    ``PORTAL_DOCUMENT_TRASH_DAYS`` and is then purged with its files.
    """

    customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="documents",
    )
    title = models.CharField(_("title"), max_length=200)
    category = models.ForeignKey(
        Category,
        verbose_name=_("category"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="documents",
    )
    source = models.CharField(
        _("source"), max_length=20, choices=Source.choices, default=Source.CUSTOMER
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # The human reference of a service request (e.g. SR-2026-000123) the
    # document belongs to. A plain string until the service desk exists; it can
    # become a foreign key then.
    request_reference = models.CharField(  # noqa: DJ001 - NULL for none, as the future FK
        _("service request"), max_length=40, null=True, blank=True, db_index=True
    )
    # The newest version, kept here so a list needs no subquery per row.
    current_version = models.ForeignKey(
        "DocumentVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)
    deleted_at = models.DateTimeField(_("moved to trash"), null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ("-updated_at", "-id")
        verbose_name = _("document")
        verbose_name_plural = _("documents")
        indexes = [
            models.Index(fields=["customer", "deleted_at", "-updated_at"]),
            models.Index(fields=["deleted_at"]),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_shared_by_staff(self) -> bool:
        return self.source == Source.STAFF

    @property
    def purge_after(self) -> datetime | None:
        if self.deleted_at is None:
            return None
        return self.deleted_at + timedelta(days=settings.PORTAL_DOCUMENT_TRASH_DAYS)


class ScanStatus(models.TextChoices):
    PENDING = "pending", _("Being checked for viruses")
    CLEAN = "clean", _("No virus found")
    INFECTED = "infected", _("Virus found, quarantined")
    FAILED = "failed", _("Virus check failed")
    NOT_SCANNED = "not_scanned", _("Not scanned")

    @property
    def colour(self) -> str:
        return SCAN_STATUS_COLOURS[self]

    @property
    def short_label(self) -> str:
        return str(SCAN_STATUS_SHORT[self])


SCAN_STATUS_COLOURS = {
    ScanStatus.PENDING: "info",
    ScanStatus.CLEAN: "success",
    ScanStatus.INFECTED: "danger",
    ScanStatus.FAILED: "warning",
    ScanStatus.NOT_SCANNED: "neutral",
}
SCAN_STATUS_SHORT = {
    ScanStatus.PENDING: _("Checking"),
    ScanStatus.CLEAN: _("Clean"),
    ScanStatus.INFECTED: _("Quarantined"),
    ScanStatus.FAILED: _("Check failed"),
    ScanStatus.NOT_SCANNED: _("Not scanned"),
}
# A scan moves a version out of these; anything else is final.
SCAN_OPEN = frozenset({ScanStatus.PENDING})


class DocumentVersion(models.Model):
    """One uploaded file of a document, stored under a random key."""

    document = models.ForeignKey(
        Document, verbose_name=_("document"), on_delete=models.CASCADE, related_name="versions"
    )
    number = models.PositiveIntegerField(_("version"))
    storage_key = models.CharField(max_length=200, unique=True, editable=False)
    # The sanitised name the file had on the uploader's machine, used for downloads.
    file_name = models.CharField(_("file name"), max_length=200)
    size = models.PositiveBigIntegerField(_("size"))
    content_type = models.CharField(_("type"), max_length=120)
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    uploaded_at = models.DateTimeField(_("uploaded"), auto_now_add=True)
    scan_status = models.CharField(
        _("virus check"), max_length=20, choices=ScanStatus.choices, default=ScanStatus.PENDING
    )
    scan_detail = models.CharField(_("virus check details"), max_length=200, blank=True)
    scanned_at = models.DateTimeField(_("checked"), null=True, blank=True)

    class Meta:
        ordering = ("document", "-number")
        verbose_name = _("document version")
        verbose_name_plural = _("document versions")
        constraints = [
            models.UniqueConstraint(fields=["document", "number"], name="one_version_number")
        ]

    def __str__(self) -> str:
        return f"{self.document.title} v{self.number}"

    @property
    def status(self) -> ScanStatus:
        return ScanStatus(self.scan_status)

    @property
    def is_downloadable(self) -> bool:
        """Clean files always; unscanned ones only when the policy allows; infected never."""
        if self.scan_status == ScanStatus.CLEAN:
            return True
        if self.scan_status == ScanStatus.INFECTED:
            return False
        return bool(settings.PORTAL_SCAN_POLICY == "allow")
