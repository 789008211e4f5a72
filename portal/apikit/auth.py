"""Who is calling the API: a personal access token, or a signed-in browser session.

A token acts as its owner's membership of one customer, with the permissions
the owner's role there grants today; read tokens may only read. A browser
session acts as the person, for every customer they belong to, and must send
the CSRF token with every change. Both count against the rate limits, and a
person whose organisation requires a second factor needs one to use the API.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from django.conf import settings
from django.http import Http404, HttpRequest
from ninja.errors import AuthenticationError
from ninja.security.apikey import APIKeyCookie
from ninja.security.http import HttpBearer
from ninja.utils import check_csrf

from portal.accounts.models import User
from portal.core.audit import client_ip
from portal.customers.models import Membership
from portal.customers.roles import Permission
from portal.tokens.models import PersonalAccessToken
from portal.tokens.secret import TOKEN_PREFIX

from . import throttle
from .problems import ApiProblem

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# A message, not a secret.
INVALID_TOKEN = "The token is not valid: unknown, expired, revoked, or its owner left its customer."  # noqa: S105, E501


@dataclass
class ApiPrincipal:
    """The caller of one API request, as endpoints see it (``request.auth``)."""

    user: User
    memberships: list[Membership]
    token: PersonalAccessToken | None = None

    @property
    def via(self) -> str:
        return "token" if self.token is not None else "session"

    @property
    def scopes(self) -> list[str]:
        return self.token.scopes if self.token is not None else ["read", "write"]

    @property
    def customer_ids(self) -> list[int]:
        return [m.customer_id for m in self.memberships]

    def membership(self, customer_id: int) -> Membership:
        """The caller's membership of ``customer_id``; 404 if they act for no such customer."""
        for membership in self.memberships:
            if membership.customer_id == customer_id:
                return membership
        raise Http404("No such customer.")

    def require(self, permission: Permission, customer_id: int) -> Membership:
        """The membership, if its role allows ``permission``: 404 for a stranger, 403 else."""
        membership = self.membership(customer_id)
        if not membership.allows(permission):
            raise ApiProblem(
                403,
                f"Your role in {membership.customer.name} does not allow this.",
                slug="permission-denied",
            )
        return membership

    def customers_allowing(self, permission: Permission) -> list[int]:
        return [m.customer_id for m in self.memberships if m.allows(permission)]

    def pick(self, permission: Permission, customer_id: int | None) -> Membership:
        """The membership an operation on one customer acts as.

        With ``customer_id``, that customer (404 if the caller does not act for it, 403
        if the role does not allow ``permission``). Without, the only customer the
        caller acts for (a token's), or the only one whose role allows it.
        """
        if customer_id is not None:
            return self.require(permission, customer_id)
        if len(self.memberships) == 1:
            return self.require(permission, self.memberships[0].customer_id)
        allowed = [m for m in self.memberships if m.allows(permission)]
        if len(allowed) == 1:
            return allowed[0]
        if not allowed:
            raise ApiProblem(403, "None of your roles allows this.", slug="permission-denied")
        raise ApiProblem(
            422,
            "You act for several customers: say which one with customer_id.",
            slug="validation-error",
            errors=[
                {
                    "in": "query",
                    "field": "customer_id",
                    "pointer": "",
                    "message": "Required when you act for several customers.",
                    "code": "missing",
                }
            ],
        )


def principal(request: HttpRequest) -> ApiPrincipal:
    """The authenticated caller of an API endpoint."""
    return cast(ApiPrincipal, request.auth)  # type: ignore[attr-defined]


def _count_client_address(request: HttpRequest) -> None:
    if getattr(request, "_portal_ip_counted", False):
        return
    request._portal_ip_counted = True  # type: ignore[attr-defined]
    if request.content_type == "multipart/form-data":
        # Before anything reads the body: an oversize file is dropped while it arrives.
        from portal.documents.uploads import limit_upload_size

        limit_upload_size(request)
    throttle.hit(f"ip:{client_ip(request) or 'unknown'}", settings.PORTAL_API_RATE_LIMIT_IP)


def _require_mfa_if_needed(request: HttpRequest) -> None:
    from allauth.mfa.utils import is_mfa_enabled

    from portal.accounts.middleware import mfa_required_for

    if mfa_required_for(request) and not is_mfa_enabled(request.user):
        raise ApiProblem(
            403,
            "Your organisation requires two-factor authentication. Set it up in the portal first.",
            slug="mfa-required",
        )


class TokenAuth(HttpBearer):
    """``Authorization: Bearer cpat_…``: a personal access token from the account pages."""

    openapi_description = (
        "A personal access token (`cpat_…`), created under Account → API tokens. It acts "
        "for one customer; read tokens may only use GET."
    )

    def __call__(self, request: HttpRequest) -> Any:
        # Every API call counts against its address first, so guessing tokens is slow too.
        _count_client_address(request)
        header = request.headers.get("Authorization")
        if not header:
            return None
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise AuthenticationError(
                message=f"Send the token as: Authorization: Bearer {TOKEN_PREFIX}…"
            )
        return self.authenticate(request, secret.strip())

    def authenticate(self, request: HttpRequest, token: str) -> ApiPrincipal:
        from portal.tokens.selectors import TokenRejected, token_authenticate
        from portal.tokens.services import token_refused, token_used

        try:
            pat, membership = token_authenticate(secret=token)
        except TokenRejected as rejected:
            if rejected.token is not None:
                token_refused(token=rejected.token, reason=rejected.reason, request=request)
            raise AuthenticationError(message=INVALID_TOKEN) from None
        throttle.hit(f"token:{pat.pk}", settings.PORTAL_API_RATE_LIMIT)
        request.user = pat.user
        token_used(token=pat, request=request)
        if request.method not in SAFE_METHODS and not pat.can_write:
            raise ApiProblem(
                403,
                "This token may only read. Create a token with read and write access to "
                "make changes.",
                slug="insufficient-scope",
            )
        _require_mfa_if_needed(request)
        return ApiPrincipal(user=pat.user, memberships=[membership], token=pat)


class SessionAuth(APIKeyCookie):
    """The browser's session cookie; changes need the ``X-CSRFToken`` header too."""

    param_name = settings.SESSION_COOKIE_NAME
    openapi_description = (
        "The portal's session cookie, for the browser (and this page's “Try it out”). "
        "Changes need the `X-CSRFToken` header with the `csrftoken` cookie's value."
    )

    def __call__(self, request: HttpRequest) -> Any:
        _count_client_address(request)
        return self.authenticate(request, None)

    def _get_key(self, request: HttpRequest) -> str | None:
        return request.COOKIES.get(self.param_name)

    def authenticate(self, request: HttpRequest, key: str | None) -> ApiPrincipal | None:
        from portal.customers.access import user_memberships

        user = request.user
        if not isinstance(user, User) or not user.is_authenticated or not user.is_active:
            return None
        if request.method not in SAFE_METHODS and check_csrf(request) is not None:
            raise ApiProblem(403, "", slug="csrf-failed")
        throttle.hit(f"user:{user.pk}", settings.PORTAL_API_RATE_LIMIT)
        _require_mfa_if_needed(request)
        return ApiPrincipal(user=user, memberships=list(user_memberships(request)))


token_auth = TokenAuth()
session_auth = SessionAuth()
