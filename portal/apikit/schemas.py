"""Field types shared by the API's schemas."""

from __future__ import annotations

from typing import Annotated, Any

from ninja.params.functions import Path
from pydantic import AfterValidator, StringConstraints

# Ids are 64-bit; anything larger is a validation error, never a database error.
MAX_ID = 2**63 - 1


def _encodable(value: str) -> str:
    # Lone surrogates cannot be stored (or sent back) as UTF-8.
    value.encode("utf-8")
    return value


def Text(max_length: int, *, min_length: int = 0) -> Any:  # noqa: N802 - reads as a type
    """A string the database can store: bounded, without NUL characters or lone surrogates."""
    return Annotated[
        str,
        StringConstraints(min_length=min_length, max_length=max_length, pattern=r"^[^\x00]*$"),
        AfterValidator(_encodable),
    ]


def IdPath(description: str) -> Any:  # noqa: N802 - reads as a parameter declaration
    return Path(..., ge=1, le=MAX_ID, description=description)
