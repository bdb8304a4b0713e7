"""A person's primary unit follows reorganisations: it is where their new datasets are owned by default, so it must
never be left on a unit that is no longer active."""

import importlib

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.urls import reverse

from access.leavers import person_depart
from access.models import Membership, OrgUnit, Person
from access.org import membership_start, org_event_apply, plan_merge, plan_retire, plan_split
from access.selectors import default_owning_unit
from catalog.services import dataset_create, dataset_update
from tests.factories import make_dataset, make_person, make_unit

pytestmark = pytest.mark.django_db


def primary(person: Person) -> OrgUnit | None:
    person.refresh_from_db()
    return person.primary_unit


def member(username: str, unit: OrgUnit) -> Person:
    person = make_person(username, unit=unit)
    membership_start(person=person, unit=unit)
    return person


def test_a_merge_moves_primary_units_to_the_successor(owner):
    a, b, c, elsewhere = make_unit("A"), make_unit("B"), make_unit("C"), make_unit("Elsewhere")
    ada, ben, eve = member("ada", a), member("ben", b), member("eve", elsewhere)
    gone = member("gus", a)
    person_depart(person=gone, actor=None)

    plan = plan_merge(sources=[a, b], successor=c, actor=None)
    org_event_apply(plan=plan, actor=None)

    assert "Ada's primary unit becomes C" in [change["description"] for change in plan.summary()]
    assert (primary(ada), primary(ben), primary(gone), primary(eve)) == (c, c, c, elsewhere)


def test_a_split_moves_primary_units_only_as_assigned(owner):
    a, b, c = make_unit("A"), make_unit("B"), make_unit("C")
    assigned, unassigned = member("ada", a), member("ben", a)
    also_elsewhere = member("cy", a)
    membership_start(person=also_elsewhere, unit=b)

    plan = plan_split(source=a, successors=[b, c], actor=None,
                      assignments={"members": {str(assigned.pk): str(c.pk)}})
    org_event_apply(plan=plan, actor=None)

    assert (primary(assigned), primary(unassigned), primary(also_elsewhere)) == (c, None, None)
    assert "Ben's primary unit is none until one is chosen (not assigned in the split)" in [
        change["description"] for change in plan.summary()
    ]
    # Nobody joined a unit by the split they were not assigned to.
    assert not Membership.objects.current().filter(person=unassigned).exists()
    assert set(Membership.objects.current().filter(person=also_elsewhere).values_list("unit", flat=True)) == {b.pk}


def test_a_retirement_leaves_no_primary_unit_on_the_retired_unit(owner):
    old = make_unit("Old")
    lone = make_person("lou", unit=old)  # no membership left, so the unit may retire

    org_event_apply(plan=plan_retire(unit=old, actor=None), actor=None)

    assert primary(lone) is None


def _stale(person: Person, status: str) -> None:
    """A primary unit left on an inactive unit (data from before reorganisations moved primary units)."""
    OrgUnit.objects.filter(pk=person.primary_unit_id).update(status=status)
    person.refresh_from_db()


def test_the_default_owning_unit_is_an_active_unit_or_none():
    a, b = make_unit("A"), make_unit("B")
    person = member("ada", a)
    assert default_owning_unit(person) == a

    membership_start(person=person, unit=b)
    Membership.objects.filter(person=person, unit=a).update(valid_to="2000-01-01T00:00Z")
    _stale(person, OrgUnit.Status.SPLIT)
    assert default_owning_unit(person) == b  # the one active unit they belong to

    membership_start(person=person, unit=make_unit("C"))
    assert default_owning_unit(person) is None  # two candidates: the form asks

    OrgUnit.objects.filter(pk=a.pk).update(status=OrgUnit.Status.MERGED, successor=b)
    person.refresh_from_db()
    assert default_owning_unit(person) == b  # a merged unit's successor


def test_forms_do_not_default_to_an_inactive_unit(client):
    unit = make_unit("A")
    person = make_person("ada", unit=unit)
    client.force_login(person.user)
    page = client.get(reverse("frontend:dataset-import-croissant")).content.decode()
    assert f'<option value="{unit.pk}" selected>' in page
    _stale(person, OrgUnit.Status.RETIRED)

    form = client.get(reverse("frontend:dataset-create")).context["form"]
    assert form.initial["owning_unit"] is None
    form = client.get(reverse("frontend:dataset-import-croissant")).context["form"]
    assert form.initial["owning_unit"] is None


def test_a_new_dataset_cannot_start_in_an_inactive_unit():
    unit = make_unit("A")
    person = make_person("ada", unit=unit)
    _stale(person, OrgUnit.Status.SPLIT)
    unit.refresh_from_db()
    with pytest.raises(ValidationError) as error:
        dataset_create(actor=person, slug="late", name="Late", purpose="Training the detector for the EU fleet.",
                       owner=person, owning_unit=unit)
    assert error.value.message_dict == {"owning_unit": ["A is split: choose an active unit to own the data."]}


def test_existing_datasets_of_an_inactive_unit_stay_editable(owner, unit):
    dataset = make_dataset(owner, slug="kept")
    OrgUnit.objects.filter(pk=unit.pk).update(status=OrgUnit.Status.RETIRED)
    dataset_update(dataset=dataset, actor=owner, name="Kept, renamed")
    dataset.refresh_from_db()
    assert (dataset.name, dataset.owning_unit) == ("Kept, renamed", unit)


def test_the_migration_moves_primary_units_stranded_on_merged_units():
    a, b, c = make_unit("A"), make_unit("B"), make_unit("C")
    ada, ben = make_person("ada", unit=a), make_person("ben", unit=b)
    OrgUnit.objects.filter(pk=a.pk).update(status=OrgUnit.Status.MERGED, successor=b)
    OrgUnit.objects.filter(pk=b.pk).update(status=OrgUnit.Status.MERGED, successor=c)
    migration = importlib.import_module("access.migrations.0004_primary_unit_follows_merges")

    migration.follow_merges(apps, None)

    assert (primary(ada), primary(ben)) == (c, c)
