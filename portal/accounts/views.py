from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from . import selectors, services
from .forms import DeleteAccountForm, NotificationPreferencesForm, ProfileForm
from .models import User
from .request import signed_in_user

ACTIVITY_PAGE_SIZE = 25


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    form = ProfileForm(request.POST or None, instance=User.objects.get(pk=user.pk))
    if request.method == "POST" and form.is_valid():
        services.profile_update(user=user, data=form.cleaned_data, request=request)
        messages.success(request, _("Your profile has been saved."))
        return redirect("accounts:profile")
    return render(request, "accounts/profile.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def notifications(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    rows = selectors.notification_preferences(user=user)
    form = NotificationPreferencesForm(request.POST or None, rows=rows)
    if request.method == "POST" and form.is_valid():
        services.notification_preferences_set(user=user, choices=form.choices())
        messages.success(request, _("Your notification settings have been saved."))
        return redirect("accounts:notifications")
    return render(request, "accounts/notifications.html", {"form": form})


@login_required
def activity(request: HttpRequest) -> HttpResponse:
    page = Paginator(
        selectors.activity_for_user(user=signed_in_user(request)), ACTIVITY_PAGE_SIZE
    ).get_page(request.GET.get("page"))
    return render(request, "accounts/activity.html", {"page": page})


@login_required
def privacy(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/privacy.html", {"delete_form": DeleteAccountForm()})


@login_required
@require_POST
def export(request: HttpRequest) -> HttpResponse:
    data = services.account_export(user=signed_in_user(request), request=request)
    response = HttpResponse(
        json.dumps(data, indent=2, ensure_ascii=False), content_type="application/json"
    )
    stamp = timezone.now().strftime("%Y%m%d")
    response["Content-Disposition"] = f'attachment; filename="my-portal-data-{stamp}.json"'
    return response


@sensitive_post_parameters("password")
@login_required
@require_http_methods(["GET", "POST"])
def delete(request: HttpRequest) -> HttpResponse:
    form = DeleteAccountForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.account_delete(
                user=signed_in_user(request),
                password=form.cleaned_data["password"],
                request=request,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            logout(request)
            messages.success(request, _("Your account has been closed and your data anonymised."))
            return redirect("core:home")
    return render(request, "accounts/delete.html", {"delete_form": form})


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Django's language switch, which also remembers the choice in a signed-in profile."""
    from django.conf import settings
    from django.views.i18n import set_language as django_set_language

    language = request.POST.get("language", "")
    if request.user.is_authenticated and language in dict(settings.LANGUAGES):
        services.profile_update(
            user=signed_in_user(request), data={"preferred_language": language}, request=request
        )
    return django_set_language(request)
