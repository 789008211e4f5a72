"""``kill -9`` of the server in the middle of a burst of submissions, on PostgreSQL.

The client never retries (the API has no idempotency key for submissions, so a
retry of a request whose answer was lost could submit it twice): what it saw
succeed must be in the database exactly as it was answered, and nothing, seen
or not, may be there twice.
"""

from __future__ import annotations

import signal
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cluster import Cluster

from . import wait_for
from .conftest import MigratedPostgres

SETUP = """
import json
from portal.customers.roles import Role
from portal.customers.tests.factories import make_customer, make_member
from portal.servicedesk.tests.factories import make_request_type
from portal.tokens.models import TokenScope
from portal.tokens.services import token_create

acme = make_customer("Acme Ltd")
member = make_member(acme, Role.MEMBER)
make_request_type()
_, secret = token_create(user=member, customer=acme, name="burst", scope=TokenScope.WRITE,
                         expires_in_days=1)
print(json.dumps(secret))
"""

STORED = """
import json
from portal.servicedesk.models import ServiceRequest
print(json.dumps(list(ServiceRequest.objects.values_list("reference", "title"))))
"""

CLIENTS = 3
KILL_AFTER = 30  # successful submissions before the kill


@pytest.mark.postgres
def test_kill_9_mid_burst_loses_no_acknowledged_submission_and_doubles_none(
    tmp_path: Path, migrated_postgres: MigratedPostgres
) -> None:
    from django.conf import settings

    with (
        Cluster(
            data_dir=tmp_path,
            nodes=1,
            migrate=False,
            DATABASE_URL=migrated_postgres.new_database(),
            PORTAL_API_RATE_LIMIT="100000/m",
            PORTAL_API_RATE_LIMIT_IP="100000/m",
            PORTAL_STATIC_ROOT=str(settings.STATIC_ROOT),
        ) as cluster,
    ):
        secret = str(cluster.python(SETUP))
        url = f"{cluster.urls[0]}/api/v1/service-requests"
        acknowledged: dict[str, str] = {}  # title -> reference, as the server answered
        unanswered: list[str] = []  # sent, but the connection broke before an answer
        refused: list[tuple[str, int]] = []
        lock = threading.Lock()
        stop = threading.Event()

        def submit(client_number: int) -> None:
            headers = {"Authorization": f"Bearer {secret}"}
            with httpx.Client(headers=headers, timeout=30) as client:
                for n in range(10_000):
                    if stop.is_set():
                        return
                    title = f"Burst {client_number}-{n}"
                    body = {
                        "request_type": "access-card",
                        "title": title,
                        "answers": {"details": f"Submission {client_number}-{n}"},
                    }
                    try:
                        answer = client.post(url, json=body)
                    except httpx.TransportError:
                        with lock:
                            unanswered.append(title)
                        return  # the server is gone; no retry
                    with lock:
                        if answer.status_code == 201:
                            acknowledged[title] = answer.json()["reference"]
                        else:
                            refused.append((title, answer.status_code))

        threads = [threading.Thread(target=submit, args=(i,)) for i in range(CLIENTS)]
        for thread in threads:
            thread.start()
        try:
            assert wait_for(lambda: len(acknowledged) >= KILL_AFTER, seconds=60)
            cluster.processes[0].send_signal(signal.SIGKILL)
        finally:
            stop.set()  # requests already sent run into the dead server
            for thread in threads:
                thread.join(60)
        assert cluster.processes[0].wait(15) == -signal.SIGKILL
        assert not refused, refused
        assert len(acknowledged) >= KILL_AFTER

        cluster.restart(0)
        stored: Any = cluster.python(STORED)
        titles = Counter(title for _, title in stored)
        references = Counter(reference for reference, _ in stored)
        # Every submission the client saw succeed is there, as it was answered ...
        assert {title: reference for reference, title in stored if title in acknowledged} == (
            acknowledged
        )
        # ... nothing is there twice ...
        assert [title for title, count in titles.items() if count > 1] == []
        assert [ref for ref, count in references.items() if count > 1] == []
        # ... and nothing is there that was never sent.
        assert set(titles) <= set(acknowledged) | set(unanswered)
        print(
            f"acknowledged {len(acknowledged)}, cut off {len(unanswered)} "
            f"(stored anyway: {len(set(titles) & set(unanswered))})"
        )

        # The restarted server takes submissions again.
        again = httpx.post(
            url,
            json={"request_type": "access-card", "title": "After", "answers": {"details": "x"}},
            headers={"Authorization": f"Bearer {secret}"},
            timeout=30,
        )
        assert again.status_code == 201
