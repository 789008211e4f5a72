"""Sign-in through the organisation's OpenID Connect identity providers.

Built on django-allauth's ``openid_connect`` provider, with what it leaves out
added here: the nonce, the ID token's signature checked against the provider's
published keys on every sign-in, the issuer of the discovery document checked,
RP-initiated sign-out, and the portal's rules for linking accounts and mapping
people to customers. Configured from ``PORTAL_OIDC_PROVIDERS`` (see config.py
and docs/configuration.md).
"""
