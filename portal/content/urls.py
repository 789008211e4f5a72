from django.urls import path

from . import views

app_name = "content"

# search/ and suggest/ come first; those two ids are reserved (schema.RESERVED_IDS).
urlpatterns = [
    path("", views.index, name="index"),
    path("search/", views.search, name="search"),
    path("suggest/", views.suggest, name="suggest"),
    path("<slug:doc_id>/", views.page, name="page"),
]
