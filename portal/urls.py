from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "Customer Portal — back office"
admin.site.site_title = "Customer Portal back office"

# Error pages are the templates 400.html, 403.html, 404.html and 500.html.
urlpatterns = [
    path("", include("portal.core.urls")),
    path("accounts/", include("allauth.urls")),
    path("backoffice/", admin.site.urls),
]
