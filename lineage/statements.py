"""The OpenLineage intake's reads and upserts, written out as SQL (why: see ``kura.statements``).

Each function runs one statement whose text is built once per process (per number of values in its lists)
from the models' metadata, valid on PostgreSQL and on the embedded SQLite. Two do more in that statement on
PostgreSQL, with a data-modifying ``WITH``, and take two statements elsewhere: ``run_upsert_folding`` (which
also stores the raw event) and ``external_datasets_ensured``.
"""

from collections.abc import Collection
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

from django.db import connection
from django.utils import timezone

from catalog.models import Dataset, DatasetVersion, StorageLocation
from kura.statements import (
    Columns,
    all_columns,
    columns,
    fetch,
    insert,
    insert_ignoring_conflicts,
    key_param,
    placeholders,
    quote,
    stored,
    table,
)
from lineage.models import ExternalDataset, Model, ModelVersion, RawLineageEvent, TrainingRun


# "Newest" as the catalog orders versions (catalog.selectors.version_list): publication, then creation.
def _newest_order() -> str:
    return f"w.{quote('published_at')} DESC, w.{quote('created_at')} DESC"


_PUBLISHED = DatasetVersion.Status.PUBLISHED.value


def run_upsert(candidate: TrainingRun) -> TrainingRun:
    """The run with the candidate's (namespace, run id), inserted as the candidate if new, and locked.

    On the conflict a no-op ``DO UPDATE`` takes the row lock (waiting for a concurrent event of the same run)
    and ``RETURNING`` hands back the stored row: an insert and a ``SELECT ... FOR UPDATE`` in one statement.
    """
    run = all_columns(TrainingRun)
    (stored,) = run.instances(fetch(_run_upsert_sql(), run.params(candidate, add=True)))
    return stored


@cache
def _run_upsert_sql() -> str:
    run = all_columns(TrainingRun)
    namespace, run_id = quote("job_namespace"), quote("external_run_id")
    return (
        f"INSERT INTO {table(TrainingRun)} ({run.sql()}) VALUES ({placeholders(len(run.fields))}) "
        f"ON CONFLICT ({namespace}, {run_id}) DO UPDATE SET {namespace} = EXCLUDED.{namespace} RETURNING {run.sql()}"
    )


def run_upsert_folding(
    fresh: TrainingRun, *, terminal: bool, ended: Collection[str], recording: RawLineageEvent
) -> TrainingRun:
    """The run with ``fresh``'s (namespace, run id), locked: inserted as ``fresh`` (a new run with one event
    folded in) if new, else the stored run with the same event folded in by the statement itself: an upsert, a
    ``SELECT ... FOR UPDATE`` and the update of the fold in one statement. ``recording``, the raw event, is then
    inserted for the run (its key set), on PostgreSQL in the same statement (a data-modifying ``WITH``).

    The fold is ``services._apply_event_to_run``'s, column by column (its parameters excepted: merging JSON is
    left to the caller): the earliest start; the status, its time and the end of a ``terminal`` event unless the
    run has already ended (a status in ``ended``) at a later time; the job's name; code location and CI job URL
    where the event gives them.
    """
    run = all_columns(TrainingRun)
    params = [*run.params(fresh, add=True), *[terminal, *ended] * 3]
    if connection.vendor != "postgresql":
        (found,) = run.instances(fetch(_run_fold_sql(len(ended)), params))
        recording.run = found
        insert(recording)
        return found
    recorded = _recorded_columns()
    (row,) = fetch(_run_fold_and_record_sql(len(ended)), [*params, *recorded.params(recording, add=True)])
    (found,) = run.instances([row[:-1]])
    recording.run = found
    stored(recording, row[-1])
    return found


def _recorded_columns() -> Columns[RawLineageEvent]:
    """The raw event's columns but its key and its run."""
    return columns(RawLineageEvent, *(field.attname for field in RawLineageEvent._meta.concrete_fields
                                      if not field.primary_key and field.attname != "run_id"))


