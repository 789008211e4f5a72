"""The front matter of a content file, as the seed record defines it.

Validated with pydantic so that every problem names its field; unknown keys
are errors (a typo such as ``tag:`` would otherwise vanish silently), and
free-form data belongs under ``extensions.properties``.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .models import PUBLIC_TAG, ContentStatus, Criticality

# Document ids: lowercase words of letters and digits joined by hyphens
# (underscores allowed), e.g. ``app-comp-001-customer-portal``.
DOC_ID_PATTERN = r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$"
DOC_ID_RE = re.compile(DOC_ID_PATTERN)
# Path segments of the content URLs that no page may take.
RESERVED_IDS = frozenset({"search", "suggest"})

Text = Annotated[str, Field(min_length=1, max_length=300)]


def check_doc_id(value: str) -> str:
    if not DOC_ID_RE.match(value):
        raise ValueError(
            f"{value!r} is not a valid id: use lowercase letters, digits and hyphens, "
            "e.g. 'help-paying-invoices'"
        )
    if len(value) > 100:
        raise ValueError("an id has at most 100 characters")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


class Relationship(_Strict):
    type: Text
    target: str
    description: str = Field(default="", max_length=500)

    @field_validator("target")
    @classmethod
    def _target(cls, value: str) -> str:
        return check_doc_id(value)


class ArchiMate(_Strict):
    type: Text
    layer: Text
    criticality: Criticality | None = None


class Extensions(_Strict):
    properties: dict[str, Any] = Field(default_factory=dict)


class FrontMatter(_Strict):
    id: str
    name: Text
    owner: Text
    status: ContentStatus
    version: Annotated[str, Field(min_length=1, max_length=50)]
    last_updated: date
    review_cycle: str = Field(default="", max_length=50)
    next_review: date | None = None
    relationships: list[Relationship] = Field(default_factory=list)
    tags: list[Annotated[str, Field(min_length=1, max_length=50)]] = Field(default_factory=list)
    archimate: ArchiMate | None = None
    extensions: Extensions = Field(default_factory=Extensions)

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        check_doc_id(value)
        if value in RESERVED_IDS:
            raise ValueError(f"{value!r} is reserved for the portal's own pages; choose another id")
        return value

    @property
    def is_public(self) -> bool:
        return PUBLIC_TAG in self.tags

    @property
    def lifecycle_phase(self) -> str:
        return str(self.extensions.properties.get("lifecycle-phase", ""))
