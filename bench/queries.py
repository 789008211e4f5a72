"""Query count and server time of one page view, measured inside a Django process.

Run through ``manage.py shell -c`` with the same settings as the server; the
page is requested once with the session cookie, then counted and timed.
"""

from __future__ import annotations

import time
from statistics import median
from typing import Any

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext


def measure(
    *, cookie_name: str, views: list[dict[str, Any]], repeat: int = 21
) -> list[dict[str, Any]]:
    """Queries and server time of views that render their page, and the time of an
    answer from the page cache (``portal.core.fragments.cached_page``).

    ``views`` holds one ``{"session": ..., "paths": [...]}`` per user; the result holds
    one ``{path: figures}`` per user, in the same order. The users' views take turns,
    round by round, so that what the machine is doing meanwhile weighs on each alike:
    their ratio is what the figures are for.

    Before each rendered view the versions of the user's customers move on, as a
    change of their data does: the page is built again, while what is cached for the
    user alone (the session, the memberships) stays, as it does between such views.
    """
    from portal.core.fragments import versions_bump
    from portal.customers.models import Membership

    def client_of(session: str) -> tuple[Client, list[int]]:
        client = Client(HTTP_HOST="127.0.0.1")
        client.cookies[cookie_name] = session
        user_id = client.session["_auth_user_id"]
        customers = Membership.objects.filter(user_id=user_id).values_list("customer_id", flat=True)
        return client, list(customers)

    clients = [client_of(view["session"]) for view in views]
    turns = [(i, path) for i, view in enumerate(views) for path in view["paths"]]

    def timed(i: int, path: str, *, rendered: bool) -> tuple[int, float]:
        client, customers = clients[i]
        if rendered:
            versions_bump(customers=customers)
        begun = time.perf_counter()
        status = client.get(path).status_code
        return status, (time.perf_counter() - begun) * 1000

    results: list[dict[str, Any]] = [{} for _ in views]
    for i, path in turns:
        clients[i][0].get(path)
        with CaptureQueriesContext(connection) as captured:
            status, _ = timed(i, path, rendered=True)
        # Read now: the next request clears the connection's query log.
        results[i][path] = {
            "status": status,
            "queries": len(captured),
            "db_ms": sum(float(q["time"]) for q in captured.captured_queries) * 1000,
        }
    timings: dict[tuple[int, str], list[float]] = {turn: [] for turn in turns}
    cached: dict[tuple[int, str], list[float]] = {turn: [] for turn in turns}
    for _ in range(repeat):
        for i, path in turns:
            timings[i, path].append(timed(i, path, rendered=True)[1])
    for _ in range(repeat):
        for i, path in turns:
            cached[i, path].append(timed(i, path, rendered=False)[1])
    for i, path in turns:
        results[i][path]["server_ms"] = median(timings[i, path])
        results[i][path]["cached_ms"] = median(cached[i, path])
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
