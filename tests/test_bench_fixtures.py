"""The benchmarks' synthetic catalog stays loadable: ``COPY`` names every column a row must fill.

A column added to a model without a database default (the datasheet's, once) makes every COPY of a fresh
benchmark database fail; a reused database hides that until the next machine.
"""

import pytest
from django.apps import apps
from django.db.models import NOT_PROVIDED

from bench.fixtures import TABLES


def _required_columns(table: str) -> set[str]:
    models = [model for model in apps.get_models(include_auto_created=True) if model._meta.db_table == table]
    assert models, f"no model is stored in {table}"
    return {
        field.column
        for field in models[0]._meta.concrete_fields
        if not field.null and field.db_default is NOT_PROVIDED
    }


@pytest.mark.parametrize("table", sorted(TABLES))
def test_every_copied_table_names_each_column_that_has_no_default(table):
    missing = _required_columns(table) - set(TABLES[table])
    assert not missing, f"bench/fixtures.py copies {table} without {sorted(missing)}"
