"""Hand-written statements for hot write paths, reading and writing values exactly as the ORM does.

Why: building and compiling a queryset costs Django 0.3 to 1 ms of Python per statement, several times what a
simple indexed statement costs PostgreSQL, and a request that runs a dozen of them (an OpenLineage event)
spends most of its time there. Here each statement's SQL is written once per process from the models'
metadata; parameters go through each field's ``pre_save`` and ``get_db_prep_save`` and results through the
backend's and the field's converters, as in the ORM, so callers still deal in model instances, and the SQL
stays valid on PostgreSQL and SQLite alike.

No signals are sent, as with ``bulk_create`` and ``QuerySet.update``.
"""

from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import cache
from typing import Any, Generic, TypeVar, cast

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model

M = TypeVar("M", bound=Model)
Row = tuple[Any, ...]
Converter = Callable[[Any, Any, Any], Any]


def quote(name: str) -> str:
    return str(_db().ops.quote_name(name))


def table(model: type[Model]) -> str:
    return quote(model._meta.db_table)


def placeholders(count: int) -> str:
    return ", ".join(["%s"] * count)


def _db() -> BaseDatabaseWrapper:
    """This thread's connection itself: ``django.db.connection`` is a proxy that looks it up on every use."""
    return connections[DEFAULT_DB_ALIAS]


def fetch(sql: str, params: Sequence[Any]) -> list[Row]:
    """The rows of one statement that returns rows, as the database driver returns them."""
    with _db().cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def execute(sql: str, params: Sequence[Any]) -> None:
    """One statement that returns no rows."""
    with _db().cursor() as cursor:
        cursor.execute(sql, params)


class Columns(Generic[M]):
    """Some concrete fields of a model, in the model's field order: their SQL, their parameters, their values."""

    def __init__(self, model: type[M], names: Iterable[str]) -> None:
        wanted = set(names)
        self.model = model
        self.fields: tuple[Field[Any, Any], ...] = tuple(
            field for field in model._meta.concrete_fields if field.attname in wanted
        )
        if len(self.fields) != len(wanted):
            raise ValueError(f"{model.__name__} has no concrete fields named {sorted(wanted)}")
        self.attnames = [field.attname for field in self.fields]
        self._converters = [_converters(field) for field in self.fields]
        self._converting = any(converters is not None for converters in self._converters)

    def sql(self, alias: str = "") -> str:
        prefix = f"{alias}." if alias else ""
        return ", ".join(prefix + quote(str(field.column)) for field in self.fields)

    def params(self, obj: Model, *, add: bool) -> list[Any]:
        """The object's values for these columns, as ``save()`` would send them."""
        db = _db()
        return [field.get_db_prep_save(field.pre_save(obj, add), db) for field in self.fields]

    def values(self, row: Sequence[Any]) -> Row:
        """A row of these columns converted as the ORM converts what it reads (UUIDs and times on SQLite, JSON)."""
        if not self._converting:
            return tuple(row)
        db = _db()
        return tuple(
            _convert(value, converters, db) if converters is not None else value
            for value, converters in zip(row, self._converters, strict=True)
        )

    def instances(self, rows: Iterable[Sequence[Any]]) -> list[M]:
        """Instances as the ORM builds them from rows of these columns; other fields are deferred (read on access)."""
        return [self.model.from_db(DEFAULT_DB_ALIAS, self.attnames, self.values(row)) for row in rows]


def joined_instance(columns: Columns[M], values: Iterator[Any]) -> M | None:
    """The next instance in a joined row (its columns consumed from ``values``); None where a LEFT JOIN found no
    row (its key is NULL)."""
    own = [next(values) for _ in columns.fields]
    key = own[columns.attnames.index(columns.model._meta.pk.attname)]
    return columns.instances([own])[0] if key is not None else None


def _converters(field: "Field[Any, Any]") -> tuple[Any, list[Converter]] | None:
    column = field.get_col(field.model._meta.db_table)
    db = _db()
    found = db.ops.get_db_converters(column) + column.get_db_converters(db)
    return (column, found) if found else None


