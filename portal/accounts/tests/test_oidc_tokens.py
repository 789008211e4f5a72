"""The ID token checks on their own, with keys made here."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from portal.accounts.oidc.tokens import IDTokenError, verify_id_token

ISSUER = "https://idp.example"
CLIENT = "portal"
NONCE = "n-0123456789"
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())


def _jwk(key: Any, kid: str, alg: str | None = None) -> dict[str, Any]:
    algorithm = jwt.algorithms.RSAAlgorithm if alg != "ES256" else jwt.algorithms.ECAlgorithm
    data: dict[str, Any] = algorithm.to_jwk(key.public_key(), as_dict=True)
    data["kid"] = kid
    if alg:
        data["alg"] = alg
    return data


JWKS = {"keys": [_jwk(RSA_KEY, "rsa-1", "RS256"), _jwk(EC_KEY, "ec-1", "ES256")]}


def _claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": CLIENT, "sub": "ada", "iat": now, "exp": now + 300}
    claims["nonce"] = NONCE
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _verify(token: str, jwks: dict[str, Any] = JWKS, **kwargs: Any) -> dict[str, Any]:
    options: dict[str, Any] = {"issuer": ISSUER, "client_id": CLIENT, "nonce": NONCE}
    options.update(kwargs)
    return verify_id_token(token, fetch_jwks=lambda: jwks, **options)


def test_a_good_token_in_rsa_and_ec() -> None:
    rsa_token = jwt.encode(_claims(), RSA_KEY, algorithm="RS256", headers={"kid": "rsa-1"})
    ec_token = jwt.encode(_claims(), EC_KEY, algorithm="ES256", headers={"kid": "ec-1"})
    assert _verify(rsa_token)["sub"] == _verify(ec_token)["sub"] == "ada"


def test_a_token_without_kid_is_fine_when_only_one_key_is_published() -> None:
    token = jwt.encode(_claims(), RSA_KEY, algorithm="RS256")
    assert _verify(token, {"keys": [JWKS["keys"][0]]})["sub"] == "ada"
    with pytest.raises(IDTokenError, match="publishes several"):
        _verify(token)


def _rs256(claims: dict[str, Any], kid: str = "rsa-1") -> str:
    return jwt.encode(claims, RSA_KEY, algorithm="RS256", headers={"kid": kid})


# Tokens are made when the test runs (not at collection): their times matter.
REFUSED: dict[str, tuple[Callable[[], str], str]] = {
    "hs256": (
        lambda: jwt.encode(_claims(), "a client secret used as a signing key", algorithm="HS256"),
        "'HS256' is not",
    ),
    "none": (lambda: jwt.encode(_claims(), "", algorithm="none"), "'none' is not"),
    "unknown-kid": (lambda: _rs256(_claims(), kid="gone"), "no published key"),
    # An EC token pointing at the RSA key: the key says RS256.
    "alg-mismatch": (
        lambda: jwt.encode(_claims(), EC_KEY, algorithm="ES256", headers={"kid": "rsa-1"}),
        "is for RS256",
    ),
    "no-sub": (lambda: _rs256(_claims(sub=None)), 'missing the "sub" claim'),
    "no-nonce": (lambda: _rs256(_claims(nonce=None)), "nonce does not match"),
    "expired": (lambda: _rs256(_claims(exp=int(time.time()) - 31)), "expired"),
    "junk": (lambda: "not-a-token", "unreadable header"),
}


@pytest.mark.parametrize("case", REFUSED)
def test_what_is_refused(case: str) -> None:
    make_token, message = REFUSED[case]
    with pytest.raises(IDTokenError, match=message):
        _verify(make_token())


def test_the_providers_announced_algorithms_narrow_the_choice() -> None:
    token = jwt.encode(_claims(), EC_KEY, algorithm="ES256", headers={"kid": "ec-1"})
    with pytest.raises(IDTokenError, match="is not accepted"):
        _verify(token, algorithms=["RS256"])


def test_a_sign_in_without_our_nonce_accepts_no_token() -> None:
    token = jwt.encode(_claims(), RSA_KEY, algorithm="RS256", headers={"kid": "rsa-1"})
    with pytest.raises(IDTokenError, match="no nonce"):
        _verify(token, nonce=None)
