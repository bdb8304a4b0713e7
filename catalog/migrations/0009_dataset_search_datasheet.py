"""Dataset search also matches the datasheet's answers: the GIN index's expression gains them.

The indexed expression must match catalog.search.SEARCH_DOCUMENT_SQL exactly.
"""

from django.db import migrations

_OWN = ("name", "slug", "purpose", "description")
_DATASHEET = (
    "composition",
    "sensitive_information",
    "collection_process",
    "preprocessing",
    "known_biases",
    "known_limitations",
    "licence",
    "maintenance_plan",
)


def _index(columns):
    document = " || ' ' || ".join(f"coalesce({column}, '')" for column in columns)
    return f"CREATE INDEX dataset_search_gin ON catalog_dataset USING gin (to_tsvector('simple'::regconfig, {document}))"


def _replace_index(columns):
    def replace(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute("DROP INDEX IF EXISTS dataset_search_gin")
            schema_editor.execute(_index(columns))

    return replace


class Migration(migrations.Migration):
    dependencies = [("catalog", "0008_dataset_training_repo_url_checked")]

    operations = [migrations.RunPython(_replace_index(_OWN + _DATASHEET), _replace_index(_OWN))]
