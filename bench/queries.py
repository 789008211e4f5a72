"""Query count and server time of one page view, measured inside a Django process.

Run through ``manage.py shell -c`` with the same settings as the server; the
page is requested once with the session cookie, then counted and timed.
"""

from __future__ import annotations

import time
from typing import Any

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext


def measure(
    *, cookie_name: str, session: str, paths: list[str], repeat: int = 21
) -> dict[str, Any]:
    """Queries and server time of views that render their page, and the time of an
    answer from the page cache (``portal.core.fragments.cached_page``).

    Before each rendered view the versions of the user's customers move on, as a
    change of their data does: the page is built again, while what is cached for the
    user alone (the session, the memberships) stays, as it does between such views.
    """
    from portal.core.fragments import versions_bump
    from portal.customers.models import Membership

    client = Client(HTTP_HOST="127.0.0.1")
    client.cookies[cookie_name] = session
    user_id = client.session["_auth_user_id"]
    customers = list(
        Membership.objects.filter(user_id=user_id).values_list("customer_id", flat=True)
    )

    def view(path: str, *, rendered: bool) -> tuple[int, float]:
        if rendered:
            versions_bump(customers=customers)
        begun = time.perf_counter()
        status = client.get(path).status_code
        return status, (time.perf_counter() - begun) * 1000

    results: dict[str, Any] = {}
    for path in paths:
        client.get(path)
        with CaptureQueriesContext(connection) as captured:
            status, _ = view(path, rendered=True)
        # Read now: the next request clears the connection's query log.
        queries = len(captured)
        db_ms = sum(float(q["time"]) for q in captured.captured_queries) * 1000
        timings = [view(path, rendered=True)[1] for _ in range(repeat)]
        cached = [view(path, rendered=False)[1] for _ in range(repeat)]
        results[path] = {
            "status": status,
            "queries": queries,
            "db_ms": db_ms,
            "server_ms": sorted(timings)[len(timings) // 2],
            "cached_ms": sorted(cached)[len(cached) // 2],
        }
    return results


def explain_request_list(*, email: str, customer_number: str) -> dict[str, Any]:
    """The plan of a customer's request list page (first page), as PostgreSQL runs it."""
    from portal.accounts.models import User
    from portal.customers.models import Customer
    from portal.servicedesk.selectors import service_request_list

    user = User.objects.get(email=email)
    customer = Customer.objects.get(number=customer_number)
    plan = service_request_list(user=user, customer=customer)[:20].explain(analyze=True)
    return {"plan": plan, **request_scan(plan)}


def request_scan(plan: str) -> dict[str, Any]:
    """How the plan reads the service requests table: the scan line, and whether it is Seq."""
    scans = [
        line.strip().removeprefix("->").strip()
        for line in plan.splitlines()
        if " on servicedesk_servicerequest" in line and "Scan" in line
    ]
    return {
        "request_scan": scans[0] if scans else "",
        "seq_scan": any(line.startswith("Seq Scan") for line in scans),
    }
