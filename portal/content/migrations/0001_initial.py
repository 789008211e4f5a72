import django.contrib.postgres.search
import django.db.models.deletion
from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

# Full-text search lives outside the ORM: an FTS5 table on SQLite, a GIN index on
# the tsvector column on PostgreSQL (see portal/content/search/).


def create_search_index(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        schema_editor.execute(
            "CREATE VIRTUAL TABLE content_contentpage_fts USING fts5("
            "doc_id UNINDEXED, title, body, tokenize='porter unicode61 remove_diacritics 2')"
        )
    elif vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX content_contentpage_search_gin ON content_contentpage "
            "USING gin (search_vector)"
        )


def drop_search_index(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        schema_editor.execute("DROP TABLE IF EXISTS content_contentpage_fts")
    elif vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS content_contentpage_search_gin")


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="ContentIndexState",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("fingerprint", models.CharField(blank=True, max_length=64)),
                ("directory", models.CharField(blank=True, max_length=500)),
                ("synced_at", models.DateTimeField(blank=True, null=True)),
                ("problems", models.JSONField(default=list)),
            ],
        ),
        migrations.CreateModel(
            name="ContentPage",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("doc_id", models.CharField(max_length=100, unique=True, verbose_name="id")),
                ("title", models.CharField(max_length=300, verbose_name="title")),
                ("owner", models.CharField(max_length=200, verbose_name="owner")),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("draft", "Draft"),
                            ("review", "In review"),
                            ("production", "Published"),
                            ("deprecated", "Deprecated"),
                            ("retired", "Retired"),
                        ],
                        max_length=20,
                        verbose_name="status",
                    ),
                ),
                ("version", models.CharField(max_length=50, verbose_name="version")),
                ("last_updated", models.DateField(verbose_name="last updated")),
                (
                    "review_cycle",
                    models.CharField(blank=True, max_length=50, verbose_name="review cycle"),
                ),
                (
                    "next_review",
                    models.DateField(blank=True, null=True, verbose_name="next review"),
                ),
                ("tags", models.JSONField(default=list, verbose_name="tags")),
                ("is_public", models.BooleanField(default=False, verbose_name="public")),
                (
                    "archimate_type",
                    models.CharField(blank=True, max_length=100, verbose_name="ArchiMate type"),
                ),
                (
                    "archimate_layer",
                    models.CharField(blank=True, max_length=100, verbose_name="ArchiMate layer"),
                ),
                (
                    "criticality",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("low", "Low"),
                            ("medium", "Medium"),
                            ("high", "High"),
                            ("critical", "Critical"),
                        ],
                        max_length=20,
                        verbose_name="criticality",
                    ),
                ),
                (
                    "lifecycle_phase",
                    models.CharField(blank=True, max_length=100, verbose_name="lifecycle phase"),
                ),
                ("properties", models.JSONField(default=dict, verbose_name="properties")),
                ("source_path", models.CharField(max_length=500, verbose_name="file")),
                ("summary", models.TextField(blank=True, verbose_name="summary")),
                ("body_text", models.TextField(blank=True, verbose_name="text")),
                ("toc", models.JSONField(default=list, verbose_name="table of contents")),
                ("html_anonymous", models.TextField(blank=True)),
                ("html_signed_in", models.TextField(blank=True)),
                ("html_staff", models.TextField(blank=True)),
                (
                    "search_vector",
                    django.contrib.postgres.search.SearchVectorField(editable=False, null=True),
                ),
                ("synced_at", models.DateTimeField(auto_now=True, verbose_name="synced")),
            ],
            options={
                "verbose_name": "content page",
                "verbose_name_plural": "content pages",
                "ordering": ("title",),
            },
        ),
        migrations.CreateModel(
            name="ContentReference",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("target_id", models.CharField(db_index=True, max_length=100)),
                (
                    "kind",
                    models.CharField(
                        choices=[("link", "Link in the text"), ("relationship", "Relationship")],
                        max_length=20,
                    ),
                ),
                ("relationship_type", models.CharField(blank=True, max_length=100)),
                ("description", models.CharField(blank=True, max_length=500)),
                ("position", models.PositiveIntegerField(default=0)),
                (
                    "source",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="references",
                        to="content.contentpage",
                    ),
                ),
            ],
            options={
                "ordering": ("source_id", "kind", "position"),
            },
        ),
        migrations.RunPython(create_search_index, drop_search_index),
    ]