@cache
def _run_fold_and_record_sql(ended: int) -> str:
    recorded = _recorded_columns()
    values = ", ".join(["%s"] * len(recorded.fields))
    return (
        f"WITH r AS ({_run_fold_sql(ended)}),"
        f" e AS (INSERT INTO {table(RawLineageEvent)} ({recorded.sql()}, {quote('run_id')})"
        f" SELECT {values}, r.{quote('id')} FROM r RETURNING {quote('id')})"
        f" SELECT {all_columns(TrainingRun).sql('r')}, e.{quote('id')} FROM r, e"
    )


@cache
def _run_fold_sql(ended: int) -> str:
    run = all_columns(TrainingRun)

    def stored(name: str) -> str:
        return f"{table(TrainingRun)}.{quote(name)}"

    def new(name: str) -> str:
        return f"EXCLUDED.{quote(name)}"

    not_older = f"{new('status_event_time')} >= {stored('status_event_time')}"
    takes_status = (f"%s AND ({stored('status')} NOT IN ({placeholders(ended)})"
                    f" OR {stored('status_event_time')} IS NULL OR {not_older})")
    earliest = f"{stored('started_at')} IS NULL OR {new('started_at')} < {stored('started_at')}"
    assignments = [
        f"{quote('started_at')} = CASE WHEN {earliest} THEN {new('started_at')} ELSE {stored('started_at')} END",
        *(f"{quote(name)} = CASE WHEN {takes_status} THEN {new(name)} ELSE {stored(name)} END"
          for name in ("status", "status_event_time", "ended_at")),
        f"{quote('job_name')} = {new('job_name')}",
        *(f"{quote(name)} = CASE WHEN {new(name)} <> '' THEN {new(name)} ELSE {stored(name)} END"
          for name in ("code_repository", "code_path", "code_commit", "ci_job_url")),
    ]
    return (
        f"INSERT INTO {table(TrainingRun)} ({run.sql()}) VALUES ({placeholders(len(run.fields))})"
        f" ON CONFLICT ({quote('job_namespace')}, {quote('external_run_id')}) DO UPDATE SET {', '.join(assignments)}"
        f" RETURNING {run.sql()}"
    )


def model_and_version(name: str, version: str) -> tuple[Model | None, ModelVersion | None]:
    """The model named ``name`` and its version ``version`` (with ``.model`` set); each None if missing."""
    model, model_version = all_columns(Model), all_columns(ModelVersion)
    rows = fetch(_model_and_version_sql(), [version, name])  # name is unique, (model, version) too: one row
    if not rows:
        return None, None
    width = len(model.fields)
    (found,) = model.instances([rows[0][:width]])
    if rows[0][width] is None:  # the version's id: the model has no such version
        return found, None
    (found_version,) = model_version.instances([rows[0][width:]])
    found_version.model = found
    return found, found_version


@cache
def _model_and_version_sql() -> str:
    return (
        f"SELECT {all_columns(Model).sql('m')}, {all_columns(ModelVersion).sql('v')} FROM {table(Model)} m"
        f" LEFT JOIN {table(ModelVersion)} v ON v.{quote('model_id')} = m.{quote('id')} AND v.{quote('version')} = %s"
        f" WHERE m.{quote('name')} = %s"
    )


def external_datasets_named(keys: Collection[tuple[str, str]]) -> list[ExternalDataset]:
    """The external datasets with these (namespace, name) pairs (id, namespace and name read)."""
    if not keys:
        return []
    external = columns(ExternalDataset, "id", "namespace", "name")
    return external.instances(fetch(_externals_named_sql(len(keys)), [value for key in keys for value in key]))


@cache
def _externals_named_sql(count: int) -> str:
    external = columns(ExternalDataset, "id", "namespace", "name")
    named = " OR ".join([f"({quote('namespace')} = %s AND {quote('name')} = %s)"] * count)
    return f"SELECT {external.sql()} FROM {table(ExternalDataset)} WHERE {named}"


