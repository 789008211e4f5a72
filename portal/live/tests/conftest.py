from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from portal.customers.roles import Role
from portal.customers.tests.factories import make_customer, make_member


@pytest.fixture
def two_customers() -> dict[str, Any]:
    acme, other = make_customer("Acme Ltd"), make_customer("Other plc")
    return {
        "acme": acme,
        "other": other,
        "member": make_member(acme, Role.MEMBER),
        "billing": make_member(acme, Role.BILLING),
        "stranger": make_member(other, Role.ADMIN),
    }


@pytest.fixture(params=["handed-off", "asgi"])
def both_paths(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Runs a test with the stream handed off to the hub (our uvicorn protocol) and
    without (what any other ASGI server gets): uvicorn's own protocol offers no hand-off."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    from portal.live.protocol import LiveHttpProtocol

    if request.param == "asgi":
        monkeypatch.setattr(
            LiveHttpProtocol, "on_headers_complete", HttpToolsProtocol.on_headers_complete
        )
    yield request.param
