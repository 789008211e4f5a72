"""The ID token checks on their own, with keys made here."""

from __future__ import annotations

import time
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


@pytest.mark.parametrize(
    ("token", "message"),
    [
        (
            jwt.encode(_claims(), "a client secret used as a signing key", algorithm="HS256"),
            "'HS256' is not",
        ),
        (jwt.encode(_claims(), "", algorithm="none"), "'none' is not"),
        (
            jwt.encode(_claims(), RSA_KEY, algorithm="RS256", headers={"kid": "gone"}),
            "no published key",
        ),
        # An EC token pointing at the RSA key: the key says RS256.
        (
            jwt.encode(_claims(), EC_KEY, algorithm="ES256", headers={"kid": "rsa-1"}),
            "is for RS256",
        ),
        (
            jwt.encode(_claims(sub=None), RSA_KEY, algorithm="RS256", headers={"kid": "rsa-1"}),
            'missing the "sub" claim',
        ),
        (
            jwt.encode(_claims(nonce=None), RSA_KEY, algorithm="RS256", headers={"kid": "rsa-1"}),
            "nonce does not match",
        ),
        (
            jwt.encode(
                _claims(exp=int(time.time()) - 31),
                RSA_KEY,
                algorithm="RS256",
                headers={"kid": "rsa-1"},
            ),
            "expired",
        ),
        ("not-a-token", "unreadable header"),
    ],
    ids=["hs256", "none", "unknown-kid", "alg-mismatch", "no-sub", "no-nonce", "expired", "junk"],
)
def test_what_is_refused(token: str, message: str) -> None:
    with pytest.raises(IDTokenError, match=message):
        _verify(token)


def test_the_providers_announced_algorithms_narrow_the_choice() -> None:
    token = jwt.encode(_claims(), EC_KEY, algorithm="ES256", headers={"kid": "ec-1"})
    with pytest.raises(IDTokenError, match="is not accepted"):
        _verify(token, algorithms=["RS256"])


def test_a_sign_in_without_our_nonce_accepts_no_token() -> None:
    token = jwt.encode(_claims(), RSA_KEY, algorithm="RS256", headers={"kid": "rsa-1"})
    with pytest.raises(IDTokenError, match="no nonce"):
        _verify(token, nonce=None)
