from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from portal.accounts.request import signed_in_user

from . import selectors, services
from .forms import TokenForm
from .models import TokenScope


@login_required
@require_http_methods(["GET", "POST"])
def tokens(request: HttpRequest) -> HttpResponse:
    """The person's tokens, and the form to make one.

    A new token's secret is shown in the answer to the form, once: it is not
    stored, not put in the session or a message, and the page is not cached.
    """
    user = signed_in_user(request)
    if _needs_mfa_first(request):
        messages.warning(
            request, _("Set up two-factor authentication first: your organisation requires it.")
        )
        return redirect("mfa_index")
    form = TokenForm(request.POST or None, user=user)
    created = secret = None
    if request.method == "POST" and form.is_valid():
        try:
            created, secret = services.token_create(
                user=user,
                customer=form.cleaned_data["customer"],
                name=form.cleaned_data["name"],
                scope=TokenScope(form.cleaned_data["scope"]),
                expires_in_days=form.cleaned_data["expires_in_days"],
                request=request,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            form = TokenForm(user=user)
    response = render(
        request,
        "tokens/tokens.html",
        {
            "form": form,
            "tokens": selectors.tokens_for_user(user=user),
            "created": created,
            "secret": secret,
            "has_customers": form.fields["customer"].queryset.exists(),  # type: ignore[attr-defined]
        },
        status=201 if created is not None else 200,
    )
    add_never_cache_headers(response)
    return response


def _needs_mfa_first(request: HttpRequest) -> bool:
    # /accounts/ pages stay open without a second factor so people can set one up;
    # a token is a way into everything else, so it needs what the pages need.
    from allauth.mfa.utils import is_mfa_enabled

    from portal.accounts.middleware import mfa_required_for

    return mfa_required_for(request) and not is_mfa_enabled(request.user)


@login_required
@require_POST
def revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    user = signed_in_user(request)
    token = selectors.token_get_for_user(user=user, token_id=token_id)
    services.token_revoke(token=token, actor=user, request=request)
    messages.success(request, _("The token “%(name)s” has been revoked.") % {"name": token.name})
    return redirect("tokens:list")
