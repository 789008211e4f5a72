"""Background tasks of the documents: scanning and the daily purge. They take ids."""

from __future__ import annotations

from django_tasks import task

from . import services


@task()
def scan_document_version(*, version_id: int) -> str | None:
    version = services.document_version_scan(version_id=version_id)
    return version.scan_status if version is not None else None


@task()
def purge_documents() -> dict[str, int]:
    result = services.documents_purge()
    return {"documents": result.documents, "orphans": result.orphans}
