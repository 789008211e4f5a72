from django.apps import AppConfig


class ServiceDeskConfig(AppConfig):
    name = "portal.servicedesk"
    label = "servicedesk"
    verbose_name = "Service desk"

    def ready(self) -> None:
        from . import dashboard  # noqa: F401 - registers the dashboard card
