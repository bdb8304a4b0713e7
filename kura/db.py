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
