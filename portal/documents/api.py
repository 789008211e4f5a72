"""``/api/v1/documents``: a customer's document library: list, upload, versions, download.

Files go through the same pipeline as the library page (type by content, size
and quota, virus scan after commit); downloads through the same checks and
audit as the download link.
"""

# No ``from __future__ import annotations`` here: ninja reads these annotations at run time.

from datetime import datetime
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from ninja import Field, File, Form, Query, Router, Schema
from ninja.files import UploadedFile
from ninja.pagination import paginate
from ninja.responses import Status
from pydantic import ConfigDict

from portal.apikit.auth import ApiPrincipal, principal
from portal.apikit.pagination import Mapped, PagePagination
from portal.apikit.problems import ApiProblem
from portal.apikit.schemas import MAX_ID, Date, IdPath, Text, forbid_unknown_form_fields
from portal.customers.roles import Permission

from . import selectors, services
from .models import Category, Document, DocumentVersion, ScanStatus, Source
from .responses import download_response

router = Router(tags=["documents"])

CustomerId = Field(None, ge=1, le=MAX_ID, description="Needed only when you act for several.")


class VersionOut(Schema):
    number: int
    file_name: str
    size: int = Field(description="Bytes.")
    content_type: str
    sha256: str
    uploaded_at: datetime
    scan_status: ScanStatus
    downloadable: bool = Field(description="False while held for its virus check, or infected.")
    download_url: str


class DocumentOut(Schema):
    id: int
    customer_id: int
    title: str
    category: str | None = Field(description="The category's short name.")
    source: Source
    request_reference: str | None
    created_at: datetime
    updated_at: datetime
    current_version: VersionOut | None


class DocumentDetailOut(DocumentOut):
    versions: list[VersionOut] = Field(description="Newest first.")


class DocumentFilters(Schema):
    customer_id: int | None = CustomerId
    search: Text(200) | None = Field(None, description="Words in the title.")  # type: ignore[valid-type]
    category: Text(80) | None = Field(None, description="A category's short name.")  # type: ignore[valid-type]
    request_reference: Text(40) | None = None  # type: ignore[valid-type]
    since: Date | None = Field(None, description="Changed on or after this day.")
    until: Date | None = Field(None, description="Changed on or before this day.")
    sort: Literal["updated", "oldest", "title", "-title"] = "updated"


class UploadIn(Schema):
    model_config = ConfigDict(extra="forbid")

    customer_id: int | None = CustomerId
    title: Text(200) | None = Field(None, description="Default: the file's name.")  # type: ignore[valid-type]
    category: Text(80) | None = Field(None, description="A category's short name.")  # type: ignore[valid-type]
    request_reference: Text(40) | None = Field(None, description="e.g. SR-2026-000123")  # type: ignore[valid-type]


def _version_out(request: HttpRequest, version: DocumentVersion) -> VersionOut:
    return VersionOut(
        number=version.number,
        file_name=version.file_name,
        size=version.size,
        content_type=version.content_type,
        sha256=version.sha256,
        uploaded_at=version.uploaded_at,
        scan_status=ScanStatus(version.scan_status),
        downloadable=version.is_downloadable,
        download_url=request.build_absolute_uri(
            f"/api/v1/documents/{version.document_id}/versions/{version.number}/download"
        ),
    )


def _document_out(request: HttpRequest, document: Document) -> DocumentOut:
    current = document.current_version
    return DocumentOut(
        id=document.pk,
        customer_id=document.customer_id,
        title=document.title,
        category=document.category.slug if document.category else None,
        source=Source(document.source),
        request_reference=document.request_reference,
        created_at=document.created_at,
        updated_at=document.updated_at,
        current_version=_version_out(request, current) if current is not None else None,
    )


def _category(slug: str | None, field: str = "category") -> Category | None:
    if not slug:
        return None
    category = selectors.categories().filter(slug=slug).first()
    if category is None:
        raise ValidationError({field: f"There is no category {slug!r}."}, code="invalid")
    return category


def _document(caller: ApiPrincipal, document_id: int, permission: Permission) -> Document:
    """A document of a customer the caller acts for, whose role there allows ``permission``."""
    document = selectors.document_get_for_user(
        user=caller.user, document_id=document_id, permission=permission
    )
    caller.require(permission, document.customer_id)  # a token: its customer only, else 404
    return document


def _file_problem(error: ValidationError) -> ApiProblem:
    code = getattr(error, "code", None) or "invalid"
    status = 413 if code == "too_large" else 422
    return ApiProblem(
        status,
        " ".join(error.messages),
        slug="validation-error" if status == 422 else None,
        errors=[
            {"in": "body", "field": "file", "pointer": "/file", "message": m, "code": code}
            for m in error.messages
        ],
    )


