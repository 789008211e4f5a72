from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class CoreConfig(AppConfig):
    name = "portal.core"
    label = "core"
    verbose_name = "Portal core"

    def ready(self) -> None:
        from .fragments import DELETES_WATCHED, row_changed

        # A saved row of a customer or a user, of any model, moves their fragment versions on.
        post_save.connect(row_changed, dispatch_uid="portal.core.fragments.save")
        # Deletes only of what fragments show: a delete receiver costs every bulk delete
        # of its model Django's fast path.
        for label in DELETES_WATCHED:
            post_delete.connect(
                row_changed, sender=label, dispatch_uid=f"portal.core.fragments.delete.{label}"
            )
