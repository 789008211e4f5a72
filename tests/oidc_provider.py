"""A real OpenID Connect provider for tests: oidc-provider-mock on a loopback port.

The provider runs in a thread of the test process and speaks HTTP on
127.0.0.1 only. On top of the mock it can (for one test at a time):

- rewrite the ID token its token endpoint returns: expired but properly
  signed, or signed by a key it does not publish; both are test-only
  alterations of a real response, made in the provider's own request cycle;
- record the requests it received (to check PKCE and the nonce).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import flask
import httpx
import jwt
import oidc_provider_mock
import werkzeug.serving
from cryptography.hazmat.primitives.asymmetric import rsa

# The provider as the `oidc` fixture configures it, and the customer its
# "groups" claim maps to (tests that need it create it with this number).
TEST_IDP_ID = "test-idp"
TEST_IDP_CUSTOMER = "C-900001"


@dataclass
class Received:
    path: str
    args: dict[str, str]
    form: dict[str, str]


@dataclass
class _Controls:
    # None; "resign" (the ID token with extra claims, signed properly),
    # "expired", "foreign_key" (the ID token); "wrong_issuer", "far_sign_out"
    # (discovery);
    # "userinfo_other_sub" (userinfo)
    tamper: str | None = None
    extra_id_token_claims: dict[str, Any] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    altered: int = 0  # responses actually altered


class LocalOIDCProvider:
    """oidc-provider-mock served by werkzeug on 127.0.0.1, started and stopped with ``with``."""

    def __init__(self) -> None:
        self.controls = _Controls()
        self._foreign_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        app = oidc_provider_mock.app(require_nonce=True, issue_refresh_token=False)
        app.before_request(self._record)
        app.after_request(self._tamper)
        self._server = werkzeug.serving.make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        # One client for the whole run: a new one per call costs a TLS context.
        self.http = httpx.Client(timeout=5)

    def __enter__(self) -> LocalOIDCProvider:
        self._thread.start()
        deadline = time.monotonic() + 10
        while True:
            try:
                self.http.get(self.url + "/.well-known/openid-configuration")
                return self
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.http.close()
        self._server.shutdown()
        self._thread.join(timeout=5)
        self._server.server_close()

    # --- what tests use ---------------------------------------------------------

    def reset(self) -> None:
        self.controls = _Controls()

    def set_user(self, sub: str, **claims: Any) -> None:
        """Create or replace the person ``sub`` with these claims (email, email_verified...)."""
        response = self.http.put(f"{self.url}/users/{sub}", json=claims)
        response.raise_for_status()

    def authorize(self, authorize_url: str, sub: str) -> str:
        """Play the person at the provider's page: approve as ``sub``; returns the redirect."""
        assert authorize_url.startswith(self.url + "/"), authorize_url
        response = self.http.post(authorize_url, data={"sub": sub})
        assert response.status_code == 302, response.text
        return response.headers["location"]

    @contextmanager
    def tampering(self, how: str, **extra_claims: Any) -> Iterator[None]:
        self.controls.tamper = how
        self.controls.extra_id_token_claims = extra_claims
        try:
            yield
        finally:
            self.controls.tamper = None
            self.controls.extra_id_token_claims = {}

    def received(self, path: str) -> list[Received]:
        return [r for r in self.controls.received if r.path == path]

    # --- inside the provider's request cycle ---------------------------------------

    def _record(self) -> None:
        request = flask.request
        self.controls.received.append(
            Received(
                path=request.path,
                args={k: v for k, v in request.args.items()},
                form={k: v for k, v in request.form.items()},
            )
        )

    def _tamper(self, response: flask.Response) -> flask.Response:
        controls = self.controls
        path = flask.request.path
        if response.status_code != 200 or (
            controls.tamper is None and not controls.extra_id_token_claims
        ):
            return response
        body = json.loads(response.get_data())
        if path == "/.well-known/openid-configuration" and controls.tamper == "wrong_issuer":
            body["issuer"] = "https://impostor.invalid"
            controls.altered += 1
        elif path == "/.well-known/openid-configuration" and controls.tamper == "far_sign_out":
            body["end_session_endpoint"] = "https://elsewhere.invalid/logout"
            controls.altered += 1
        elif path == "/userinfo" and controls.tamper == "userinfo_other_sub":
            body["sub"] = "someone-else"
            controls.altered += 1
        elif path == "/oauth2/token" and (
            controls.tamper in {"resign", "expired", "foreign_key"}
            or controls.extra_id_token_claims
        ):
            body["id_token"] = self._altered_id_token(body["id_token"])
        else:
            return response
        response.set_data(json.dumps(body))
        return response

    def _altered_id_token(self, id_token: str) -> str:
        controls = self.controls
        claims = jwt.decode(id_token, options={"verify_signature": False})
        claims.update(controls.extra_id_token_claims)
        header = jwt.get_unverified_header(id_token)
        storage = flask.g.oidc_provider_mock_storage
        key: Any = storage.jwk.get_private_key()
        if controls.tamper == "expired":
            claims["iat"] = int(time.time()) - 3600
            claims["exp"] = int(time.time()) - 600
        elif controls.tamper == "foreign_key":
            key = self._foreign_key
        # The same header (kid, if any), another key: what a forger would send.
        headers = {k: v for k, v in header.items() if k not in {"alg", "typ"}}
        controls.altered += 1
        return jwt.encode(claims, key, algorithm="RS256", headers=headers)


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def path_and_query(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path
