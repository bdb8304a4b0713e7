"""Database helpers shared by the apps."""

from collections.abc import Sequence

from django.db import connections, models, router


def insert_rows(model: type[models.Model], objs: Sequence[models.Model], batch_size: int = 2000) -> None:
    """INSERT many new rows whose primary keys nobody needs back.

    On PostgreSQL this streams them with COPY, several times faster than ``bulk_create`` for tens of
    thousands of rows (a merge writes one audit event and projection row per moved grant); elsewhere it is
    ``bulk_create``. No ``save()`` or signals, as with ``bulk_create``.
    """
    if not objs:
        return
    alias = router.db_for_write(model)
    connection = connections[alias]
    if connection.vendor != "postgresql":
        model._default_manager.using(alias).bulk_create(objs, batch_size=batch_size)
        return
    fields = [field for field in model._meta.concrete_fields if not field.primary_key or field.has_default()]
    columns = ", ".join(connection.ops.quote_name(str(field.column)) for field in fields)
    statement = f"COPY {connection.ops.quote_name(model._meta.db_table)} ({columns}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        for obj in objs:
            copy.write_row(
                [field.get_db_prep_save(field.pre_save(obj, add=True), connection) for field in fields]
            )
