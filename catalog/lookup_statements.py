"""The CI version lookup's statements, written out once per process (why: ``kura.statements``).

Every CI job asks for ``slug@latest``; compiling the querysets cost Django more Python than the statements cost
PostgreSQL. ``plain_version_lookup`` answers the common case in one statement; ``latest_published_version`` is
the newest published version for every other reader (the full lookup, lineage), as the ORM would read it.
"""

from datetime import datetime
from functools import cache
from typing import Any, NamedTuple

from django.db import DEFAULT_DB_ALIAS, connections

from catalog.models import Dataset, DatasetVersion, StorageLocation
from kura.statements import all_columns, fetch, key_param, quote, table


def latest_published_version(dataset: Dataset) -> DatasetVersion | None:
    """The newest published version, as ``version_list(dataset=...).first()`` orders them."""
    rows = fetch(_latest_sql(), [key_param(Dataset, dataset.pk), DatasetVersion.Status.PUBLISHED.value])
    return all_columns(DatasetVersion).instances(rows)[0] if rows else None


def _newest_first() -> str:
    """Versions (alias ``v``) newest first, as ``version_list`` orders them: the one ordering of "latest"."""
    return f"ORDER BY v.{quote('published_at')} DESC, v.{quote('created_at')} DESC"


@cache
def _latest_sql() -> str:
    return (
        f"SELECT {all_columns(DatasetVersion).sql('v')} FROM {table(DatasetVersion)} v"
        f" WHERE v.{quote('dataset_id')} = %s AND v.{quote('status')} = %s {_newest_first()} LIMIT 1"
    )


class LookupVersion(NamedTuple):
    label: str
    status: str
    digest: str
    total_bytes: int
    file_count: int
    source: str
    git_commit: str
    guideline_revision: int | None
    notes: str
    created_at: datetime
    published_at: datetime | None


class LookupLocation(NamedTuple):
    uri: str
    role: str
    note: str
    last_verified_at: datetime | None
    last_verification_ok: bool | None


class LookupAnswer(NamedTuple):
    version: LookupVersion
    locations: list[LookupLocation] | None  # None: the caller may see the dataset but not read its data
    deprecated: Dataset | None  # a deprecated dataset's deprecation fields, for its warnings and headers


# What deprecation_warnings and add_deprecation_headers read of a deprecated dataset, besides its slug.
_DEPRECATION_FIELDS = ("id", "status", "deprecation_note", "deprecated_at", "sunset_at", "updated_at")


def plain_lookup_supported() -> bool:
    """The plain lookup's statement is PostgreSQL's (LATERAL joins, array_agg); other databases resolve in full."""
    return connections[DEFAULT_DB_ALIAS].vendor == "postgresql"


def plain_version_lookup(user: Any, slug: str, label: str) -> LookupAnswer | None:
    """``slug@label`` in one statement (PostgreSQL), for the common case only: a current slug of a dataset
    ``user`` may view that is not archived, and a published version (``latest``: the newest).

    None means "not the common case" (a former slug, a hidden or missing dataset, an archived one, a draft or
    unknown version): the caller then answers through the full resolution, which decides and words each case.
    Visibility and data access come from restrict()'s own condition (``restrict_sql``); a successor ``user`` may
    not see is left out (``hide_unseen_successors``).
    """
    view, view_params = Dataset.objects.restrict_sql(user, "view", table="d")
    successor_view, successor_params = Dataset.objects.restrict_sql(user, "view", table="s")
    read, read_params = Dataset.objects.restrict_sql(user, "read", table="d")
    latest = label == "latest"
    sql = _plain_lookup_sql(latest).format(view=view, successor_view=successor_view, read=read)
    version_params = [DatasetVersion.Status.PUBLISHED.value] + ([] if latest else [label])
    rows = fetch(
        sql,
        [*successor_params, *read_params, *version_params, slug, Dataset.Status.ARCHIVED.value, *view_params],
    )
    if not rows:
        return None
    row = iter(rows[0])
    version = LookupVersion(*(next(row) for _ in LookupVersion._fields))
    deprecated = _deprecated(slug, [next(row) for _ in range(len(_DEPRECATION_FIELDS) + 2)])
    can_read = next(row)
    location_columns = list(row)
    if not can_read:
        return LookupAnswer(version, None, deprecated)
    if location_columns[0] is None:  # array_agg over no rows is NULL
        return LookupAnswer(version, [], deprecated)
    locations = [LookupLocation(*values) for values in zip(*location_columns, strict=True)]
    return LookupAnswer(version, locations, deprecated)


def _deprecated(slug: str, values: list[Any]) -> Dataset | None:
    *own, successor_id, successor_slug = values
    fields = dict(zip(_DEPRECATION_FIELDS, own, strict=True))
    if fields["status"] != Dataset.Status.DEPRECATED:
        return None
    dataset = Dataset(slug=slug, **fields)
    if successor_id is not None:
        dataset.superseded_by = Dataset(id=successor_id, slug=successor_slug)
    return dataset


@cache
def _plain_lookup_sql(latest: bool) -> str:
    """The statement with ``{view}``, ``{successor_view}`` and ``{read}`` left to fill in; parameters in order:
    the successor's view condition, read condition, version status[, label], slug, the archived status, view
    condition."""
    v_columns = ", ".join(f"v.{quote(name)}" for name in LookupVersion._fields)
    d_columns = ", ".join(f"d.{quote(name)}" for name in _DEPRECATION_FIELDS)
    locations = ", ".join(
        f"array_agg(l.{quote(name)} ORDER BY l.{quote('role')}, l.{quote('uri')}) AS {quote(name)}"
        for name in LookupLocation._fields
    )
    which = "" if latest else f" AND v.{quote('label')} = %s"
    return (
        f"SELECT {v_columns}, {d_columns}, s.{quote('id')}, s.{quote('slug')}, r.can_read,"
        f" {', '.join(f'loc.{quote(name)}' for name in LookupLocation._fields)}"
        f" FROM {table(Dataset)} d"
        f" LEFT JOIN {table(Dataset)} s ON s.{quote('id')} = d.{quote('superseded_by_id')} AND ({{successor_view}})"
        " CROSS JOIN LATERAL (SELECT ({read}) AS can_read OFFSET 0) r"  # OFFSET 0: evaluate once, not per use
        f" JOIN LATERAL (SELECT * FROM {table(DatasetVersion)} v WHERE v.{quote('dataset_id')} = d.{quote('id')}"
        f" AND v.{quote('status')} = %s{which}"
        f" {_newest_first()} LIMIT 1) v ON TRUE"
        f" LEFT JOIN LATERAL (SELECT {locations} FROM {table(StorageLocation)} l"
        f" WHERE l.{quote('dataset_id')} = d.{quote('id')} AND r.can_read) loc ON TRUE"
        f" WHERE d.{quote('slug')} = %s AND d.{quote('status')} <> %s AND ({{view}})"
    )
