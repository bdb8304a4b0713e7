"""GIN index for dataset full-text search on PostgreSQL (other databases fall back to substring search).

The indexed expression must match catalog.search.SEARCH_DOCUMENT_SQL exactly.
"""

from django.db import migrations

INDEX_SQL = (
    "CREATE INDEX IF NOT EXISTS dataset_search_gin ON catalog_dataset USING gin ("
    "to_tsvector('simple'::regconfig, coalesce(name, '') || ' ' || coalesce(slug, '') || ' ' || "
    "coalesce(purpose, '')))"
)


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(INDEX_SQL)


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS dataset_search_gin")


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_initial")]

    operations = [migrations.RunPython(create_index, drop_index)]
