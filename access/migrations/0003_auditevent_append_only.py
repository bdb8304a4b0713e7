"""Make the audit log append-only at the database level on PostgreSQL."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION kura_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION USING MESSAGE = 'access_auditevent is append-only: ' || TG_OP || ' refused';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS access_auditevent_append_only ON access_auditevent;
CREATE TRIGGER access_auditevent_append_only BEFORE UPDATE OR DELETE ON access_auditevent
    FOR EACH ROW EXECUTE FUNCTION kura_audit_append_only();
"""
DROP = """
DROP TRIGGER IF EXISTS access_auditevent_append_only ON access_auditevent;
DROP FUNCTION IF EXISTS kura_audit_append_only();
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("access", "0002_org_history_grants_requests_audit")]

    operations = [migrations.RunPython(create, drop)]
