"""restrict()'s condition asked row by row (a list page's keys) decides exactly as the plain one."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from access.models import ApiToken, Grant, Level, Membership
from access.org import membership_start
from access.principals import UnitPrincipal
from access.services import token_create
from catalog.list_statements import dataset_list_rows
from catalog.models import Dataset
from catalog.search import search_datasets
from tests.factories import grant, make_dataset, make_person, make_unit

pytestmark = pytest.mark.django_db


@pytest.fixture
def every_way(owner):
    """A dataset for each way a person may see one, and two they may not; every name holds "radar"."""
    home, stewarded_unit, granted_unit = make_unit("Home"), make_unit("Stewarded"), make_unit("Granted")
    reader = make_person("rhea", unit=home)
    membership_start(person=reader, unit=stewarded_unit, role=Membership.Role.STEWARD)
    membership_start(person=reader, unit=granted_unit)

    def radar(slug, **kwargs):
        return make_dataset(kwargs.pop("by", owner), slug=f"radar-{slug}", name=f"Radar {slug}",
                            visibility=kwargs.pop("visibility", "restricted"), **kwargs)

    radar("internal", visibility="internal")
    radar("owned", by=reader, unit=home)
    radar("stewarded").stewards.add(reader)
    radar("unit-stewarded", unit=stewarded_unit)
    grant(radar("granted"), reader, Level.VIEW)
    unit_granted = radar("unit-granted")
    grant(unit_granted, granted_unit, Level.VIEW)
    expired = grant(radar("expired"), reader, Level.VIEW, expires_at=timezone.now() + timedelta(hours=1))
    Grant.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    radar("hidden")
    token = token_create(name="unit", scope=ApiToken.Scope.READ, owner_unit=granted_unit)
    return reader, UnitPrincipal(granted_unit, token)


def _slugs(queryset):
    return {slug.removeprefix("radar-") for slug in queryset.values_list("slug", flat=True)}


def test_row_by_row_decides_as_the_plain_condition_for_people_and_unit_tokens(every_way):
    reader, unit_token = every_way
    seen = {"internal", "owned", "stewarded", "unit-stewarded", "granted", "unit-granted"}

    for caller, expected in ((reader.user, seen), (unit_token, {"internal", "unit-granted"})):
        restricted = Dataset.objects.restrict(caller, "view")
        assert _slugs(restricted) == expected
        assert _slugs(search_datasets(restricted, "radar")) == expected
        keys = list(Dataset.objects.values_list("pk", flat=True))
        rows = dataset_list_rows(user=caller, keys=keys)
        assert {dataset.slug.removeprefix("radar-") for dataset in rows} == expected


def test_a_page_of_keys_asks_it_row_by_row_on_postgresql(every_way):
    reader, _ = every_way
    row_by_row = Dataset.objects.restrict_sql(reader.user, "view", table="d", row_by_row=True)[0]
    plain = Dataset.objects.restrict_sql(reader.user, "view", table="d")[0]

    assert "OFFSET" not in plain
    assert ("OFFSET 0)" in row_by_row) is (connection.vendor == "postgresql")
