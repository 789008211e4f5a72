"""Changes made while the bench runs: one status change at a time, for a random customer.

Runs in its own Django process (``manage.py shell -c``); prints one JSON line
per committed change: its event's id and customer. Each change saves one of
the customer's requests with a new status and timeline entry (so the
customer's cached dashboard cards are computed again, as after a real change)
and records a live event whose data carries the wall-clock time of the
commit, so a client can tell how long delivery took. The staff service's
notifications and e-mails to every watcher are left out: they are not what
this measures.
"""

from __future__ import annotations

import json
import random
import sys
import time

from django.db import transaction
from django.utils import timezone

from portal.accounts.models import User
from portal.customers.models import Customer
from portal.live.services import live_event_emit
from portal.servicedesk.models import ServiceRequest, Status, StatusChange
from portal.servicedesk.workflow import ActorKind

# Back and forth between two open statuses: the open count stays, "waiting" moves.
TOGGLE = {Status.IN_PROGRESS: Status.WAITING_FOR_CUSTOMER}
TOGGLE.update({to: back for back, to in TOGGLE.items()})


def run(*, rate: float, seconds: float) -> None:
    customers = list(Customer.objects.filter(number__startswith="B-"))
    requests: dict[int, list[int]] = {}
    for pk, customer_id in ServiceRequest.objects.filter(customer__in=customers).values_list(
        "pk", "customer_id"
    ):
        requests.setdefault(customer_id, []).append(pk)
    staff = User.objects.get(email="bench-staff@bench.example")
    rng = random.Random(7)  # noqa: S311 - load pattern, not security
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        customer = rng.choice(customers)
        with transaction.atomic():
            if requests.get(customer.pk):
                _change_status(rng.choice(requests[customer.pk]), staff)
            event = live_event_emit(
                kind="service_request.updated",
                topic=f"service_request:BENCH-{customer.pk}",
                customer=customer,
                data={"t": time.time()},
            )
        print(json.dumps({"id": event.pk, "customer": customer.pk}), flush=True)
        time.sleep(1 / rate)
    sys.stdout.flush()


def _change_status(pk: int, staff: User) -> None:
    service_request = ServiceRequest.objects.select_for_update().get(pk=pk)
    before = Status(service_request.status)
    after = TOGGLE.get(before, Status.IN_PROGRESS)
    now = timezone.now()
    service_request.status, service_request.updated_at = after, now
    service_request.save(update_fields=["status", "updated_at"])
    StatusChange.objects.create(
        service_request=service_request,
        created_at=now,
        from_status=before,
        to_status=after,
        actor=staff,
        actor_kind=ActorKind.STAFF,
    )