def external_datasets_ensured(keys: Collection[tuple[str, str]]) -> list[ExternalDataset]:
    """The external datasets with these (namespace, name) pairs, the missing ones inserted.

    Most are known already, so they are looked for before anything is inserted, and inserts go in one order for
    everyone, so two events naming the same datasets cannot deadlock on each other. One statement on PostgreSQL,
    two elsewhere. A pair another transaction is inserting meanwhile is left out of the answer (read it again).
    """
    if not keys:
        return []
    if connection.vendor != "postgresql":
        found = external_datasets_named(keys)
        missing = set(keys) - {(external.namespace, external.name) for external in found}
        inserted = [ExternalDataset(namespace=namespace, name=name) for namespace, name in sorted(missing)]
        return found + insert_ignoring_conflicts(inserted, returning=True)
    created_at = ExternalDataset._meta.get_field("created_at").get_db_prep_save(timezone.now(), connection)
    params = [value for key in sorted(keys) for value in key]
    return columns(ExternalDataset, "id", "namespace", "name").instances(
        fetch(_externals_ensured_sql(len(keys)), [*params, created_at])
    )


@cache
def _externals_ensured_sql(count: int) -> str:
    external = columns(ExternalDataset, "id", "namespace", "name")
    namespace, name = quote("namespace"), quote("name")
    same = f"e.{namespace} = w.{namespace} AND e.{name} = w.{name}"
    return (
        f"WITH w ({namespace}, {name}) AS (VALUES {', '.join(['(%s, %s)'] * count)}),"
        f" inserted AS (INSERT INTO {table(ExternalDataset)} ({namespace}, {name}, {quote('created_at')})"
        f" SELECT w.{namespace}, w.{name}, %s FROM w WHERE NOT EXISTS"
        f" (SELECT 1 FROM {table(ExternalDataset)} e WHERE {same}) ORDER BY w.{namespace}, w.{name}"
        f" ON CONFLICT DO NOTHING RETURNING {external.sql()})"
        f" SELECT {external.sql('e')} FROM {table(ExternalDataset)} e JOIN w ON {same}"
        f" UNION ALL SELECT {external.sql()} FROM inserted"
    )


@dataclass(frozen=True)
class VisibleDataset:
    id: Any
    slug: str
    versions: list[tuple[DatasetVersion, bool]]  # (version, whether it is the newest), newest first


def visible_datasets(
    user: Any, *, slugs: Collection[str], ids: Collection[Any], labels: Collection[str], newest: bool
) -> list[VisibleDataset]:
    """The datasets ``user`` may view among those with one of ``slugs`` or ``ids``, each with its published
    versions whose label or manifest digest is one of ``labels`` and, if ``newest``, its newest one.

    The permission condition is ``restrict(user, "view")``'s own, as SQL; the versions come in the same
    statement (a LEFT JOIN), read as ``published_versions_named`` and ``newest_published_versions`` read them.
    """
    if not slugs and not ids:
        return []
    condition, condition_params = Dataset.objects.restrict_sql(user, "view", table="d")
    version = _version_columns()
    status, dataset_id, pk = quote("status"), quote("dataset_id"), quote("id")
    newest_sql = (f"(SELECT w.{pk} FROM {table(DatasetVersion)} w WHERE w.{dataset_id} = d.{pk} AND w.{status} = %s"
                  f" ORDER BY {_newest_order()} LIMIT 1)")
    select, params = f"d.{pk}, d.{quote('slug')}, {version.sql('v')}", []
    if newest:
        select, params = f"{select}, v.{pk} = {newest_sql}", [_PUBLISHED]
    wanted = [f"v.{quote(column)} IN ({placeholders(len(labels))})" for column in ("label", "digest") if labels]
    params += [_PUBLISHED, *labels, *(label.removeprefix("sha256:") for label in labels)]
    if newest:
        wanted.append(f"v.{pk} = {newest_sql}")
        params.append(_PUBLISHED)
    named = [f"d.{quote(column)} IN ({placeholders(len(values))})"
             for column, values in (("slug", slugs), ("id", ids)) if values]
    sql = (
        f"SELECT {select} FROM {table(Dataset)} d LEFT JOIN {table(DatasetVersion)} v"
        f" ON v.{dataset_id} = d.{pk} AND v.{status} = %s AND ({' OR '.join(wanted) or '1 = 0'})"
        f" WHERE {condition} AND ({' OR '.join(named)})"
        f" ORDER BY v.{quote('published_at')} DESC, v.{quote('created_at')} DESC"
    )
    found: dict[Any, VisibleDataset] = {}
    width = len(version.fields)
    for row in fetch(sql, [*params, *condition_params, *slugs, *_dataset_params(ids)]):
        visible = found.setdefault(row[0], VisibleDataset(id=row[0], slug=row[1], versions=[]))
        if row[2] is not None:  # the version's id: NULL when none of the dataset's versions is wanted
            visible.versions.append((version.instances([row[2: 2 + width]])[0], bool(newest and row[2 + width])))
    return [replace(visible, id=_dataset_id(visible.id)) for visible in found.values()]


