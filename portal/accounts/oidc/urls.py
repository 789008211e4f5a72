"""Mounted by allauth (it includes ``<provider package>.urls``) under /accounts/.

The same paths and names as allauth's openid_connect URLs, served by the
portal's views.
"""

from allauth.socialaccount import app_settings
from django.urls import include, path

from . import views

urlpatterns = [
    path(
        f"{app_settings.OPENID_CONNECT_URL_PREFIX}/<str:provider_id>/",
        include(
            [
                path("login/", views.login, name="openid_connect_login"),
                path("login/callback/", views.callback, name="openid_connect_callback"),
            ]
        ),
    )
]
