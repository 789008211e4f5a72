"""Reads of documents, always from the point of view of a user.

A document of a customer the user may not see documents of is reported
exactly like a missing one: 404, same message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db.models import Q, QuerySet, Sum
from django.http import Http404

from portal.accounts.models import User
from portal.customers.models import Customer
from portal.customers.roles import Permission
from portal.customers.selectors import customers_for_user

from .models import Category, Document, DocumentVersion, Source

SORTS = {
    "updated": ("-updated_at", "-id"),
    "oldest": ("updated_at", "id"),
    "title": ("title", "id"),
    "-title": ("-title", "-id"),
}
DEFAULT_SORT = "updated"


@dataclass(frozen=True)
class DocumentFilters:
    search: str = ""
    category: Category | None = None
    request_reference: str = ""
    since: date | None = None
    until: date | None = None
    sort: str = DEFAULT_SORT


def documents_for_user(
    *, user: User, permission: Permission = Permission.DOCUMENTS_VIEW
) -> QuerySet[Document]:
    """Every document of every customer where the user's role grants ``permission``."""
    if not user.is_authenticated:
        return Document.objects.none()
    allowed = customers_for_user(user=user, permission=permission)
    return Document.objects.filter(customer__in=allowed)


def _active(documents: QuerySet[Document]) -> QuerySet[Document]:
    return documents.filter(deleted_at__isnull=True)


def _in_trash(documents: QuerySet[Document]) -> QuerySet[Document]:
    return documents.filter(deleted_at__isnull=False)


def _listed(queryset: QuerySet[Document]) -> QuerySet[Document]:
    return queryset.select_related("category", "current_version", "created_by")


def document_list(
    *, user: User, customer: Customer, filters: DocumentFilters | None = None
) -> QuerySet[Document]:
    """The library of ``customer`` (not the trash), filtered and sorted."""
    filters = filters or DocumentFilters()
    documents = _active(documents_for_user(user=user).filter(customer=customer))
    if filters.search:
        documents = documents.filter(title__icontains=filters.search)
    if filters.category is not None:
        documents = documents.filter(category=filters.category)
    if filters.request_reference:
        documents = documents.filter(request_reference=filters.request_reference)
    if filters.since is not None:
        documents = documents.filter(updated_at__date__gte=filters.since)
    if filters.until is not None:
        documents = documents.filter(updated_at__date__lte=filters.until)
    return _listed(documents).order_by(*SORTS.get(filters.sort, SORTS[DEFAULT_SORT]))


def document_trash_list(*, user: User, customer: Customer) -> QuerySet[Document]:
    return (
        _listed(_in_trash(documents_for_user(user=user).filter(customer=customer)))
        .select_related("deleted_by")
        .order_by("-deleted_at", "-id")
    )


def document_get_for_user(
    *,
    user: User,
    document_id: int,
    permission: Permission = Permission.DOCUMENTS_VIEW,
    in_trash: bool = False,
) -> Document:
    """One document the user may see (or change, with ``DOCUMENTS_UPLOAD``); 404 otherwise."""
    documents = documents_for_user(user=user, permission=permission)
    documents = _in_trash(documents) if in_trash else _active(documents)
    document: Document | None = (
        documents.select_related("customer", "category", "current_version", "created_by")
        .filter(pk=document_id)
        .first()
    )
    if document is None:
        raise Http404("No such document.")
    return document


def document_versions(*, document: Document) -> QuerySet[DocumentVersion]:
    return document.versions.select_related("uploaded_by").order_by("-number")


def version_get_for_user(*, user: User, document_id: int, number: int) -> DocumentVersion:
    """One version of a document the user may see (not in the trash); 404 otherwise."""
    version = (
        DocumentVersion.objects.select_related("document__customer")
        .filter(
            document__in=_active(documents_for_user(user=user)),
            document_id=document_id,
            number=number,
        )
        .first()
    )
    if version is None:
        raise Http404("No such document.")
    return version


def documents_for_request(*, user: User, request_reference: str) -> QuerySet[Document]:
    """The documents attached to a service request, as far as ``user`` may see them."""
    return _listed(
        _active(documents_for_user(user=user)).filter(request_reference=request_reference)
    ).order_by("created_at", "id")


def documents_shared_recently(*, user: User, customer: Customer, limit: int = 5) -> list[Document]:
    """The newest documents the organisation shared with ``customer``, for the dashboard."""
    return list(
        documents_for_user(user=user)
        .filter(customer=customer, source=Source.STAFF)
        .filter(deleted_at__isnull=True)
        .select_related("current_version")
        .order_by("-created_at", "-id")[:limit]
    )


def request_references_in_use(*, user: User, customer: Customer) -> list[str]:
    """Service-request references the customer's documents carry, for the filter."""
    references = (
        _active(documents_for_user(user=user).filter(customer=customer))
        .exclude(Q(request_reference__isnull=True) | Q(request_reference=""))
        .order_by("request_reference")
        .values_list("request_reference", flat=True)
        .distinct()
    )
    return [reference for reference in references if reference]


def categories() -> QuerySet[Category]:
    return Category.objects.all()


def customer_storage_used(*, customer: Customer) -> int:
    """Bytes stored for ``customer``: every version, in the trash too, until purged."""
    total = DocumentVersion.objects.filter(document__customer=customer).aggregate(
        total=Sum("size")
    )["total"]
    return int(total or 0)
