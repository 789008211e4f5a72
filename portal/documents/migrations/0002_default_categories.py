from typing import Any

from django.db import migrations

DEFAULTS = [
    ("contracts", "Contracts"),
    ("statements", "Statements"),
    ("forms", "Forms"),
    ("certificates", "Certificates"),
    ("photos", "Photos"),
    ("correspondence", "Correspondence"),
    ("other", "Other"),
]


def add_defaults(apps: Any, schema_editor: Any) -> None:
    Category = apps.get_model("documents", "Category")
    for position, (slug, name) in enumerate(DEFAULTS):
        Category.objects.get_or_create(slug=slug, defaults={"name": name, "position": position})


class Migration(migrations.Migration):
    dependencies = [("documents", "0001_initial")]

    operations = [migrations.RunPython(add_defaults, migrations.RunPython.noop)]
