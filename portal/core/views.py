from __future__ import annotations

import logging
import sys

from django.contrib.auth.decorators import login_required
from django.db import DatabaseError, InterfaceError, OperationalError, connections
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template import loader
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from portal.customers.access import active_membership

from .dashboard import dashboard_cards_html, dashboard_cards_key
from .fragments import cached_page

logger = logging.getLogger(__name__)


@require_safe
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers. Touches no database or other service."""
    return JsonResponse({"status": "ok"})


@require_safe
@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: this node can serve pages, i.e. its database answers."""
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        logger.warning("readiness check failed: database unavailable", exc_info=True)
        return JsonResponse({"status": "unavailable", "database": "unavailable"}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("core:dashboard")
    return render(request, "core/home.html")


@require_safe
@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    # The page around the cards shows only the user's own data (the header's memberships
    # and unread count): it stays cached while the customer's requests change.
    membership = active_membership(request)
    return cached_page(
        request,
        "core/dashboard.html",
        dict,
        parts={"cards": lambda: dashboard_cards_html(request)},
        parts_customers=[membership.customer_id] if membership is not None else [],
        parts_keys=[dashboard_cards_key(request)],
    )


def server_error(request: HttpRequest) -> HttpResponse:
    """The 500 handler; a database that cannot be reached is a 503, "try again soon".

    Rendered without a request context: nothing here may need the database.
    """
    error = sys.exc_info()[1]
    if isinstance(error, OperationalError | InterfaceError):
        body = loader.get_template("503.html").render()
        response = HttpResponse(body, status=503)
        response["Retry-After"] = "30"
        return response
    return HttpResponse(loader.get_template("500.html").render(), status=500)
