from allauth.account.decorators import secure_admin_login
from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from portal.accounts import views as account_views
from portal.api import api
from portal.apikit import views as api_views

admin.site.site_header = _("Customer Portal — back office")
admin.site.site_title = _("Customer Portal back office")
# The back office signs people in through the portal's own sign-in (with its
# second factor and throttling), never through the admin's plain login form.
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]

# Error pages are the templates 400.html, 403.html, 404.html, 500.html and 503.html;
# under /api/ they are problem documents (application/problem+json) instead.
handler404 = "portal.apikit.views.handler404"
handler500 = "portal.apikit.views.handler500"

urlpatterns = [
    path("", include("portal.core.urls")),
    path("accounts/", include("portal.accounts.urls")),
    path("accounts/tokens/", include("portal.tokens.urls")),
    path("accounts/", include("allauth.urls")),
    path("customer/", include("portal.customers.urls")),
    path("notifications/", include("portal.live.urls")),
    path("requests/", include("portal.servicedesk.urls")),
    path("pages/", include("portal.content.urls")),
    path("api/v1/docs", api_views.docs, name="api_docs"),
    path("api/v1/problems/<slug:slug>", api_views.problem_type, name="api_problem_type"),
    path("api/v1/", api.urls),
    path("documents/", include("portal.documents.urls")),
    path("billing/", include("portal.billing.urls")),
    path("i18n/setlang/", account_views.set_language, name="set_language"),
    path("backoffice/", admin.site.urls),
]

if not settings.PRODUCTION:
    urlpatterns.append(path("dev/outbox/", include("portal.core.dev_urls")))
