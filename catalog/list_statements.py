"""A list page's datasets, loaded by key in two statements written out (why: ``kura.statements``).

A search page's rows cost Django more Python than their SQL costs PostgreSQL: compiling the restricted,
joined queryset, building each owner, user and unit through ``select_related``, and a related manager per
dataset for its prefetched tags. Here the rows come with their owner (and user) and unit from one statement,
visibility asked again through restrict()'s own condition (``restrict_sql``), and the tag names from a second.
"""

from collections.abc import Iterable
from functools import cache
from typing import Any

from django.contrib.auth import get_user_model

from access.models import OrgUnit, Person
from catalog.models import Dataset, Tag
from kura.statements import Columns, columns, fetch, joined_instance, key_param, placeholders, quote, table

# What a list page shows of each (``dataset_list_payload``, the browser's result rows); the rest is deferred,
# read on access like any deferred field: building four full instances a row cost more than the statement.
_DATASET_FIELDS = (
    "id", "slug", "name", "purpose", "status", "visibility", "classification", "owner_id", "owning_unit_id",
    "training_repo_url", "training_repo_path", "updated_at",
)  # fmt: skip
_PERSON_FIELDS = ("id", "user_id", "display_name", "external_id", "status")
_USER_FIELDS = ("id", "username")
_UNIT_FIELDS = ("id", "name")


def dataset_list_rows(*, user: Any, keys: Iterable[Any]) -> list[Dataset]:
    """The datasets with these keys that ``user`` may see, in the keys' order (``kura.keyset``), each with its
    owner (and the owner's user), its unit and ``tag_names`` loaded: the fields a list shows (others deferred).

    The keys come from ``catalog.selectors.dataset_list`` filtered and ordered; only visibility is asked again,
    not the filters: repeating a search made PostgreSQL run it over its whole index for one page.
    """
    wanted = list(keys)
    if not wanted:
        return []
    key_params = [key_param(Dataset, key) for key in wanted]
    # A page's rows are few: visibility is asked of each on its own (see DatasetAccess.asked_row_by_row).
    view, view_params = Dataset.objects.restrict_sql(user, "view", table="d", row_by_row=True)
    rows = fetch(_rows_sql(len(wanted)).format(view=view), [*view_params, *key_params])
    found = {}
    for row in rows:
        values = iter(row)
        dataset, owner, owner_user, unit = (joined_instance(joined, values) for joined in _joined_columns())
        assert dataset is not None and owner is not None and owner_user is not None and unit is not None
        owner.user = owner_user
        dataset.owner, dataset.owning_unit = owner, unit
        dataset.tag_names = []
        found[key_param(Dataset, dataset.pk)] = dataset
    for dataset_key, name in fetch(_tags_sql(len(found)), list(found)) if found else ():
        found[dataset_key].tag_names.append(name)
    return [found[key] for key in key_params if key in found]  # a row deleted in between is left out


@cache
def _joined_columns() -> tuple[Columns[Dataset], Columns[Person], Columns[Any], Columns[OrgUnit]]:
    return (
        columns(Dataset, *_DATASET_FIELDS),
        columns(Person, *_PERSON_FIELDS),
        columns(get_user_model(), *_USER_FIELDS),
        columns(OrgUnit, *_UNIT_FIELDS),
    )


@cache
def _rows_sql(count: int) -> str:
    """With ``{view}`` left to fill in; parameters: the view condition's, then the keys."""
    dataset, person, user, unit = _joined_columns()
    pk = quote("id")
    return (
        f"SELECT {dataset.sql('d')}, {person.sql('p')}, {user.sql('u')}, {unit.sql('o')} FROM {table(Dataset)} d"
        f" JOIN {table(Person)} p ON p.{pk} = d.{quote('owner_id')}"
        f" JOIN {table(get_user_model())} u ON u.{pk} = p.{quote('user_id')}"
        f" JOIN {table(OrgUnit)} o ON o.{pk} = d.{quote('owning_unit_id')}"
        f" WHERE ({{view}}) AND d.{pk} IN ({placeholders(count)})"
    )


@cache
def _tags_sql(count: int) -> str:
    """Tag names of the datasets with these keys, in the tags' own order (by name)."""
    through = Dataset.tags.through
    return (
        f"SELECT dt.{quote('dataset_id')}, t.{quote('name')} FROM {table(through)} dt"
        f" JOIN {table(Tag)} t ON t.{quote('id')} = dt.{quote('tag_id')}"
        f" WHERE dt.{quote('dataset_id')} IN ({placeholders(count)}) ORDER BY t.{quote('name')}"
    )
