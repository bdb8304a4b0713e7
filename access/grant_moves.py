"""Moving many grants to a successor unit at once: what an org event (merge, split) does with unit grants.

Each moved grant ends exactly as ``grant_revoke`` followed by ``grant_create`` (with ``replaces``) would leave
it: the grant is revoked, the successor receives the same access with basis ``reorg``, each of the two steps
writes its audit event, and the guardian projection is re-derived for every (grantee, object) pair touched.
A merge moves tens of thousands of grants, so it is done per batch, never per grant: on PostgreSQL in
set-based statements (``access.grant_moves_pg``), elsewhere through the ORM in a fixed number of queries.
"""

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

from access import grant_moves_pg
from access.audit import AuditEntry, audit_record_many
from access.grants import projection_sync_many, snapshot_of, targets_of_grants
from access.models import Grant, OrgUnit, Person
from kura.db import copy_supported


def set_based_moves_supported() -> bool:
    return copy_supported(Grant)  # the SQL path is PostgreSQL's, as COPY is


@transaction.atomic
def grants_move_to_unit(
    *, grant_ids: Sequence[int], successor: OrgUnit, actor: Person | None, reason: str,
    known_targets: Mapping[tuple[int, Any], models.Model] | None = None,
) -> int:
    """Revoke each grant and grant the same access to ``successor`` as a ``reorg`` replacement; answer how many
    moved. Grants revoked meanwhile are not moved; all or nothing. ``known_targets`` (by content type id and
    object pk), e.g. loaded while planning, are not loaded again."""
    if not reason.strip():
        raise ValidationError({"reason": "Say why the access is revoked."})
    if not grant_ids:
        return 0
    move = grant_moves_pg.grants_move_in_sql if set_based_moves_supported() else _grants_move_with_orm
    return move(grant_ids=grant_ids, successor=successor, actor=actor, reason=reason, known_targets=known_targets)


def _grants_move_with_orm(
    *, grant_ids: Sequence[int], successor: OrgUnit, actor: Person | None, reason: str,
    known_targets: Mapping[tuple[int, Any], models.Model] | None,
) -> int:
    now = timezone.now()
    locked = list(
        Grant.objects.select_for_update(of=("self",))
        .filter(pk__in=grant_ids, revoked_at__isnull=True)
        .select_related("grantee_person", "grantee_unit")
        .order_by("pk")
    )
    if any(grant.expires_at is not None and grant.expires_at <= now for grant in locked):
        raise ValidationError({"expires_at": "The expiry must be in the future."})
    befores = [snapshot_of(grant) for grant in locked]
    revoke_reason = reason.strip()[:300]
    Grant.objects.filter(pk__in=[grant.pk for grant in locked]).update(
        revoked_at=now, revoked_by=actor, revoke_reason=revoke_reason
    )
    for grant in locked:
        grant.revoked_at, grant.revoked_by, grant.revoke_reason = now, actor, revoke_reason
    replacements = Grant.objects.bulk_create(
        [
            Grant(
                target_type_id=grant.target_type_id, target_id=grant.target_id, grantee_unit=successor,
                level=grant.level, basis=Grant.Basis.REORG, granted_by=actor, justification=grant.justification,
                expires_at=grant.expires_at, replaces=grant,
            )
            for grant in locked
        ],
        batch_size=2000,
    )  # fmt: skip
    targets = targets_of_grants(locked, known=known_targets)
    entries = []
    for grant, before, replacement in zip(locked, befores, replacements, strict=True):
        target = targets[(grant.target_type_id, grant.target_id)]
        entries.append(AuditEntry("grant.revoked", target, before=before, after=snapshot_of(grant), reason=reason))
        entries.append(AuditEntry("grant.created", target, after=snapshot_of(replacement), reason=reason))
    audit_record_many(actor=actor, entries=entries)
    _sync_moved_projection(locked, targets, successor)
    return len(replacements)


def _sync_moved_projection(
    grants: Sequence[Grant], targets: dict[tuple[int, Any], models.Model], successor: OrgUnit
) -> None:
    by_holder: dict[tuple[str, Any], dict[tuple[int, Any], models.Model]] = defaultdict(dict)
    for grant in grants:
        key = (grant.target_type_id, grant.target_id)
        holder = ("person", grant.grantee_person) if grant.grantee_person else ("unit", grant.grantee_unit)
        by_holder[holder][key] = targets[key]
        by_holder[("unit", successor)][key] = targets[key]
    for (kind, holder), held in by_holder.items():
        by_type: dict[int, list[models.Model]] = defaultdict(list)
        for (type_id, _), target in held.items():
            by_type[type_id].append(target)
        for same_model in by_type.values():
            if kind == "person":
                projection_sync_many(targets=same_model, person=holder)
            else:
                projection_sync_many(targets=same_model, unit=holder)
