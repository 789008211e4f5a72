"""One UPDATE statement without the ORM's query building, for the hottest writes.

A signed-in session's periodic writes (the session row and its "active sessions"
row) are the pages' most frequent writes. For such a one-line UPDATE, building
the queryset and compiling its SQL cost about three times the statement itself
(0.8 ms of CPU against 0.25 ms). Here the statement is built once per model and
set of columns, and each value is prepared by its field as the ORM prepares it.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.db import connections, models, router


def _column(model: type[models.Model], name: str) -> models.Field[Any, Any]:
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field) or not field.concrete or field.column is None:
        raise ValueError(f"{model.__name__}.{name} is not a column")
    return field


@cache
def _statement(
    model: type[models.Model], using: str, columns: tuple[str, ...], where: tuple[str, ...]
) -> tuple[str, tuple[models.Field[Any, Any], ...]]:
    """The UPDATE's SQL and the fields that prepare its parameters, in their order."""
    quote = connections[using].ops.quote_name
    fields = tuple(_column(model, name) for name in (*columns, *where))
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields[: len(columns)])
    conditions = " AND ".join(f"{quote(field.column)} = %s" for field in fields[len(columns) :])
    sql = f"UPDATE {quote(model._meta.db_table)} SET {assignments} WHERE {conditions}"  # noqa: S608 # nosec B608 - names from the model, values bound
    return sql, fields


def update_rows(model: type[models.Model], *, values: dict[str, Any], where: dict[str, Any]) -> int:
    """``model.objects.filter(**where).update(**values)`` for equality conditions on
    concrete fields; returns the number of rows written. Atomic on its own."""
    if any(value is None for value in where.values()):
        raise ValueError("update_rows compares with '=', which no NULL matches")
    using = router.db_for_write(model)
    connection = connections[using]
    sql, fields = _statement(model, using, tuple(values), tuple(where))
    params = [
        field.get_db_prep_save(value, connection)
        for field, value in zip(fields, (*values.values(), *where.values()), strict=True)
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount)
