"""``grants_move_to_unit`` on PostgreSQL: set-based statements instead of a model instance per grant.

At issue 3's scale a merge moves 20,000 grants. Loading them, creating their replacements through the ORM and
re-deriving guardian rows from model instances took most of the merge; here the ledger changes in two
statements (UPDATE … RETURNING revokes the grants and yields what the audit trail needs, INSERT … SELECT
writes the replacements), the audit events stream in with COPY, and each (holder, model) pair of guardian's
direct-foreign-key table is re-derived from the active grants in one statement. The result is the same as
the ORM path in ``access.grant_moves`` (tests compare both).
"""

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import connection, models
from django.db.models import Max
from django.utils import timezone
from guardian.utils import get_group_obj_perms_model, get_user_obj_perms_model

from access.audit import AuditEntry, audit_record_many
from access.grants import grant_snapshot, level_codenames, projection_sync, targets_of_grants, unit_group
from access.models import Grant, Level, OrgUnit, Person

_MOVED_COLUMNS = (
    "id", "target_type_id", "target_id", "grantee_person_id", "grantee_unit_id", "level", "basis", "expires_at",
    "suspended_at",
)  # fmt: skip


class _Moved(NamedTuple):
    """A grant the move revoked: the columns of ``_MOVED_COLUMNS``, in order, which revoking leaves as they were."""

    pk: int
    target_type_id: int
    target_id: Any
    grantee_person_id: int | None
    grantee_unit_id: UUID | None
    level: int
    basis: str
    expires_at: datetime | None
    suspended_at: datetime | None


def grants_move_in_sql(
    *, grant_ids: Sequence[int], successor: OrgUnit, actor: Person | None, reason: str,
    known_targets: Mapping[tuple[int, Any], models.Model] | None,
) -> int:
    """The caller holds the transaction: a failure after the first statement must undo it."""
    now = timezone.now()
    moved = _revoke(grant_ids, actor, reason, now)
    if any(grant.expires_at is not None and grant.expires_at <= now for grant in moved):
        raise ValidationError({"expires_at": "The expiry must be in the future."})
    _insert_replacements(moved, successor, actor, now)
    targets = targets_of_grants(moved, known=known_targets)
    people = Person.objects.in_bulk({grant.grantee_person_id for grant in moved} - {None})
    units = OrgUnit.objects.in_bulk({grant.grantee_unit_id for grant in moved} - {None})
    _record_audit(moved, targets, people, units, successor, actor, reason, now)
    _sync_projection(moved, targets, people, units, successor)
    return len(moved)


def _revoke(grant_ids: Sequence[int], actor: Person | None, reason: str, now: datetime) -> list[_Moved]:
    """Revoke the grants not revoked meanwhile (the UPDATE locks them); answer them in id order, the order the
    replacements and audit events are written in."""
    table = connection.ops.quote_name(Grant._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET revoked_at = %s, revoked_by_id = %s, revoke_reason = %s"  # noqa: S608
            f" WHERE id = ANY(%s::bigint[]) AND revoked_at IS NULL RETURNING {', '.join(_MOVED_COLUMNS)}",
            [now, actor.pk if actor else None, reason.strip()[:300], list(grant_ids)],
        )
        return sorted(_Moved(*row) for row in cursor.fetchall())


