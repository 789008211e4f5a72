from django.urls import path

from . import views

app_name = "servicedesk"

urlpatterns = [
    path("", views.request_list, name="list"),
    path("new/", views.catalog, name="catalog"),
    path("new/<slug:slug>/", views.submit, name="submit"),
    path("new/<slug:slug>/discard-draft/", views.draft_discard, name="draft_discard"),
    path("<str:reference>/", views.detail, name="detail"),
    path("<str:reference>/submitted/", views.submitted, name="submitted"),
    path("<str:reference>/status/", views.transition, name="transition"),
    path("<str:reference>/rating/", views.rate, name="rate"),
    path("<str:reference>/files/<int:attachment_id>/", views.attachment, name="attachment"),
]
