"""The client's address behind trusted proxies, for the pages' WSGI server.

uvicorn puts the client's address from ``X-Forwarded-For`` into the request
when the connection comes from a proxy in ``FORWARDED_ALLOW_IPS`` (its
``--proxy-headers``), and takes the scheme from ``X-Forwarded-Proto`` only from
them; uWSGI, which serves the pages in production, passes both headers on as they
came. :class:`ForwardedClientMiddleware` does for the pages what uvicorn does for
the live stream, with the same setting and the same rule, so rate limits and the
audit log see the client and not nginx, and only a trusted proxy can say that a
request came over HTTPS (Django's ``SECURE_PROXY_SSL_HEADER``).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Iterable
from typing import Any

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# uvicorn's default: only a proxy on the same machine is believed.
DEFAULT_TRUSTED = "127.0.0.1"


def address_in(address: str | None, networks: Iterable[Network]) -> bool:
    """Whether ``address`` lies in one of ``networks`` (an IPv4 peer seen as IPv6 too)."""
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in networks)


def is_ip_address(value: str) -> bool:
    """Whether ``value`` is an IPv4 or IPv6 address (not a host name)."""
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


class TrustedProxies:
    """``FORWARDED_ALLOW_IPS``: addresses and networks separated by commas, or ``*``."""

    def __init__(self, value: str) -> None:
        entries = [entry.strip() for entry in value.split(",") if entry.strip()]
        self.everyone = "*" in entries
        self.networks: list[Network] = []
        for entry in entries:
            if entry == "*":
                continue
            try:
                self.networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                continue  # a host name or a Unix socket path: never a TCP peer's address

    def __contains__(self, address: str) -> bool:
        return self.everyone or address_in(address, self.networks)

    def client(self, forwarded_for: str) -> str | None:
        """The nearest address in the chain that is not one of ours (uvicorn's rule).

        Each proxy appends the address it was reached from, so the entries to the
        left of the last trusted one were written by the client and prove nothing.
        """
        hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
        client = next((hop for hop in reversed(hops) if hop not in self), hops[0] if hops else None)
        # Only an address: the audit log and the rate limits store it as one.
        return client if client is not None and is_ip_address(client) else None


class ForwardedClientMiddleware:
    """Sets ``REMOTE_ADDR`` from ``X-Forwarded-For`` when a trusted proxy sent the request;
    drops ``X-Forwarded-Proto`` when anyone else did."""

    def __init__(self, app: WSGIApp, trusted: str | None = None) -> None:
        self.app = app
        self.trusted = TrustedProxies(
            trusted
            if trusted is not None
            else os.environ.get("FORWARDED_ALLOW_IPS", DEFAULT_TRUSTED)
        )

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        forwarded_for = environ.get("HTTP_X_FORWARDED_FOR")
        if forwarded_for or "HTTP_X_FORWARDED_PROTO" in environ:
            if environ.get("REMOTE_ADDR", "") in self.trusted:
                client = self.trusted.client(forwarded_for) if forwarded_for else None
                if client:
                    environ["REMOTE_ADDR"] = client
            else:
                environ.pop("HTTP_X_FORWARDED_PROTO", None)
        return self.app(environ, start_response)
