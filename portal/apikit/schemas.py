"""Field types shared by the API's schemas."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from ninja.params.functions import Path
from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints
from pydantic_core import PydanticCustomError

# Ids are 64-bit; anything larger is a validation error, never a database error.
MAX_ID = 2**63 - 1


def _encodable(value: str) -> str:
    # Lone surrogates cannot be stored (or sent back) as UTF-8.
    value.encode("utf-8")
    return value


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_date(value: Any) -> Any:
    # pydantic would also take 0 or 1700000000 (seconds since 1970) for a date.
    if isinstance(value, str) and not _ISO_DATE.match(value):
        raise ValueError("Use a date as YYYY-MM-DD.")
    return value


def _true_or_false(value: Any) -> Any:
    # pydantic would also take yes/no, on/off, 1/0, t/f; the document says true or false.
    if isinstance(value, str) and value not in {"true", "false"}:
        raise ValueError("Use true or false.")
    return value


Date = Annotated[dt.date, BeforeValidator(_iso_date)]
"""A date in a query: ``YYYY-MM-DD`` and nothing else."""
Bool = Annotated[bool, BeforeValidator(_true_or_false)]
"""A yes/no in a query: ``true`` or ``false`` and nothing else."""


# The characters Python's str.strip() removes (str.isspace), as \\uXXXX escapes, which
# pydantic's, Python's and JavaScript's regular expressions all read the same way. A
# client's own check of the document then agrees with the server's on what is blank.
_SPACE = r"\u0009-\u000d\u001c-\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_STORABLE = r"^[^\u0000]*$"
_NOT_BLANK = rf"^[^\u0000]*[^\u0000{_SPACE}][^\u0000]*$"


def _not_blank(value: str) -> str:
    # The services strip what they store; a value of only spaces would be stored empty.
    if not value.strip():
        raise PydanticCustomError("blank", "Write something other than spaces here.")
    return value


def Text(max_length: int, *, min_length: int = 0, blank: bool = True) -> Any:  # noqa: N802
    """A string the database can store: bounded, without NUL characters or lone surrogates.

    ``blank=False``: at least one character that is not a space (the pattern in the
    document says so too).
    """
    constraints = StringConstraints(min_length=min_length, max_length=max_length, pattern=_STORABLE)
    if blank:
        return Annotated[str, constraints, AfterValidator(_encodable)]
    return Annotated[
        str,
        constraints,
        AfterValidator(_encodable),
        AfterValidator(_not_blank),
        Field(json_schema_extra={"pattern": _NOT_BLANK}),
    ]


def IdPath(description: str) -> Any:  # noqa: N802 - reads as a parameter declaration
    return Path(..., ge=1, le=MAX_ID, description=description)


def forbid_unknown_form_fields(request: Any, schema: type[Any], *, files: tuple[str, ...]) -> None:
    """Refuse form fields ``schema`` does not define (ninja passes them over silently),
    naming each, as JSON bodies do."""
    from .problems import ApiProblem

    known = set(schema.model_fields) | set(files)
    unknown = sorted((set(request.POST) | set(request.FILES)) - known)
    if unknown:
        raise ApiProblem(
            422,
            "Invalid: " + ", ".join(unknown) + ".",
            slug="validation-error",
            errors=[
                {
                    "in": "body",
                    "field": name,
                    "pointer": f"/{name}",
                    "message": "Extra inputs are not permitted",
                    "code": "extra_forbidden",
                }
                for name in unknown
            ],
        )
