from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST, require_safe

from portal.accounts.request import signed_in_user

from . import selectors, services


@require_safe
@login_required
def notifications(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    page = Paginator(selectors.notifications_for_user(user=user), 25).get_page(
        request.GET.get("page")
    )
    return render(request, "live/notifications.html", {"page": page})


@require_POST
@login_required
def mark_read(request: HttpRequest) -> HttpResponse:
    """Mark one notification read (and follow its link), or all of them."""
    user = signed_in_user(request)
    raw_id = request.POST.get("notification", "")
    if raw_id.isdigit():
        services.notifications_mark_read(user=user, notification_ids=[int(raw_id)])
        target = selectors.notifications_for_user(user=user).filter(pk=int(raw_id)).first()
        if (
            target is not None
            and target.url
            and url_has_allowed_host_and_scheme(
                target.url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
            )
        ):
            return redirect(target.url)
    else:
        services.notifications_mark_read(user=user)
    return redirect("live:notifications")
