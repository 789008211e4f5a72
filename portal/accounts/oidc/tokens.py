"""Checking an ID token: signature against the provider's published keys, then claims.

django-allauth 65 skips the signature of an ID token that came straight from
the token endpoint (the specification allows that over TLS). The portal checks
it anyway, on every sign-in: a compromised or mis-routed token endpoint, or a
TLS-terminating proxy in between, must not be able to sign people in.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from typing import Any

# Asymmetric algorithms only: a symmetric one would make the client secret a
# signing key, and "none" is no signature at all.
ALLOWED_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
# Clocks drift a little between the provider and the portal.
LEEWAY_SECONDS = 30


class IDTokenError(Exception):
    """The ID token must not be accepted; the message says why (for the log only)."""


def _signing_key(token: str, jwks: dict[str, Any], algorithms: frozenset[str]) -> tuple[Any, str]:
    import jwt

    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise IDTokenError(f"unreadable header: {exc}") from exc
    alg = header.get("alg")
    if alg not in algorithms:
        raise IDTokenError(f"algorithm {alg!r} is not accepted")
    keys = [k for k in jwks.get("keys", []) if isinstance(k, dict) and k.get("use", "sig") == "sig"]
    kid = header.get("kid")
    if kid is not None:
        keys = [k for k in keys if k.get("kid") == kid]
    elif len(keys) != 1:
        raise IDTokenError("the token names no key and the provider publishes several")
    if not keys:
        raise IDTokenError(f"no published key with id {kid!r}")
    jwk = keys[0]
    if jwk.get("alg") not in (None, alg):
        raise IDTokenError(f"key {kid!r} is for {jwk.get('alg')}, the token says {alg}")
    try:
        return jwt.PyJWK(jwk, algorithm=alg).key, alg
    except jwt.PyJWTError as exc:
        raise IDTokenError(f"unusable published key: {exc}") from exc


def verify_id_token(
    token: str,
    *,
    fetch_jwks: Callable[[], dict[str, Any]],
    issuer: str,
    client_id: str,
    nonce: str | None,
    algorithms: list[str] | None = None,
) -> dict[str, Any]:
    """The claims of ``token`` once every check passed; IDTokenError otherwise.

    Checks (OpenID Connect Core 1.0, 3.1.3.7): signature by a key from the
    provider's JWKS, an accepted algorithm, ``iss``, ``aud`` (and ``azp``
    when there are several audiences), ``exp``, ``iat``, ``sub`` and the
    ``nonce`` this sign-in sent.
    """
    # PyJWT (and cryptography under it) load on the first sign-in, not at
    # start-up: every process, workers and one-off commands, starts faster.
    import jwt

    accepted = ALLOWED_ALGORITHMS
    if algorithms:
        accepted = accepted & set(algorithms)
    try:
        jwks = fetch_jwks()
    except (ValueError, json.JSONDecodeError) as exc:
        raise IDTokenError(f"unreadable JWKS: {exc}") from exc
    key, alg = _signing_key(token, jwks, accepted)
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key=key,
            algorithms=[alg],
            audience=client_id,
            issuer=issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": ["iss", "sub", "aud", "exp", "iat"]},
        )
    except jwt.PyJWTError as exc:
        raise IDTokenError(f"rejected: {exc}") from exc
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if len(audiences) > 1 and claims.get("azp") != client_id:
        raise IDTokenError("several audiences and azp is not this client")
    if not isinstance(claims["sub"], str) or not claims["sub"]:
        raise IDTokenError("no subject")
    if nonce is None:
        raise IDTokenError("this sign-in has no nonce to compare with")
    received = claims.get("nonce")
    if not isinstance(received, str) or not hmac.compare_digest(received, nonce):
        raise IDTokenError("nonce does not match this sign-in")
    return claims
