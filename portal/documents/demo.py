"""Demo documents for ``make run``: a few per demo customer, some shared by staff.

Loaded through the same services as real uploads, once: a document whose title
already exists for the customer is left alone, so loading again changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.files.uploadedfile import SimpleUploadedFile

from portal.accounts.models import User
from portal.customers.models import Customer

from . import services
from .models import Category, Document, Source


@dataclass(frozen=True)
class DemoDocument:
    customer: str  # customer number
    title: str
    file_name: str
    text: str
    category: str
    uploaded_by: str  # e-mail
    source: str = Source.CUSTOMER
    request_reference: str | None = None


DEMO_DOCUMENTS = (
    DemoDocument(
        "C-900001",
        "Framework contract 2026",
        "framework-contract-2026.pdf",
        "Framework contract between the organisation and Acme Ltd, valid for 2026.",
        "contracts",
        "staff@portal.example",
        Source.STAFF,
    ),
    DemoDocument(
        "C-900001",
        "Statement Q3 2026",
        "statement-q3-2026.pdf",
        "Statement of account for Acme Ltd, third quarter 2026.",
        "statements",
        "staff@portal.example",
        Source.STAFF,
    ),
    DemoDocument(
        "C-900001",
        "Meter readings",
        "meter-readings.csv",
        "date,meter,reading\n2026-09-30,M-001,12345\n2026-10-31,M-001,12877\n",
        "forms",
        "member@acme.example",
        request_reference="SR-2026-000001",
    ),
    DemoDocument(
        "C-900002",
        "Proof of address",
        "proof-of-address.pdf",
        "Jane Doe, 1 Example Street, Example Town.",
        "certificates",
        "jane@example.org",
    ),
    DemoDocument(
        "C-900002",
        "Welcome letter",
        "welcome-letter.pdf",
        "Welcome, Jane. Your documents will appear in this library.",
        "correspondence",
        "staff@portal.example",
        Source.STAFF,
    ),
)


def demo_pdf(text: str) -> bytes:
    """A small, valid one-page PDF showing ``text``."""
    safe = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    stream = f"BT /F1 12 Tf 72 720 Td ({safe}) Tj ET".encode("latin-1", "replace")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def load_demo_documents() -> int:
    """Create the demo documents that are missing. Returns how many were created."""
    created = 0
    for demo in DEMO_DOCUMENTS:
        customer = Customer.objects.filter(number=demo.customer).first()
        user = User.objects.filter(email=demo.uploaded_by).first()
        if customer is None or user is None:
            continue
        if Document.objects.filter(customer=customer, title=demo.title).exists():
            continue
        content = demo_pdf(demo.text) if demo.file_name.endswith(".pdf") else demo.text.encode()
        services.document_upload(
            customer=customer,
            uploaded_by=user,
            file=SimpleUploadedFile(demo.file_name, content),
            title=demo.title,
            category=Category.objects.filter(slug=demo.category).first(),
            request_reference=demo.request_reference,
            source=demo.source,
        )
        created += 1
    return created
