from django.apps import AppConfig


class ApiKitConfig(AppConfig):
    """The API's shared machinery: authentication, errors, pagination, limits, docs."""

    name = "portal.apikit"
    label = "apikit"
    verbose_name = "API"
