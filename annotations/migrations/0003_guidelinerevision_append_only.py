"""Make guideline revisions append-only at the database level on PostgreSQL."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION kura_guideline_revision_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION USING MESSAGE = 'annotations_guidelinerevision is append-only: ' || TG_OP || ' refused';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS annotations_guidelinerevision_append_only ON annotations_guidelinerevision;
CREATE TRIGGER annotations_guidelinerevision_append_only BEFORE UPDATE OR DELETE ON annotations_guidelinerevision
    FOR EACH ROW EXECUTE FUNCTION kura_guideline_revision_append_only();
"""
DROP = """
DROP TRIGGER IF EXISTS annotations_guidelinerevision_append_only ON annotations_guidelinerevision;
DROP FUNCTION IF EXISTS kura_guideline_revision_append_only();
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("annotations", "0002_correction_examples")]

    operations = [migrations.RunPython(create, drop)]
