"""``update_rows`` and ``read_row``: the ORM's UPDATE and get, as one prepared statement."""

from __future__ import annotations

from datetime import timedelta

import pytest
from allauth.usersessions.models import UserSession
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portal.accounts.models import User
from portal.core.db import _select, read_row, update_rows
from portal.core.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _sessions() -> tuple[Session, Session]:
    soon = timezone.now() + timedelta(hours=1)
    return (
        Session.objects.create(session_key="a" * 32, session_data="first", expire_date=soon),
        Session.objects.create(session_key="b" * 32, session_data="second", expire_date=soon),
    )


def test_it_writes_the_matching_row_only_in_one_statement() -> None:
    first, second = _sessions()
    later = timezone.now() + timedelta(days=3)
    with CaptureQueriesContext(connection) as queries:
        written = update_rows(
            Session,
            values={"session_data": "changed", "expire_date": later},
            where={"session_key": first.session_key},
        )
    assert written == 1
    assert [q["sql"].split(" ", 1)[0] for q in queries.captured_queries] == ["UPDATE"]
    first.refresh_from_db()
    second.refresh_from_db()
    # The datetime reads back as the ORM wrote it, on either database.
    assert (first.session_data, first.expire_date) == ("changed", later)
    assert second.session_data == "second"


def test_it_matches_every_condition_and_reports_no_match() -> None:
    user = UserFactory()
    row = UserSession.objects.create(
        user=user, session_key="c" * 32, ip="192.0.2.1", user_agent="Firefox"
    )
    seen = timezone.now() + timedelta(minutes=5)
    where = {"session_key": row.session_key, "user": user.pk, "ip": "192.0.2.1"}
    assert (
        update_rows(
            UserSession, values={"last_seen_at": seen}, where={**where, "user_agent": "Chrome"}
        )
        == 0
    )
    row.refresh_from_db()
    assert row.last_seen_at != seen
    assert (
        update_rows(
            UserSession, values={"last_seen_at": seen}, where={**where, "user_agent": "Firefox"}
        )
        == 1
    )
    row.refresh_from_db()
    assert row.last_seen_at == seen


def test_a_null_condition_or_a_name_that_is_no_column_is_refused() -> None:
    with pytest.raises(ValueError, match="NULL"):
        update_rows(Session, values={"session_data": "x"}, where={"session_key": None})
    with pytest.raises(ValueError, match="is not a column"):  # the sessions' side of their key
        update_rows(User, values={"first_name": "x"}, where={"usersession": 1})


def test_read_row_reads_what_the_orm_reads() -> None:
    user = UserFactory(first_name="Zoë", is_staff=True)
    User.objects.filter(pk=user.pk).update(last_login=timezone.now() - timedelta(days=2))
    expected = User.objects.get(pk=user.pk)
    with CaptureQueriesContext(connection) as queries:
        read = read_row(User, str(user.pk))  # as a session holds it
    assert len(queries.captured_queries) == 1
    assert isinstance(read, User)
    # Every column converted as the ORM converts it (booleans and datetimes on SQLite too).
    fields = [field.attname for field in User._meta.concrete_fields]
    assert {name: getattr(read, name) for name in fields} == {
        name: getattr(expected, name) for name in fields
    }
    assert read.is_staff is True
    assert read.last_login is not None
    assert read.last_login.tzinfo is not None
    assert read._state.adding is False
    assert read._state.db == "default"


def test_read_row_answers_none_for_a_missing_row() -> None:
    assert read_row(User, 987_654_321) is None


def test_read_row_refuses_a_model_whose_default_manager_leaves_rows_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from django.db import models

    class Active(models.Manager[User]):
        def get_queryset(self) -> models.QuerySet[User]:
            return super().get_queryset().filter(is_active=True)

    active = Active()
    active.model = User
    monkeypatch.setattr(User._meta, "default_manager", active)
    _select.cache_clear()  # what an earlier read of User built
    try:
        with pytest.raises(ValueError, match="leaves rows out"):
            read_row(User, 1)
    finally:
        _select.cache_clear()
