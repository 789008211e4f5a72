"""From a content directory to rendered pages and a list of problems (no database).

``manage.py content check`` prints the problems; ``content_sync`` stores the
pages. Errors are files that were skipped; warnings are published pages with
something to fix, such as a link to a document that is not published.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from .loader import Document, Problem, Severity, load_directory
from .models import Audience, visible_to
from .rendering import LinkKind, ParsedBody, parse_body, render_html


@dataclass
class BuiltPage:
    document: Document
    parsed: ParsedBody
    html: dict[Audience, str]


@dataclass
class Site:
    pages: list[BuiltPage] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == Severity.ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == Severity.WARNING]


def build_site(directory: Path, *, today: date) -> Site:
    documents, problems = load_directory(directory)
    known = {document.front.id: document for document in documents}
    visible = {
        audience: frozenset(
            document.front.id
            for document in documents
            if visible_to(
                audience, status=document.front.status, is_public=document.front.is_public
            )
        )
        for audience in Audience
    }
    site = Site(problems=problems)
    for document in documents:
        parsed = parse_body(document.body, title=document.front.name)
        html = {
            audience: render_html(parsed, page_id=document.front.id, visible_ids=visible[audience])
            for audience in Audience
        }
        site.pages.append(BuiltPage(document=document, parsed=parsed, html=html))
        site.problems.extend(_page_problems(document, parsed, known, visible, today))
    site.problems.sort(key=lambda p: (p.path, p.line, p.message))
    return site


def _page_problems(
    document: Document,
    parsed: ParsedBody,
    known: dict[str, Document],
    visible: dict[Audience, frozenset[str]],
    today: date,
) -> list[Problem]:
    front = document.front
    problems: list[Problem] = []

    def warn(line: int, message: str) -> None:
        problems.append(Problem(document.path, line, Severity.WARNING, message))

    # The widest audience that reads this page, to check what its links show them.
    readers = next(
        (a for a in (Audience.ANONYMOUS, Audience.SIGNED_IN) if front.id in visible[a]), None
    )
    for use in parsed.links:
        line = document.body_line + use.line - 1
        link = use.link
        if link.kind == LinkKind.INVALID:
            warn(line, f"link [{use.text}]: {link.reason}; it is shown as text")
        elif link.kind == LinkKind.DOCUMENT and link.target_id != front.id:
            if link.target_id not in known:
                warn(
                    line,
                    f"link [{use.text}]: no document has the id {link.target_id!r}; "
                    "it is shown as not published",
                )
            elif readers is not None and link.target_id not in visible[readers]:
                warn(
                    line,
                    f"link [{use.text}]: {link.target_id!r} is not visible to everyone who can "
                    "read this page; they see it as not published",
                )
    for relationship, line in zip(front.relationships, document.relationship_lines, strict=True):
        if relationship.target not in known:
            warn(
                line,
                f"relationships: no document has the id {relationship.target!r}; "
                "it is listed as not published",
            )
    for line in sorted(set(parsed.raw_html_lines)):
        warn(
            document.body_line + line - 1,
            "raw HTML is shown as text, not as HTML; write it in Markdown instead",
        )
    if front.next_review is not None and front.next_review < today:
        warn(
            document.field_lines.get("next_review", 1),
            f"next_review: the review was due on {front.next_review}",
        )
    return problems
