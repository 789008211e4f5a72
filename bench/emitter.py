"""Changes made while the bench runs: one event at a time for a random customer.

Runs in its own Django process (``manage.py shell -c``); prints one JSON line
per committed event: its id and customer. The event data carries the wall-clock
time of the commit, so a client can tell how long delivery took.
"""

from __future__ import annotations

import json
import random
import sys
import time

from django.db import transaction

from portal.customers.models import Customer
from portal.live.services import live_event_emit


def run(*, rate: float, seconds: float) -> None:
    customers = list(Customer.objects.filter(number__startswith="B-"))
    rng = random.Random(7)  # noqa: S311 - load pattern, not security
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        customer = rng.choice(customers)
        with transaction.atomic():
            event = live_event_emit(
                kind="service_request.updated",
                topic=f"service_request:BENCH-{customer.pk}",
                customer=customer,
                data={"t": time.time()},
            )
        print(json.dumps({"id": event.pk, "customer": customer.pk}), flush=True)
        time.sleep(1 / rate)
    sys.stdout.flush()
