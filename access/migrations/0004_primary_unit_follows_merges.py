"""People whose primary unit was merged before merges moved primary units: point them at the successor.

Their new datasets defaulted to the merged unit. Split and retired units have no single successor; those people
are left for the directory sync or an administrator (new datasets no longer default to an inactive unit).
"""

from django.db import migrations


def follow_merges(apps, schema_editor):
    OrgUnit = apps.get_model("access", "OrgUnit")
    Person = apps.get_model("access", "Person")
    successors = dict(OrgUnit.objects.filter(status="merged").values_list("pk", "successor_id"))
    for merged in successors:
        successor, seen = successors[merged], {merged}
        while successor in successors and successor not in seen:  # merged again later
            seen.add(successor)
            successor = successors[successor]
        if successor is not None:
            Person.objects.filter(primary_unit_id=merged).update(primary_unit_id=successor)


class Migration(migrations.Migration):
    dependencies = [("access", "0003_auditevent_append_only")]

    operations = [migrations.RunPython(follow_merges, migrations.RunPython.noop)]
