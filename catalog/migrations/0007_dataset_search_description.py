"""Dataset search also matches the description: the GIN index gets the description in its expression.

The indexed expression must match catalog.search.SEARCH_DOCUMENT_SQL exactly.
"""

from django.db import migrations

WITH_DESCRIPTION = (
    "CREATE INDEX dataset_search_gin ON catalog_dataset USING gin ("
    "to_tsvector('simple'::regconfig, coalesce(name, '') || ' ' || coalesce(slug, '') || ' ' || "
    "coalesce(purpose, '') || ' ' || coalesce(description, '')))"
)
WITHOUT_DESCRIPTION = (
    "CREATE INDEX dataset_search_gin ON catalog_dataset USING gin ("
    "to_tsvector('simple'::regconfig, coalesce(name, '') || ' ' || coalesce(slug, '') || ' ' || "
    "coalesce(purpose, '')))"
)


def _replace_index(definition):
    def replace(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute("DROP INDEX IF EXISTS dataset_search_gin")
            schema_editor.execute(definition)

    return replace


class Migration(migrations.Migration):
    dependencies = [("catalog", "0006_dataset_datasheet")]

    operations = [migrations.RunPython(_replace_index(WITH_DESCRIPTION), _replace_index(WITHOUT_DESCRIPTION))]
