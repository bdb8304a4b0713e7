"""The CI version lookup's reads after the dataset, written out once per process (why: ``kura.statements``).

Every CI job asks for ``slug@latest``; compiling these two small querysets cost Django more Python than the
statements cost PostgreSQL. They read exactly what the ORM read before: the same columns, order and converters.
"""

from functools import cache
from typing import Any

from catalog.models import Dataset, DatasetVersion, StorageLocation
from kura.statements import all_columns, fetch, key_param, quote, table


def visible_dataset_by_slug(user: Any, slug: str) -> tuple[Dataset, bool] | None:
    """The dataset whose current slug is ``slug`` if ``user`` may view it, and whether they may read its data.

    Both answers come from restrict()'s own condition (``restrict_sql``). None covers both "not visible" and
    "no such current slug"; the caller falls back to the full resolution, which also follows former slugs.
    """
    view, view_params = Dataset.objects.restrict_sql(user, "view", table="d")
    read, read_params = Dataset.objects.restrict_sql(user, "read", table="d")
    columns = all_columns(Dataset)
    sql = f"SELECT {columns.sql('d')}, ({read}) FROM {table(Dataset)} d WHERE d.{quote('slug')} = %s AND ({view})"
    rows = fetch(sql, [*read_params, slug, *view_params])
    if not rows:
        return None
    return columns.instances([rows[0][:-1]])[0], bool(rows[0][-1])


def latest_published_version(dataset: Dataset) -> DatasetVersion | None:
    """The newest published version, as ``version_list(dataset=...).first()`` orders them."""
    rows = fetch(_latest_sql(), [key_param(Dataset, dataset.pk), DatasetVersion.Status.PUBLISHED.value])
    return all_columns(DatasetVersion).instances(rows)[0] if rows else None


def dataset_locations(dataset: Dataset) -> list[StorageLocation]:
    """``dataset.locations.all()`` in the model's order."""
    return all_columns(StorageLocation).instances(fetch(_locations_sql(), [key_param(Dataset, dataset.pk)]))


@cache
def _latest_sql() -> str:
    return (
        f"SELECT {all_columns(DatasetVersion).sql('v')} FROM {table(DatasetVersion)} v"
        f" WHERE v.{quote('dataset_id')} = %s AND v.{quote('status')} = %s"
        f" ORDER BY v.{quote('published_at')} DESC, v.{quote('created_at')} DESC LIMIT 1"
    )


@cache
def _locations_sql() -> str:
    return (
        f"SELECT {all_columns(StorageLocation).sql('l')} FROM {table(StorageLocation)} l"
        f" WHERE l.{quote('dataset_id')} = %s ORDER BY l.{quote('role')}, l.{quote('uri')}"
    )
