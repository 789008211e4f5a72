"""A staff status change reaches the streams of the customer's members, through the real server."""

from __future__ import annotations

import pytest
from django.db import transaction

from portal.live.tests.test_stream import cookies_for, hub_caught_up
from portal.servicedesk import services
from portal.servicedesk.workflow import Status
from tests.server import PortalServer
from tests.sse import SSEClient

from .conftest import World


@pytest.mark.usefixtures("transactional_db")
def test_a_staff_status_change_streams_to_members_and_to_no_one_else(
    portal_server: PortalServer, world: World
) -> None:
    sr = world.acme_request
    url = f"{portal_server.url}/live/events"
    hub_caught_up()  # the world's own events (the requests' creation) are not what we wait for
    with (
        SSEClient(url, cookies=cookies_for(world.member)) as member,
        SSEClient(url, cookies=cookies_for(world.billing)) as billing,
        SSEClient(url, cookies=cookies_for(world.other_admin)) as other_customer,
    ):
        assert member.status == billing.status == other_customer.status == 200
        with transaction.atomic():
            services.service_request_transition(
                service_request=sr,
                to_status=Status.IN_REVIEW,
                actor=world.staff,
                as_staff=True,
                note="Looking into it",
            )
        frames = [member.next(timeout=2)]
        while frames[-1].json["kind"] == "notifications.changed":
            frames.append(member.next(timeout=2))  # the member's bell may come first
        update = frames[-1].json
        assert update["topic"] == f"service_request:{sr.reference}"
        assert update["data"]["status"] == Status.IN_REVIEW
        # Billing may not see requests; another customer's admin sees nothing of Acme's.
        assert billing.nothing_within(0.5)
        assert other_customer.nothing_within(0.1)