def _convert(value: Any, converters: tuple[Any, list[Converter]], db: BaseDatabaseWrapper) -> Any:
    column, functions = converters
    for function in functions:
        value = function(value, column, db)
    return value


def columns(model: type[M], *names: str) -> Columns[M]:
    """The columns ``names`` (attribute names, any order) of ``model``, in the model's order; built once."""
    return cast(Columns[M], _columns_named(model, names))


@cache
def _columns_named(model: type[Model], names: tuple[str, ...]) -> Columns[Any]:
    return _columns(model, frozenset(names))


@cache
def _columns(model: type[Model], names: frozenset[str]) -> Columns[Any]:
    return Columns(model, names)


def all_columns(model: type[M]) -> Columns[M]:
    return cast(Columns[M], _all_columns(model))


@cache
def _all_columns(model: type[Model]) -> Columns[Any]:
    return _columns(model, frozenset(field.attname for field in model._meta.concrete_fields))


def inserted_columns(model: type[M]) -> Columns[M]:
    """Every column but an auto-assigned primary key."""
    return cast(Columns[M], _inserted_columns(model))


@cache
def _inserted_columns(model: type[Model]) -> Columns[Any]:
    meta = model._meta
    auto = meta.pk if meta.pk is not None and meta.pk.db_returning else None
    return _columns(model, frozenset(field.attname for field in meta.concrete_fields if field is not auto))


def insert(obj: Model) -> None:
    """``obj.save()`` of a new row, in one statement; sets the primary key the database assigned."""
    target = inserted_columns(type(obj))
    returned = columns(type(obj), obj._meta.pk.attname)
    (row,) = fetch(_insert_sql(target, 1, returned, ignore_conflicts=False), target.params(obj, add=True))
    stored(obj, returned.values(row)[0])


def stored(obj: Model, pk: Any) -> None:
    """Mark ``obj`` as the row just inserted with primary key ``pk``, as ``save()`` leaves it."""
    obj.pk = pk
    obj._state.adding, obj._state.db = False, DEFAULT_DB_ALIAS


def insert_ignoring_conflicts(objs: Sequence[M], *, returning: bool = False) -> list[M]:
    """``bulk_create(objs, ignore_conflicts=True)`` in one statement: a row that would break a unique constraint
    is skipped. With ``returning``, the rows actually inserted come back as new instances (every column)."""
    if not objs:
        return []
    model = type(objs[0])
    target = inserted_columns(model)
    returned = all_columns(model) if returning else None
    params = [param for obj in objs for param in target.params(obj, add=True)]
    sql = _insert_sql(target, len(objs), returned, ignore_conflicts=True)
    if returned is None:
        execute(sql, params)
        return []
    return returned.instances(fetch(sql, params))


@cache
def _insert_sql(target: Columns[Any], count: int, returning: Columns[Any] | None, *, ignore_conflicts: bool) -> str:
    rows = ", ".join([f"({placeholders(len(target.fields))})"] * count)
    sql = f"INSERT INTO {table(target.model)} ({target.sql()}) VALUES {rows}"
    if ignore_conflicts:
        sql += " ON CONFLICT DO NOTHING"
    return sql + (f" RETURNING {returning.sql()}" if returning is not None else "")


def key_param(model: type[Model], value: Any, connection: BaseDatabaseWrapper | None = None) -> Any:
    """A primary key value as a statement parameter, in the backend's form (SQLite keeps UUIDs as hex text)."""
    pk = model._meta.pk
    assert pk is not None
    return pk.get_db_prep_value(value, connection or _db())


def update(obj: Model, names: Sequence[str]) -> None:
    """``obj.save(update_fields=names)`` in one statement."""
    target = columns(type(obj), *names)
    execute(_update_sql(target), [*target.params(obj, add=False), key_param(type(obj), obj.pk)])


@cache
def _update_sql(target: Columns[Any]) -> str:
    assignments = ", ".join(f"{quote(str(field.column))} = %s" for field in target.fields)
    return f"UPDATE {table(target.model)} SET {assignments} WHERE {quote(str(target.model._meta.pk.column))} = %s"
