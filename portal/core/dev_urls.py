"""Development-only pages. Not mounted with PORTAL_ENV=production."""

from django.urls import path

from . import dev_views

app_name = "dev"

urlpatterns = [
    path("", dev_views.outbox, name="outbox"),
    path("<str:message_id>/", dev_views.outbox_detail, name="outbox_detail"),
]
