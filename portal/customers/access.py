"""The active customer of a request, and the decorator customer pages use.

A user may belong to several customers; the one they act for is kept in the
session and switched in the header. Every customer page resolves it here.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse

from portal.core.fragments import cached_fragment, versions

from .models import Membership
from .roles import Permission
from .selectors import memberships_for_user

SESSION_KEY = "active_customer_id"
_NOT_LOADED = object()

View = TypeVar("View", bound=Callable[..., HttpResponse])


def user_memberships(request: HttpRequest) -> list[Membership]:
    """The user's memberships, once per request, from the cache until one changes
    (a membership or its customer saved moves the user's version on)."""
    cached = getattr(request, "_portal_memberships", _NOT_LOADED)
    if cached is _NOT_LOADED:
        user = request.user
        cached = (
            cached_fragment(
                f"memberships:{user.pk}:{versions(request, users=[user.pk])}",
                lambda: list(memberships_for_user(user=user)),
                local=True,
            )
            if user.is_authenticated
            else []
        )
        request._portal_memberships = cached  # type: ignore[attr-defined]
    return cast(list[Membership], cached)


def active_membership(request: HttpRequest) -> Membership | None:
    memberships = user_memberships(request)
    if not memberships:
        return None
    wanted = request.session.get(SESSION_KEY)
    for membership in memberships:
        if membership.customer_id == wanted:
            return membership
    return memberships[0]


def set_active_customer(request: HttpRequest, customer_id: int) -> Membership:
    # Read afresh: the membership may have been created during this request.
    membership = (
        memberships_for_user(user=request.user)  # type: ignore[arg-type]
        .filter(customer_id=customer_id)
        .first()
    )
    if membership is None:
        raise Http404("No such customer.")
    request.session[SESSION_KEY] = customer_id
    request.__dict__.pop("_portal_memberships", None)
    return membership


def customer_permission_required(permission: Permission) -> Callable[[View], View]:
    """Require a signed-in member of a customer whose role allows ``permission``.

    Sets ``request.membership`` for the view. Someone with no customer gets a
    404; a member whose role does not allow it gets a 403.
    """

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            membership = active_membership(request)
            if membership is None:
                raise Http404("No customer.")
            if not membership.allows(permission):
                # For the log line of the refusal (portal.core.middleware).
                request.denied_permission = permission.value  # type: ignore[attr-defined]
                raise PermissionDenied
            request.membership = membership  # type: ignore[attr-defined]
            return view(request, *args, **kwargs)

        return cast(View, login_required(wrapped))

    return decorator
