"""Query count and server time of one page view, measured inside a Django process.

Run through ``manage.py shell -c`` with the same settings as the server; the
page is requested twice with the session cookie and the second view counted.
"""

from __future__ import annotations

import time
from typing import Any

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext


def measure(
    *, cookie_name: str, session: str, paths: list[str], repeat: int = 11
) -> dict[str, Any]:
    client = Client(HTTP_HOST="127.0.0.1")
    client.cookies[cookie_name] = session
    results: dict[str, Any] = {}
    for path in paths:
        client.get(path)
        with CaptureQueriesContext(connection) as captured:
            status = client.get(path).status_code
        # Read now: the next request clears the connection's query log.
        queries = len(captured)
        db_ms = sum(float(q["time"]) for q in captured.captured_queries) * 1000
        timings = []
        for _ in range(repeat):
            begun = time.perf_counter()
            client.get(path)
            timings.append((time.perf_counter() - begun) * 1000)
        results[path] = {
            "status": status,
            "queries": queries,
            "db_ms": db_ms,
            "server_ms": sorted(timings)[len(timings) // 2],
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
