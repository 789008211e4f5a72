"""The database index of the content files.

The ``.md`` files in ``PORTAL_CONTENT_DIR`` are the source of truth; these rows
are what ``services.content_sync`` made of them: front matter as columns, the
body rendered once per audience, the references between pages, and (on
PostgreSQL) a search vector. Nothing else writes here.
"""

from __future__ import annotations

from datetime import date

from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _

PUBLIC_TAG = "public"


class ContentStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    REVIEW = "review", _("In review")
    PRODUCTION = "production", _("Published")
    DEPRECATED = "deprecated", _("Deprecated")
    RETIRED = "retired", _("Retired")


class Criticality(models.TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")
    CRITICAL = "critical", _("Critical")


class Audience(models.TextChoices):
    """Who is reading. Each sees a different set of pages, so links render differently."""

    ANONYMOUS = "anonymous", _("Anyone")
    SIGNED_IN = "signed_in", _("Signed-in users")
    STAFF = "staff", _("Staff")


# The visibility rule, written once for Python (building pages) and once for the
# database (selectors); tests hold the two together.
def visible_to(audience: Audience, *, status: str, is_public: bool) -> bool:
    if audience == Audience.STAFF:
        return True
    if status != ContentStatus.PRODUCTION:
        return False
    return audience == Audience.SIGNED_IN or is_public


def visible_q(audience: Audience) -> Q:
    if audience == Audience.STAFF:
        return Q()
    if audience == Audience.SIGNED_IN:
        return Q(status=ContentStatus.PRODUCTION)
    return Q(status=ContentStatus.PRODUCTION, is_public=True)


class ContentPage(models.Model):
    doc_id = models.CharField(_("id"), max_length=100, unique=True)
    title = models.CharField(_("title"), max_length=300)
    owner = models.CharField(_("owner"), max_length=200)
    status = models.CharField(_("status"), max_length=20, choices=ContentStatus.choices)
    version = models.CharField(_("version"), max_length=50)
    last_updated = models.DateField(_("last updated"))
    review_cycle = models.CharField(_("review cycle"), max_length=50, blank=True)
    next_review = models.DateField(_("next review"), null=True, blank=True)
    tags = models.JSONField(_("tags"), default=list)
    is_public = models.BooleanField(_("public"), default=False)
    archimate_type = models.CharField(_("ArchiMate type"), max_length=100, blank=True)
    archimate_layer = models.CharField(_("ArchiMate layer"), max_length=100, blank=True)
    criticality = models.CharField(
        _("criticality"), max_length=20, choices=Criticality.choices, blank=True
    )
    lifecycle_phase = models.CharField(_("lifecycle phase"), max_length=100, blank=True)
    properties = models.JSONField(_("properties"), default=dict)
    source_path = models.CharField(_("file"), max_length=500)
    summary = models.TextField(_("summary"), blank=True)
    body_text = models.TextField(_("text"), blank=True)
    toc = models.JSONField(_("table of contents"), default=list)
    # The body rendered and sanitised (nh3) for each audience: a link to a page
    # the reader may not see is rendered as "not published", never as a link.
    html_anonymous = models.TextField(blank=True)
    html_signed_in = models.TextField(blank=True)
    html_staff = models.TextField(blank=True)
    # PostgreSQL full-text search; unused (NULL) on SQLite, which has an FTS5 table.
    search_vector = SearchVectorField(null=True, editable=False)
    synced_at = models.DateTimeField(_("synced"), auto_now=True)

    class Meta:
        ordering = ("title",)
        verbose_name = _("content page")
        verbose_name_plural = _("content pages")

    def __str__(self) -> str:
        return f"{self.title} ({self.doc_id})"

    def get_absolute_url(self) -> str:
        return reverse("content:page", kwargs={"doc_id": self.doc_id})

    def html_for(self, audience: Audience) -> SafeString:
        html = {
            Audience.ANONYMOUS: self.html_anonymous,
            Audience.SIGNED_IN: self.html_signed_in,
            Audience.STAFF: self.html_staff,
        }[audience]
        # Safe: written only by content_sync from rendering.render_html, which
        # passes every body through the nh3 sanitiser (allow-listed tags,
        # attributes and URL schemes; no script, no event handlers).
        return mark_safe(html)  # noqa: S308 # nosec B308 B703 - sanitised by nh3, see above

    def review_overdue(self, today: date) -> bool:
        return self.next_review is not None and self.next_review < today


class ReferenceKind(models.TextChoices):
    LINK = "link", _("Link in the text")
    RELATIONSHIP = "relationship", _("Relationship")


class ContentReference(models.Model):
    """A page pointing at a document id, by a link in its text or a front-matter relationship."""

    source = models.ForeignKey(ContentPage, on_delete=models.CASCADE, related_name="references")
    target_id = models.CharField(max_length=100, db_index=True)
    kind = models.CharField(max_length=20, choices=ReferenceKind.choices)
    relationship_type = models.CharField(max_length=100, blank=True)
    description = models.CharField(max_length=500, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ("source_id", "kind", "position")

    def __str__(self) -> str:
        return f"{self.source.doc_id} → {self.target_id} ({self.kind})"


class ContentIndexState(models.Model):
    """One row: which state of the files the index holds, and what was wrong with them."""

    SINGLETON_PK = 1

    fingerprint = models.CharField(max_length=64, blank=True)
    directory = models.CharField(max_length=500, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    problems = models.JSONField(default=list)

    def __str__(self) -> str:
        return f"content index of {self.directory} ({self.synced_at})"
