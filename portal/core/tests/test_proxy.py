"""The client's address and scheme behind trusted proxies (portal/core/proxy.py), as the pages
are served in production (uWSGI passes the headers on as they came)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest

from portal.core.proxy import ForwardedClientMiddleware, TrustedProxies


def seen_address(trusted: str, peer: str, forwarded_for: str | None) -> str:
    """REMOTE_ADDR as the application behind the middleware sees it."""
    seen: dict[str, str] = {}

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        seen["address"] = environ["REMOTE_ADDR"]
        return [b""]

    environ = {"REMOTE_ADDR": peer}
    if forwarded_for is not None:
        environ["HTTP_X_FORWARDED_FOR"] = forwarded_for
    ForwardedClientMiddleware(app, trusted=trusted)(environ, lambda *args: None)
    return seen["address"]


def test_a_trusted_proxy_gives_the_client_address() -> None:
    assert seen_address("127.0.0.1", "127.0.0.1", "203.0.113.7") == "203.0.113.7"


def test_an_untrusted_peer_cannot_claim_another_address() -> None:
    assert seen_address("127.0.0.1", "198.51.100.9", "203.0.113.7") == "198.51.100.9"


def test_entries_the_client_wrote_before_the_proxy_are_ignored() -> None:
    # The client sent "X-Forwarded-For: 10.0.0.1"; nginx appended the address it saw.
    assert seen_address("127.0.0.1", "127.0.0.1", "10.0.0.1, 203.0.113.7") == "203.0.113.7"


def test_a_chain_of_trusted_proxies_is_walked_back_to_the_client() -> None:
    forwarded = "203.0.113.7, 10.0.0.5"  # the client, then a trusted load balancer
    assert seen_address("127.0.0.1,10.0.0.0/24", "127.0.0.1", forwarded) == "203.0.113.7"


def test_a_hop_that_is_no_address_leaves_the_peer() -> None:
    # Only reachable when every proxy is trusted, but never a value the audit log refuses.
    assert seen_address("*", "127.0.0.1", "<script>, unknown") == "127.0.0.1"
    assert seen_address("127.0.0.1", "127.0.0.1", "unknown") == "127.0.0.1"


def test_without_the_header_the_peer_stays() -> None:
    assert seen_address("127.0.0.1", "127.0.0.1", None) == "127.0.0.1"
    assert seen_address("127.0.0.1", "127.0.0.1", " , ") == "127.0.0.1"


def test_everyone_trusted_takes_the_first_hop() -> None:
    # "*" (uvicorn's meaning too): every proxy is believed, so the chain's start is the client.
    assert seen_address("*", "198.51.100.9", "203.0.113.7, 10.0.0.5") == "203.0.113.7"


@pytest.mark.parametrize(
    ("value", "address", "trusted"),
    [
        ("127.0.0.1", "127.0.0.1", True),
        ("127.0.0.1", "::ffff:127.0.0.1", True),  # IPv4 peer on a dual-stack socket
        ("127.0.0.1", "127.0.0.2", False),
        ("10.0.0.0/8, ::1", "::1", True),
        ("10.0.0.0/8", "10.200.3.4", True),
        ("proxy.internal, 10.0.0.1", "10.0.0.1", True),  # a name is skipped, not fatal
        ("", "127.0.0.1", False),
        ("127.0.0.1", "not an address", False),
    ],
)
def test_trusted_proxies_setting(value: str, address: str, trusted: bool) -> None:
    assert (address in TrustedProxies(value)) is trusted


def test_the_default_trusts_only_this_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    middleware = ForwardedClientMiddleware(lambda environ, start_response: [b""])
    assert "127.0.0.1" in middleware.trusted
    assert "10.0.0.1" not in middleware.trusted


def seen_scheme_header(peer: str, forwarded_for: str | None = None) -> str | None:
    """X-Forwarded-Proto as the application behind the middleware sees it, sent as https."""
    seen: dict[str, str | None] = {}

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        seen["proto"] = environ.get("HTTP_X_FORWARDED_PROTO")
        return [b""]

    environ = {"REMOTE_ADDR": peer, "HTTP_X_FORWARDED_PROTO": "https"}
    if forwarded_for is not None:
        environ["HTTP_X_FORWARDED_FOR"] = forwarded_for
    ForwardedClientMiddleware(app, trusted="127.0.0.1")(environ, lambda *args: None)
    return seen["proto"]


def test_only_a_trusted_proxy_can_say_the_request_came_over_https() -> None:
    # Django believes the header (SECURE_PROXY_SSL_HEADER); only nginx may set it.
    assert seen_scheme_header("127.0.0.1") == "https"
    assert seen_scheme_header("127.0.0.1", "203.0.113.7") == "https"
    assert seen_scheme_header("198.51.100.9") is None
    assert seen_scheme_header("198.51.100.9", "203.0.113.7") is None
