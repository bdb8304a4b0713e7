"""Database helpers shared by the apps."""

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connections, models, router


def insert_rows(model: type[models.Model], objs: Sequence[models.Model], batch_size: int = 2000) -> None:
    """INSERT many new rows whose primary keys nobody needs back.

    On PostgreSQL this streams them with COPY, several times faster than ``bulk_create`` for tens of
    thousands of rows (a merge writes one audit event and projection row per moved grant); elsewhere it is
    ``bulk_create``. No ``save()`` or signals, as with ``bulk_create``.
    """
    if not objs:
        return
    if not copy_supported(model):
        model._default_manager.using(router.db_for_write(model)).bulk_create(objs, batch_size=batch_size)
        return
    connection = connections[router.db_for_write(model)]
    fields = [field for field in model._meta.concrete_fields if not field.primary_key or field.has_default()]
    copy_rows(
        model,
        [str(field.attname) for field in fields],
        ([field.get_db_prep_save(field.pre_save(obj, add=True), connection) for field in fields] for obj in objs),
    )


def insert_values(
    model: type[models.Model], field_names: Sequence[str], rows: Sequence[Sequence[Any]], batch_size: int = 5000
) -> None:
    """New rows given as plain values (one per name in ``field_names``): COPY on PostgreSQL, ``bulk_create``
    elsewhere. For writers that hold the values already and would otherwise build an instance per row."""
    if copy_supported(model):
        copy_rows(model, field_names, rows)
        return
    objs = [model(**dict(zip(field_names, row, strict=True))) for row in rows]
    model._default_manager.using(router.db_for_write(model)).bulk_create(objs, batch_size=batch_size)


def insert_values_returning(
    model: type[models.Model],
    field_names: Sequence[str],
    rows: Sequence[Sequence[Any]],
    returning: Sequence[str],
    *,
    same: dict[str, Any] | None = None,
) -> list[tuple[Any, ...]]:
    """New rows given as plain values (one per name in ``field_names``, no JSON columns) and the values they all
    share (``same``, by name), skipping any that would break a unique constraint (ON CONFLICT DO NOTHING), as
    ``bulk_create(..., ignore_conflicts=True)`` does. Returns the ``returning`` columns (attnames) of the rows
    inserted here, not of those another writer holds, as the driver reads them.

    On PostgreSQL one statement takes each column as an array (unnest) and each shared value once: no model instance
    or parameter per value. Elsewhere rows go in batches of VALUES (SQLite has RETURNING too).
    """
    if not rows:
        return []
    same = same or {}
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    fields = {field.attname: field for field in model._meta.concrete_fields}
    target = [fields[name] for name in [*field_names, *same]]
    head = f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(str(field.column)) for field in target)})"
    tail = f" ON CONFLICT DO NOTHING RETURNING {', '.join(quote(str(fields[name].column)) for name in returning)}"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            arrays = ", ".join(f"%s::{field.db_type(connection)}[]" for field in target[: len(field_names)])
            shared = "".join(f", %s::{field.db_type(connection)}" for field in target[len(field_names) :])
            cursor.execute(f"{head} SELECT *{shared} FROM unnest({arrays}){tail}",  # noqa: S608 - names from the model
                           [*same.values(), *(list(column) for column in zip(*rows, strict=True))])
            return [tuple(row) for row in cursor.fetchall()]
        inserted: list[tuple[Any, ...]] = []
        size = max(1, connection.ops.bulk_batch_size(target, rows))
        row_sql = f"({', '.join(['%s'] * len(target))})"
        for start in range(0, len(rows), size):
            batch = rows[start : start + size]
            cursor.execute(f"{head} VALUES {', '.join([row_sql] * len(batch))}{tail}", [
                field.get_db_prep_save(value, connection)
                for row in batch for field, value in zip(target, [*row, *same.values()], strict=True)])
            inserted.extend(tuple(row) for row in cursor.fetchall())
        return inserted


def copy_supported(model: type[models.Model]) -> bool:
    return connections[router.db_for_write(model)].vendor == "postgresql"


def copy_rows(model: type[models.Model], field_names: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """COPY rows of plain values into ``model``'s table (PostgreSQL only: check ``copy_supported``).

    For bulk writers that hold the values already: no model instance or per-field preparation per row, which
    is most of ``insert_rows``' time. A row gives one value per name in ``field_names`` (attnames such as
    ``actor_id``), as PostgreSQL reads it in text form: JSON columns take JSON text, None is NULL.
    """
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    fields = {field.attname: field for field in model._meta.concrete_fields}
    columns = ", ".join(quote(str(fields[name].column)) for name in field_names)
    statement = f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)
