"""The session engine: Django's ``cached_db`` with a cheaper write of a known session.

Django writes an existing session's row as a model save inside a transaction: BEGIN,
UPDATE, COMMIT and the model's signals. A signed-in session is written again every few
minutes (its last-seen time, ``SessionLimitsMiddleware``), which made that write a
large share of the pages' work when many sessions came due together. Here it is one
UPDATE statement, atomic on its own (``portal.core.db.update_rows``). Creating a
session, and everything else, is Django's.
"""

from __future__ import annotations

from django.contrib.sessions.backends import cached_db, db
from django.contrib.sessions.backends.base import UpdateError

from portal.core.db import update_rows


class _SingleUpdateDBStore(db.SessionStore):
    def save(self, must_create: bool = False) -> None:
        if must_create or self.session_key is None:
            super().save(must_create)
            return
        # What Django's own save writes (the stubs leave out its ``_get_session``).
        obj = self.create_model_instance(self._get_session())  # type: ignore[attr-defined]
        updated = update_rows(
            self.model,
            values={"session_data": obj.session_data, "expire_date": obj.expire_date},
            where={"session_key": obj.session_key},
        )
        if not updated:
            # Ended meanwhile (signed out elsewhere, or purged): as Django's own save,
            # which the session middleware answers with "session interrupted".
            raise UpdateError


class SessionStore(cached_db.SessionStore, _SingleUpdateDBStore):
    """``cached_db`` (the cache in front, written through) over the single-UPDATE write."""
