"""Writes to the grants ledger, and the guardian projection derived from it.

Nothing else writes guardian's object-permission tables (``access.grant_moves`` moves many grants at once
for org events): every change re-derives the rows for the (grantee, object) pair it touched from the active
grants.
"""

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Max
from django.utils import timezone
from guardian.shortcuts import assign_perm, remove_perm
from guardian.utils import get_group_obj_perms_model, get_user_obj_perms_model

from access.audit import audit_record
from access.models import Grant, Level, OrgUnit, Person
from access.querysets import GrantQuerySet
from kura.db import insert_rows

_LEVEL_LABELS: dict[int, str] = dict(Level.choices)


def level_label(level: int) -> Any:
    """A level as ``Grant.get_level_display`` shows it."""
    return _LEVEL_LABELS.get(level, level)


def level_codenames(target: models.Model) -> dict[int, list[str]]:
    """The guardian permissions each level projects to, on ``target``'s model."""
    name = target._meta.model_name
    return {
        Level.VIEW: [f"view_{name}"],
        Level.READ: [f"view_{name}", f"read_{name}_data"],
        Level.MANAGE: [f"view_{name}", f"read_{name}_data", f"change_{name}"],
    }


def unit_group(unit: OrgUnit) -> Group:
    if unit.group_id is None:
        group, _ = Group.objects.get_or_create(name=f"org-unit:{unit.pk}")
        OrgUnit.objects.filter(pk=unit.pk).update(group=group)
        unit.group = group
    assert unit.group is not None
    return unit.group


def _grants_for(target: models.Model) -> GrantQuerySet:
    return Grant.objects.filter(target_type=ContentType.objects.get_for_model(target), target_id=target.pk)


def projection_sync(*, target: models.Model, person: Person | None = None, unit: OrgUnit | None = None) -> None:
    grants = _grants_for(target).active()
    if person is not None:
        level = grants.filter(grantee_person=person).aggregate(level=Max("level"))["level"]
        holder: Any = person.user
    else:
        assert unit is not None
        level = grants.filter(grantee_unit=unit).aggregate(level=Max("level"))["level"]
        holder = unit_group(unit)
    codenames = level_codenames(target)
    wanted = set(codenames[level]) if level else set()
    for codename in codenames[Level.MANAGE]:
        if codename in wanted:
            assign_perm(codename, holder, target)
        else:
            remove_perm(codename, holder, target)


def projection_sync_many(
    *, targets: Sequence[models.Model], person: Person | None = None, unit: OrgUnit | None = None
) -> None:
    """``projection_sync`` for many targets of one model and one grantee, in a handful of statements.

    Works on guardian's direct-foreign-key tables by id (guardian's own bulk helpers load every object and
    permission row as model instances first, which dominated a 20,000-grant merge).
    """
    if not targets:
        return
    model = type(targets[0])
    target_ids = [target.pk for target in targets]
    grants = Grant.objects.active().filter(target_type=ContentType.objects.get_for_model(model),
                                           target_id__in=target_ids)
    holder: Any
    perms_model: Any
    if person is not None:
        grants, holder = grants.filter(grantee_person=person), person.user
        perms_model = get_user_obj_perms_model(targets[0])
    else:
        assert unit is not None
        grants, holder = grants.filter(grantee_unit=unit), unit_group(unit)
        perms_model = get_group_obj_perms_model(targets[0])
    if perms_model.objects.is_generic():  # no direct-FK table for this model: guardian's generic path
        for target in targets:
            projection_sync(target=target, person=person, unit=unit)
        return
    levels: dict[Any, int] = dict(
        grants.order_by().values("target_id").annotate(level=Max("level")).values_list("target_id", "level")
    )
    codenames = level_codenames(targets[0])
    permission_ids = dict(
        Permission.objects.filter(content_type=ContentType.objects.get_for_model(model),
                                  codename__in=codenames[Level.MANAGE]).values_list("codename", "pk")
    )
    wanted = {
        (target_id, permission_ids[codename])
        for target_id, level in levels.items()
        for codename in codenames[level]
    }
    holder_field = "user" if person is not None else "group"
    existing = {
        (target_id, permission_id): row_id
        for row_id, target_id, permission_id in perms_model.objects.filter(
            **{holder_field: holder}, content_object_id__in=target_ids, permission_id__in=permission_ids.values()
        ).values_list("pk", "content_object_id", "permission_id")
    }
    stale = [row_id for key, row_id in existing.items() if key not in wanted]
    if stale:
        perms_model.objects.filter(pk__in=stale).delete()
    insert_rows(
        perms_model,
        [
            perms_model(**{holder_field: holder}, content_object_id=target_id, permission_id=permission_id)
            for target_id, permission_id in wanted - existing.keys()
        ],
    )


class Targeted(Protocol):
    """What ``targets_of_grants`` reads of a grant: a ``Grant`` or a row of one."""

    @property
    def pk(self) -> Any: ...

    @property
    def target_type_id(self) -> int: ...

    @property
    def target_id(self) -> Any: ...


