from django.urls import path

from . import views

app_name = "customers"

urlpatterns = [
    path("switch/", views.switch, name="switch"),
    path("members/", views.members, name="members"),
    path("members/<int:membership_id>/role/", views.member_role, name="member_role"),
    path("members/<int:membership_id>/remove/", views.member_remove, name="member_remove"),
    path(
        "invitations/<int:invitation_id>/revoke/", views.invitation_revoke, name="invitation_revoke"
    ),
    path("security/", views.security, name="security"),
    path("activity/", views.activity, name="activity"),
    # The link in the invitation e-mail; works signed out too.
    path("invitations/accept/<str:token>/", views.invitation_accept, name="invitation_accept"),
]
