from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "portal.billing"
    label = "billing"
    verbose_name = "Invoices and payments"

    def ready(self) -> None:
        from . import dashboard  # noqa: F401 - registers the dashboard card
