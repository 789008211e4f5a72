from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    name = "portal.documents"
    label = "documents"
    verbose_name = "Documents"

    def ready(self) -> None:
        from . import checks, dashboard  # noqa: F401 - registers the card and the checks
