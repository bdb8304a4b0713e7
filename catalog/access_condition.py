"""The dataset permission condition, written as one SQL expression.

Why hand-written: built from Q objects, ``Exists`` and nested querysets, the same condition cost Django about
10 ms per request to resolve and compile, while the statement itself ran in 0.2 ms, and its extra nesting
cost PostgreSQL another millisecond to plan. Here Django compiles only the four dataset columns the
condition reads, so table aliases stay right wherever the queryset ends up (a subquery, a join, an
annotation); everything else is plain SQL with parameters, valid on PostgreSQL and SQLite alike.

The caller's memberships are read inside the statement, not fetched beforehand, so a condition can never
act on a stale picture of who belongs where. Grant expiry is checked in the statement too, so an expired
grant is refused before any cleanup job has run.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal, cast
from uuid import UUID

from django.contrib.contenttypes.models import ContentType
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import BooleanField, Expression, F, Field, Model
from django.db.models.sql.compiler import SQLCompiler

from access.models import Grant, Membership, OrgUnit
from kura.statements import key_param

Part = Literal["whole", "internal", "others"]
_STEWARD_ROLES = (Membership.Role.STEWARD.value, Membership.Role.HEAD.value)


@dataclass(frozen=True)
class Caller:
    """Who asks: a person (memberships looked up in the statement) or the org unit behind a unit token."""

    person_id: int | None = None
    unit_id: UUID | None = None


class DatasetAccess(Expression):
    """True for the dataset rows ``caller`` may act on with a grant of at least ``min_level``.

    ``include_internal`` adds "every internal dataset" (metadata is visible to everyone signed in). People
    also qualify as the dataset's owner, one of its stewards, or a steward/head of its owning unit.
    """

    output_field = BooleanField()  # one for the class: a Field per condition cost more than its SQL

    def __init__(
        self, *, model: type[Model], caller: Caller, min_level: int, include_internal: bool, at: datetime
    ) -> None:
        super().__init__()
        self.model = model  # the Dataset model (passed in: this module loads before it)
        self.caller = caller
        self.min_level = min_level
        self.include_internal = include_internal
        self.at = at
        self.part: Part = "whole"
        self.row_by_row = False
        self.columns: list[Any] = [F("pk"), F("visibility"), F("owner"), F("owning_unit")]

    def asked_row_by_row(self) -> "DatasetAccess":
        """The same condition, asked of each row on its own (PostgreSQL; elsewhere unchanged).

        For a page's keys, a few index probes per row cost less than what PostgreSQL otherwise plans: hashing
        every grant the caller holds first, several milliseconds for someone whose unit holds thousands (it
        takes a unit for one with a few dozen). Not for a search: over thousands of matches, per-row probes cost
        more than the hash for most callers (measured with the bench's callers).
        """
        row_by_row = self.copy()
        row_by_row.row_by_row = True
        return row_by_row

    def split_by_visibility(self) -> "tuple[DatasetAccess, DatasetAccess] | None":
        """The condition as two disjoint halves, internal rows and the rest, or None if it has no internal arm.

        Counting each half apart lets PostgreSQL count internal rows from the visibility index alone and check
        permissions only on the others, where one OR over both made it test every row of the table.
        """
        if not self.include_internal:
            return None
        internal, others = self.copy(), self.copy()
        internal.part, others.part = "internal", "others"
        return internal, others

    def get_source_expressions(self) -> list[Any]:
        return self.columns

    def set_source_expressions(self, exprs: Sequence[Any]) -> None:
        self.columns = list(exprs)

    def as_sql(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper) -> tuple[str, tuple[Any, ...]]:
        pk, visibility, owner, owning_unit = (compiler.compile(column)[0] for column in self.columns)
        return self._sql(connection, pk=pk, visibility=visibility, owner=owner, owning_unit=owning_unit)

    def sql_over(self, table: str, connection: BaseDatabaseWrapper) -> tuple[str, tuple[Any, ...]]:
        """The same condition over the dataset table (or its alias) ``table``, for a statement written out by
        hand: no queryset to build and compile."""
        pk, visibility, owner, owning_unit = _columns_over(connection.alias, self.model, table)
        return self._sql(connection, pk=pk, visibility=visibility, owner=owner, owning_unit=owning_unit)

    def _sql(
        self, connection: BaseDatabaseWrapper, *, pk: str, visibility: str, owner: str, owning_unit: str
    ) -> tuple[str, tuple[Any, ...]]:
        caller = self.caller
        shape = _Shape(
            alias=connection.alias,
            model=self.model,
            part=self.part,
            include_internal=self.include_internal,
            by_unit=caller.unit_id is not None,
            by_person=caller.person_id is not None,
            columns=(pk, visibility, owner, owning_unit),
            row_by_row=self.row_by_row,
        )
        text, slots = _condition(shape)
        return text, self._params(slots, connection)

    def _params(self, slots: tuple[str, ...], connection: BaseDatabaseWrapper) -> tuple[Any, ...]:
        """The values for a condition's parameter slots (see ``_condition``), in their order."""
        if not slots:
            return ()
        now = connection.ops.adapt_datetimefield_value(self.at)
        caller = self.caller
        values = {
            "internal": self.model.Visibility.INTERNAL.value,  # type: ignore[attr-defined]
            "content_type": ContentType.objects.get_for_model(self.model).pk,
            "level": self.min_level,
            "now": now,
            "person": caller.person_id,
            "unit": key_param(OrgUnit, caller.unit_id, connection) if caller.unit_id is not None else None,
            "steward_role": _STEWARD_ROLES[0],
            "head_role": _STEWARD_ROLES[1],
        }
        params: list[Any] = []
        for slot in slots:
            if slot == "others":
                params += _other_visibilities(self.model)
            else:
                params.append(values[slot])
        return tuple(params)


@dataclass(frozen=True)
class _Shape:
    """What the condition's SQL text depends on; everything else is a parameter."""

    alias: str
    model: type[Model]
    part: Part
    include_internal: bool
    by_unit: bool
    by_person: bool
    columns: tuple[str, str, str, str]
    row_by_row: bool = False


@lru_cache(maxsize=64)
def _columns_over(alias: str, model: type[Model], table: str) -> tuple[str, str, str, str]:
    quote = connections[alias].ops.quote_name
    names = ("id", "visibility", "owner", "owning_unit")
    fields = [cast("Field[Any, Any]", model._meta.get_field(name)) for name in names]
    pk, visibility, owner, owning_unit = (f"{table}.{quote(str(field.column))}" for field in fields)
    return pk, visibility, owner, owning_unit


def _other_visibilities(model: type[Model]) -> list[str]:
    internal = model.Visibility.INTERNAL.value  # type: ignore[attr-defined]
    return [value for value in model.Visibility.values if value != internal]  # type: ignore[attr-defined]


@lru_cache(maxsize=512)
def _condition(shape: _Shape) -> tuple[str, tuple[str, ...]]:
    """The condition's SQL for one shape, written once per process, and the name of each of its parameters
    (``others`` stands for all visibilities but internal), so text and values cannot drift apart."""
    pk, visibility, owner, owning_unit = shape.columns
    if shape.part == "internal":
        return f"{visibility} = %s", ("internal",)
    tables = _Tables(connections[shape.alias], shape.model)
    with_internal = shape.include_internal and shape.part == "whole"
    arms: list[str] = [f"{visibility} = %s"] if with_internal else []
    slots: list[str] = ["internal"] if with_internal else []
    grant_sql = (
        f"EXISTS (SELECT 1 FROM {tables.grant} kura_acl_g WHERE kura_acl_g.target_type_id = %s"
        f" AND kura_acl_g.target_id = {pk} AND kura_acl_g.level >= %s"
        " AND kura_acl_g.revoked_at IS NULL AND kura_acl_g.suspended_at IS NULL AND kura_acl_g.starts_at <= %s"
        " AND (kura_acl_g.expires_at IS NULL OR kura_acl_g.expires_at > %s) AND {grantee})"
    )
    grant_slots = ["content_type", "level", "now", "now"]
    memberships = ["person", "now", "now"]  # _memberships_sql's parameters
    if shape.by_unit:
        arms.append(grant_sql.format(grantee="kura_acl_g.grantee_unit_id = %s"))
        slots += [*grant_slots, "unit"]
    if shape.by_person:
        arms.append(f"{owner} = %s")
        arms.append(
            f"{pk} IN (SELECT kura_acl_s.dataset_id FROM {tables.stewards} kura_acl_s WHERE kura_acl_s.person_id = %s)"
        )
        arms.append(f"{owning_unit} IN ({_memberships_sql(tables, roles=True)})")
        # One EXISTS per way of holding a grant, as separate OR arms: each is then an index probe for a
        # single dataset, and PostgreSQL can hash the caller's grants once when it checks a whole list.
        arms.append(grant_sql.format(grantee="kura_acl_g.grantee_person_id = %s"))
        arms.append(grant_sql.format(grantee=f"kura_acl_g.grantee_unit_id IN ({_memberships_sql(tables)})"))
        slots += ["person", "person", "person", "steward_role", "head_role", "now", "now"]
        slots += [*grant_slots, "person"]
        slots += [*grant_slots, *memberships]
    if not arms:
        return "1 = 0", ()
    if shape.row_by_row and connections[shape.alias].vendor == "postgresql" and len(arms) > with_internal:
        # A scalar subquery is planned on its own and run per row (OFFSET 0 keeps it from being pulled up);
        # the internal arm stays outside it, so most rows never start it.
        internal = 1 if with_internal else 0
        arms = [*arms[:internal], f"(SELECT ({' OR '.join(arms[internal:])}) OFFSET 0)"]
    condition = "(" + " OR ".join(arms) + ")"
    if shape.part == "others":
        # Equality, not "<> internal", so the visibility index serves it; the model's check constraint
        # guarantees the listed values are all there are.
        others = _other_visibilities(shape.model)
        condition = f"{visibility} IN ({', '.join(['%s'] * len(others))}) AND {condition}"
        slots.insert(0, "others")
    return condition, tuple(slots)


class _Tables:
    def __init__(self, connection: BaseDatabaseWrapper, dataset_model: type[Model]) -> None:
        quote = connection.ops.quote_name
        self.grant = quote(Grant._meta.db_table)
        self.membership = quote(Membership._meta.db_table)
        self.stewards = quote(dataset_model.stewards.through._meta.db_table)  # type: ignore[attr-defined]


def _memberships_sql(tables: _Tables, *, roles: bool = False) -> str:
    """Units a person belongs to now; parameters: person, [two steward roles,] now, now."""
    role_test = " AND kura_acl_m.role IN (%s, %s)" if roles else ""
    return (
        f"SELECT kura_acl_m.unit_id FROM {tables.membership} kura_acl_m WHERE kura_acl_m.person_id = %s{role_test}"
        " AND kura_acl_m.valid_from <= %s AND (kura_acl_m.valid_to IS NULL OR kura_acl_m.valid_to > %s)"
    )

