from django.urls import path

from . import views

app_name = "documents"

urlpatterns = [
    path("", views.library, name="library"),
    path("upload/", views.upload, name="upload"),
    path("trash/", views.trash, name="trash"),
    path("<int:document_id>/", views.detail, name="detail"),
    path("<int:document_id>/edit/", views.edit, name="edit"),
    path("<int:document_id>/versions/", views.version_upload, name="version_upload"),
    path("<int:document_id>/versions/<int:number>/download/", views.download, name="download"),
    path("<int:document_id>/delete/", views.delete, name="delete"),
    path("<int:document_id>/restore/", views.restore, name="restore"),
]