def _insert_replacements(moved: Sequence[_Moved], successor: OrgUnit, actor: Person | None, now: datetime) -> None:
    """One ``reorg`` grant to ``successor`` per moved grant, as the ORM path writes it (every column is named:
    a new ``Grant`` field must be added here, and the tests comparing both paths say so)."""
    table = connection.ops.quote_name(Grant._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (target_type_id, target_id, grantee_person_id, grantee_unit_id, level,"  # noqa: S608
            " basis, granted_by_id, justification, request_id, replaces_id, starts_at, expires_at, revoked_at,"
            " revoked_by_id, revoke_reason, suspended_at, expiry_recorded_at, created_at)"
            " SELECT target_type_id, target_id, NULL, %s, level, %s, %s, justification, NULL, id, %s, expires_at,"
            f" NULL, NULL, '', NULL, NULL, %s FROM {table} WHERE id = ANY(%s::bigint[]) ORDER BY id",
            [successor.pk, Grant.Basis.REORG.value, actor.pk if actor else None, now, now,
             [grant.pk for grant in moved]],
        )  # fmt: skip


def _record_audit(
    moved: Sequence[_Moved], targets: dict[tuple[int, Any], models.Model], people: dict[Any, Person],
    units: dict[Any, OrgUnit], successor: OrgUnit, actor: Person | None, reason: str, now: datetime,
) -> None:
    """Per grant, in id order: its revocation, then its replacement's creation."""
    successor_label = str(successor)
    entries = []
    for grant in moved:
        target = targets[(grant.target_type_id, grant.target_id)]
        grantee = people[grant.grantee_person_id] if grant.grantee_person_id else units[grant.grantee_unit_id]
        before = grant_snapshot(grantee=str(grantee), level=grant.level, basis=grant.basis,
                                expires_at=grant.expires_at, revoked_at=None, suspended_at=grant.suspended_at)
        created = grant_snapshot(grantee=successor_label, level=grant.level, basis=Grant.Basis.REORG.value,
                                 expires_at=grant.expires_at, revoked_at=None, suspended_at=None)
        entries.append(AuditEntry("grant.revoked", target, before=before, after={**before, "revoked_at": now},
                                  reason=reason))
        entries.append(AuditEntry("grant.created", target, after=created, reason=reason))
    audit_record_many(actor=actor, entries=entries)


def _sync_projection(
    moved: Sequence[_Moved], targets: dict[tuple[int, Any], models.Model], people: dict[Any, Person],
    units: dict[Any, OrgUnit], successor: OrgUnit,
) -> None:
    """Re-derive guardian's rows for every (holder, object) pair the move touched: the former grantees' and
    the successor's."""
    held: dict[tuple[str, Any], dict[int, set[Any]]] = defaultdict(lambda: defaultdict(set))
    for grant in moved:
        holder = ("person", grant.grantee_person_id) if grant.grantee_person_id else ("unit", grant.grantee_unit_id)
        held[holder][grant.target_type_id].add(grant.target_id)
        held[("unit", successor.pk)][grant.target_type_id].add(grant.target_id)
    for (kind, holder_pk), by_type in held.items():
        if kind == "person":
            person, unit = people[holder_pk], None
        else:
            person, unit = None, successor if holder_pk == successor.pk else units[holder_pk]
        for type_id, target_ids in by_type.items():
            same_model = [targets[(type_id, target_id)] for target_id in sorted(target_ids)]
            perms_model: Any = (
                get_user_obj_perms_model(same_model[0]) if person else get_group_obj_perms_model(same_model[0])
            )
            if perms_model.objects.is_generic():  # no direct-FK table for this model: guardian's own path
                for target in same_model:
                    projection_sync(target=target, person=person, unit=unit)
            else:
                _resync_direct_rows(perms_model, same_model, person=person, unit=unit)


def _resync_direct_rows(
    perms_model: Any, targets: list[models.Model], *, person: Person | None, unit: OrgUnit | None
) -> None:
    """``projection_sync`` for one holder and many objects of one model, as one statement.

    ``wanted`` is the rows the holder's active grants call for; rows of these objects that are not wanted go,
    wanted rows that are missing are added. Both parts see the table as it was before the statement.
    """
    target_ids = [target.pk for target in targets]
    type_id = ContentType.objects.get_for_model(targets[0]).pk
    grants = Grant.objects.active().filter(target_type_id=type_id)
    if person is not None:
        holder_field, holder_pk = "user", person.user_id
        grants = grants.filter(grantee_person=person)
    else:
        assert unit is not None
        holder_field, holder_pk = "group", unit_group(unit).pk
        grants = grants.filter(grantee_unit=unit)
    levels_sql, levels_params = (
        grants.order_by().values("target_id").annotate(level=Max("level")).query.sql_with_params()
    )
    codenames = level_codenames(targets[0])
    permission_ids = dict(
        Permission.objects.filter(content_type_id=type_id, codename__in=codenames[Level.MANAGE])
        .values_list("codename", "pk")
    )
    derived = [(level, permission_ids[codename]) for level, names in codenames.items() for codename in names]
    quote = connection.ops.quote_name
    table = quote(perms_model._meta.db_table)
    holder, permission, target = (
        quote(perms_model._meta.get_field(name).column) for name in (holder_field, "permission", "content_object")
    )
    target_type = Grant._meta.get_field("target_id").db_type(connection)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH wanted AS MATERIALIZED (
                SELECT held.target_id, derived.permission_id
                FROM ({levels_sql}) AS held
                JOIN unnest(%s::integer[], %s::integer[]) AS derived (level, permission_id)
                    ON derived.level = held.level
                WHERE held.target_id = ANY(%s::{target_type}[])
            ), stale AS (
                DELETE FROM {table} AS existing
                WHERE existing.{holder} = %s AND existing.{target} = ANY(%s::{target_type}[])
                    AND existing.{permission} = ANY(%s::integer[])
                    AND NOT EXISTS (
                        SELECT 1 FROM wanted WHERE wanted.target_id = existing.{target}
                            AND wanted.permission_id = existing.{permission}
                    )
            )
            INSERT INTO {table} ({holder}, {permission}, {target})
            SELECT %s, wanted.permission_id, wanted.target_id FROM wanted
            WHERE NOT EXISTS (
                SELECT 1 FROM {table} AS existing
                WHERE existing.{holder} = %s AND existing.{target} = wanted.target_id
                    AND existing.{permission} = wanted.permission_id
            )
            """,  # noqa: S608 - names from the models, values bound
            [
                *levels_params, [level for level, _ in derived], [pk for _, pk in derived], target_ids,
                holder_pk, target_ids, list(permission_ids.values()),
                holder_pk, holder_pk,
            ],
        )  # fmt: skip