def targets_of_grants(
    grants: Sequence[Targeted], known: Mapping[tuple[int, Any], models.Model] | None = None
) -> dict[tuple[int, Any], models.Model]:
    """The grants' target objects by (content type id, object pk), one query per content type (instead of one
    per grant); ``known`` targets (e.g. loaded while planning) are reused."""
    found: dict[tuple[int, Any], models.Model] = dict(known or {})
    ids_by_type: dict[int, list[Any]] = defaultdict(list)
    for grant in grants:
        if (grant.target_type_id, grant.target_id) not in found:
            ids_by_type[grant.target_type_id].append(grant.target_id)
    for type_id, ids in ids_by_type.items():
        model = ContentType.objects.get_for_id(type_id).model_class()
        assert model is not None
        for pk, obj in model._default_manager.in_bulk(ids).items():
            found[(type_id, pk)] = obj
    missing = [grant.pk for grant in grants if (grant.target_type_id, grant.target_id) not in found]
    if missing:
        raise LookupError(f"Grants {missing[:5]} point at deleted objects")
    return found


def grant_snapshot(
    *, grantee: str, level: int, basis: str, expires_at: datetime | None, revoked_at: datetime | None,
    suspended_at: datetime | None,
) -> dict[str, Any]:
    """How the audit trail records a grant, before and after a change."""
    return {
        "grantee": grantee,
        "level": level_label(level),
        "basis": basis,
        "expires_at": expires_at,
        "revoked_at": revoked_at,
        "suspended_at": suspended_at,
    }


def snapshot_of(grant: Grant) -> dict[str, Any]:
    return grant_snapshot(grantee=grant.grantee_label, level=grant.level, basis=grant.basis,
                          expires_at=grant.expires_at, revoked_at=grant.revoked_at, suspended_at=grant.suspended_at)


@transaction.atomic
def grant_create(
    *,
    target: models.Model,
    level: int,
    basis: str,
    granted_by: Person | None,
    grantee_person: Person | None = None,
    grantee_unit: OrgUnit | None = None,
    justification: str = "",
    expires_at: datetime | None = None,
    request: Any = None,
    replaces: Grant | None = None,
    reason: str = "",
) -> Grant:
    if (grantee_person is None) == (grantee_unit is None):
        raise ValidationError("A grant goes to exactly one person or one org unit.")
    if level not in Level.values:
        raise ValidationError({"level": "Unknown access level."})
    if grantee_person is not None and grantee_person.status != Person.Status.ACTIVE:
        raise ValidationError("Access cannot be granted to a person who has departed.")
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": "The expiry must be in the future."})
    grant = Grant.objects.create(
        target_type=ContentType.objects.get_for_model(target),
        target_id=target.pk,
        grantee_person=grantee_person,
        grantee_unit=grantee_unit,
        level=level,
        basis=basis,
        granted_by=granted_by,
        justification=justification,
        expires_at=expires_at,
        request=request,
        replaces=replaces,
    )
    audit_record(actor=granted_by, action="grant.created", target=target, after=snapshot_of(grant),
                 reason=reason or justification)
    projection_sync(target=target, person=grantee_person, unit=grantee_unit)
    return grant


@transaction.atomic
def grant_revoke(*, grant: Grant, actor: Person | None, reason: str) -> Grant:
    grant = Grant.objects.select_for_update().get(pk=grant.pk)
    if grant.revoked_at is not None:
        return grant
    if not reason.strip():
        raise ValidationError({"reason": "Say why the access is revoked."})
    before = snapshot_of(grant)
    grant.revoked_at = timezone.now()
    grant.revoked_by = actor
    grant.revoke_reason = reason.strip()[:300]
    grant.save(update_fields=["revoked_at", "revoked_by", "revoke_reason"])
    audit_record(actor=actor, action="grant.revoked", target=grant.target_object, before=before,
                 after=snapshot_of(grant), reason=reason)
    projection_sync(target=grant.target_object, person=grant.grantee_person, unit=grant.grantee_unit)
    return grant


@transaction.atomic
def grants_suspend_for_person(*, person: Person, actor: Person | None, reason: str) -> int:
    now = timezone.now()
    grants = list(Grant.objects.active(now).filter(grantee_person=person).select_for_update())
    for grant in grants:
        before = snapshot_of(grant)
        grant.suspended_at = now
        grant.save(update_fields=["suspended_at"])
        audit_record(actor=actor, action="grant.suspended", target=grant.target_object, before=before,
                     after=snapshot_of(grant), reason=reason)
        projection_sync(target=grant.target_object, person=person)
    return len(grants)


def grants_record_expiries(*, now: datetime | None = None) -> int:
    """Write the audit trail for grants whose time ran out, and drop them from the projection.

    Access already ended at ``expires_at`` (the permission query checks it); this records the fact.
    """
    now = now or timezone.now()
    due = Grant.objects.filter(
        expires_at__lte=now, expiry_recorded_at__isnull=True, revoked_at__isnull=True
    ).values_list("pk", flat=True)
    count = 0
    for grant_id in list(due[:5000]):
        with transaction.atomic():
            grant = Grant.objects.select_for_update().get(pk=grant_id)
            if grant.expiry_recorded_at is not None:
                continue
            grant.expiry_recorded_at = now
            grant.save(update_fields=["expiry_recorded_at"])
            audit_record(actor=None, action="grant.expired", target=grant.target_object, after=snapshot_of(grant))
            projection_sync(target=grant.target_object, person=grant.grantee_person, unit=grant.grantee_unit)
            count += 1
    return count