def storage_locations(uris: Collection[str]) -> list[tuple[Any, str]]:
    """(dataset id, URI) of every registered location whose URI is one of ``uris``, in the model's order."""
    if not uris:
        return []
    location = columns(StorageLocation, "dataset_id", "uri")
    rows = fetch(_locations_sql(len(uris)), list(uris))
    return [(dataset_id, uri) for dataset_id, uri in map(location.values, rows)]


@cache
def _locations_sql(count: int) -> str:
    location = columns(StorageLocation, "dataset_id", "uri")
    return (f"SELECT {location.sql()} FROM {table(StorageLocation)} WHERE {quote('uri')} IN ({placeholders(count)})"
            f" ORDER BY {quote('role')}, {quote('uri')}")


def _version_columns() -> Columns[DatasetVersion]:
    """What binding a ref reads of a version; the instances returned defer the other fields."""
    return columns(DatasetVersion, "id", "dataset_id", "label", "digest")


def published_versions_named(wanted: Collection[tuple[Any, str]]) -> list[DatasetVersion]:
    """Published versions matching a wanted (dataset id, label) pair by label or manifest digest (the label,
    with or without ``sha256:``), newest first (the model's order)."""
    params: list[Any] = [_PUBLISHED]
    for dataset_id, label in wanted:
        params += [key_param(Dataset, dataset_id), label, label.removeprefix("sha256:")]
    return _version_columns().instances(fetch(_named_versions_sql(len(wanted)), params))


@cache
def _named_versions_sql(pairs: int) -> str:
    status, dataset, label, digest = (quote(name) for name in ("status", "dataset_id", "label", "digest"))
    named = " OR ".join([f"(v.{dataset} = %s AND (v.{label} = %s OR v.{digest} = %s))"] * pairs)
    return (
        f"SELECT {_version_columns().sql('v')} FROM {table(DatasetVersion)} v WHERE v.{status} = %s AND ({named})"
        f" ORDER BY v.{quote('published_at')} DESC, v.{quote('created_at')} DESC"
    )


def newest_published_versions(dataset_ids: Collection[Any]) -> list[DatasetVersion]:
    """The newest published version (by publication time) of each of these datasets that has one."""
    rows = fetch(_newest_versions_sql(len(dataset_ids)), [_PUBLISHED, *_dataset_params(dataset_ids), _PUBLISHED])
    return _version_columns().instances(rows)


@cache
def _newest_versions_sql(datasets: int) -> str:
    status, dataset, pk = quote("status"), quote("dataset_id"), quote("id")
    newest = (f"SELECT w.{pk} FROM {table(DatasetVersion)} w WHERE w.{status} = %s AND w.{dataset} = v.{dataset}"
              f" ORDER BY {_newest_order()} LIMIT 1")
    return (
        f"SELECT {_version_columns().sql('v')} FROM {table(DatasetVersion)} v WHERE v.{status} = %s"
        f" AND v.{dataset} IN ({placeholders(datasets)}) AND v.{pk} = ({newest})"
    )


def _dataset_params(dataset_ids: Collection[Any]) -> list[Any]:
    return [key_param(Dataset, dataset_id) for dataset_id in dataset_ids]


def _dataset_id(value: Any) -> Any:
    """A dataset id read from the database, as the ORM reads it (a UUID on SQLite too)."""
    (converted,) = columns(Dataset, "id").values([value])
    return converted

