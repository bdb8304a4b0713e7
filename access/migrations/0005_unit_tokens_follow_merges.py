"""Live API tokens of units merged before merges moved tokens: give them to the successor.

Tokens of a merged, split or retired unit are now refused (the unit's grants went elsewhere); without this, CI
using a token of a unit merged earlier would stop working at the upgrade. Split and retired units have no single
successor: their tokens are refused with a reason, and the unit that took over the work issues new ones.
"""

from django.db import migrations


def follow_merges(apps, schema_editor):
    OrgUnit = apps.get_model("access", "OrgUnit")
    ApiToken = apps.get_model("access", "ApiToken")
    successors = dict(OrgUnit.objects.filter(status="merged").values_list("pk", "successor_id"))
    for merged in successors:
        successor, seen = successors[merged], {merged}
        while successor in successors and successor not in seen:  # merged again later
            seen.add(successor)
            successor = successors[successor]
        if successor is not None:
            ApiToken.objects.filter(owner_unit_id=merged, revoked_at__isnull=True).update(owner_unit_id=successor)


class Migration(migrations.Migration):
    dependencies = [("access", "0004_primary_unit_follows_merges")]

    operations = [migrations.RunPython(follow_merges, migrations.RunPython.noop)]