@router.get("/documents", response=list[DocumentOut], summary="List documents")
@paginate(PagePagination)
def document_list(request: HttpRequest, filters: Query[DocumentFilters]) -> list[DocumentOut]:
    """One customer's library (not the trash), newest change first unless `sort` says else."""
    caller = principal(request)
    membership = caller.pick(Permission.DOCUMENTS_VIEW, filters.customer_id)
    category = None
    if filters.category:
        category = selectors.categories().filter(slug=filters.category).first()
        if category is None:  # no such category: nothing is in it
            return Mapped(Document.objects.none(), lambda d: _document_out(request, d))  # type: ignore[return-value]
    documents = selectors.document_list(
        user=caller.user,
        customer=membership.customer,
        filters=selectors.DocumentFilters(
            search=filters.search or "",
            category=category,
            request_reference=filters.request_reference or "",
            since=filters.since,
            until=filters.until,
            sort=filters.sort,
        ),
    )
    return Mapped(documents, lambda d: _document_out(request, d))  # type: ignore[return-value]


@router.post("/documents", response={201: DocumentDetailOut}, summary="Upload a document")
def document_upload(
    request: HttpRequest, file: File[UploadedFile], details: Form[UploadIn]
) -> Status[Any]:
    """Multipart form: `file` and optional fields. The type is decided by the content;
    the virus check runs afterwards (`scan_status`)."""
    forbid_unknown_form_fields(request, UploadIn, files=("file",))
    caller = principal(request)
    membership = caller.pick(Permission.DOCUMENTS_UPLOAD, details.customer_id)
    category = _category(details.category)
    try:
        version = services.document_upload(
            customer=membership.customer,
            uploaded_by=caller.user,
            file=file,
            title=details.title,
            category=category,
            request_reference=details.request_reference,
            request=request,
        )
    except ValidationError as error:
        raise _file_problem(error) from None
    document = _document(caller, version.document_id, Permission.DOCUMENTS_VIEW)
    return Status(201, _detail(request, document))


def _detail(request: HttpRequest, document: Document) -> DocumentDetailOut:
    return DocumentDetailOut(
        **_document_out(request, document).model_dump(),
        versions=[_version_out(request, v) for v in selectors.document_versions(document=document)],
    )


@router.get("/documents/{int:document_id}", response=DocumentDetailOut, summary="Get a document")
def document_get(
    request: HttpRequest, document_id: int = IdPath("The document's id.")
) -> DocumentDetailOut:
    document = _document(principal(request), document_id, Permission.DOCUMENTS_VIEW)
    return _detail(request, document)


@router.get(
    "/documents/{int:document_id}/versions",
    response=list[VersionOut],
    summary="List a document's versions",
)
def document_versions(
    request: HttpRequest, document_id: int = IdPath("The document's id.")
) -> list[VersionOut]:
    """Newest first."""
    document = _document(principal(request), document_id, Permission.DOCUMENTS_VIEW)
    return [_version_out(request, v) for v in selectors.document_versions(document=document)]


@router.post(
    "/documents/{int:document_id}/versions",
    response={201: VersionOut},
    summary="Upload a new version",
)
def document_version_add(
    request: HttpRequest, file: File[UploadedFile], document_id: int = IdPath("The document's id.")
) -> Status[Any]:
    forbid_unknown_form_fields(request, Schema, files=("file",))
    caller = principal(request)
    document = _document(caller, document_id, Permission.DOCUMENTS_UPLOAD)
    try:
        version = services.document_version_add(
            document=document, uploaded_by=caller.user, file=file, request=request
        )
    except ValidationError as error:
        raise _file_problem(error) from None
    return Status(201, _version_out(request, version))


@router.get(
    "/documents/{int:document_id}/versions/{int:number}/download",
    response={200: None},
    summary="Download a version",
    openapi_extra={
        "responses": {
            "200": {
                "description": "The file, as an attachment.",
                "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
            },
            "409": {
                "description": "Held for its virus check, or infected.",
                "content": {
                    "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
                },
            },
        }
    },
)
def document_download(
    request: HttpRequest,
    document_id: int = IdPath("The document's id."),
    number: int = IdPath("The version number."),
) -> HttpResponse:
    """Every download is in the customer's activity log."""
    caller = principal(request)
    _document(caller, document_id, Permission.DOCUMENTS_VIEW)
    version = selectors.version_get_for_user(
        user=caller.user, document_id=document_id, number=number
    )
    try:
        handle = services.document_version_open(version=version, user=caller.user, request=request)
    except ValidationError:
        raise ApiProblem(
            409,
            "This file cannot be downloaded: it is waiting for its virus check or was found "
            "infected.",
        ) from None
    response = download_response(
        handle, file_name=version.file_name, content_type=version.content_type, size=version.size
    )
    return response  # type: ignore[return-value] # a streamed response is fine here
