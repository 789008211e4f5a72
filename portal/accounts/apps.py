from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "portal.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from . import (
            signals,  # noqa: F401 - connects the audit receivers
            totp,
            user_cache,
        )

        totp.install()
        user_cache.install()
