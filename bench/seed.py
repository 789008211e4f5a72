"""Bench data, written fast with bulk inserts: customers, users, memberships, sessions.

Run inside a configured Django process (``manage.py shell -c``); prints JSON
with the session cookies the load generators use.
"""

from __future__ import annotations

import json
import secrets
import sys
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.sessions.backends.db import SessionStore as DbSessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from portal.accounts.models import User
from portal.customers.models import Customer, Membership
from portal.customers.roles import Role
from portal.live.models import Notification

BATCH = 2000


def run(*, customers: int, users: int, extra: Any = None) -> dict[str, Any]:
    password = make_password("bench-password-2026")
    made_customers = Customer.objects.bulk_create(
        [Customer(name=f"Bench customer {i:04d}", number=f"B-{i:06d}") for i in range(customers)],
        batch_size=BATCH,
    )
    people = User.objects.bulk_create(
        [
            User(email=f"bench{i:05d}@bench.example", first_name="Bench", last_name=f"{i:05d}",
                 password=password)
            for i in range(users)
        ],
        batch_size=BATCH,
    )  # fmt: skip
    roles = [Role.ADMIN, Role.MEMBER, Role.MEMBER, Role.BILLING]
    Membership.objects.bulk_create(
        [
            Membership(user=user, customer=made_customers[i % customers], role=roles[i % 4])
            for i, user in enumerate(people)
        ],
        batch_size=BATCH,
    )
    Notification.objects.bulk_create(
        [
            Notification(user=user, kind="service_request", title=f"Update {n} for you")
            for user in people[:1000]
            for n in range(5)
        ],
        batch_size=BATCH,
    )
    # One signed-in session per user, as after a sign-in.
    now = int(timezone.now().timestamp())
    expire = timezone.now() + timezone.timedelta(seconds=settings.SESSION_COOKIE_AGE)
    encoder = DbSessionStore()
    sessions = []
    user_hash = people[0].get_session_auth_hash()  # same password hash for every bench user
    for user in people:
        key = secrets.token_hex(16)
        data = {
            "_auth_user_id": str(user.pk),
            "_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
            "_auth_user_hash": user_hash,
            "portal_session_started": now,
            "portal_session_last_seen": now,
        }
        sessions.append(
            Session(session_key=key, session_data=encoder.encode(data), expire_date=expire)
        )
    Session.objects.bulk_create(sessions, batch_size=BATCH)
    result = {
        "cookie_name": settings.SESSION_COOKIE_NAME,
        "sessions": [s.session_key for s in sessions],
        "customer_of_user": [made_customers[i % customers].pk for i in range(users)],
        "role_of_user": [str(roles[i % 4]) for i in range(users)],
    }
    return result


if __name__ == "__main__":  # pragma: no cover - used through manage.py shell
    json.dump(run(customers=int(sys.argv[1]), users=int(sys.argv[2])), sys.stdout)
