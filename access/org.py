"""Memberships, department aliases and org events (rename, move, merge, split, retire).

Each event is first planned (``org_event_preview``) and then applied from the same plan, so what the
preview shows is exactly what happens. Objects that domain apps own per unit (datasets) are reached
through ``access.hooks``; this app imports none of them.
"""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

from access import hooks
from access.approvals import access_request_reroute, pending_requests_by_object
from access.audit import audit_record
from access.grant_moves import grants_move_to_unit
from access.grants import grant_revoke, level_label, targets_of_grants, unit_group
from access.models import (
    AccessRequest,
    ApiToken,
    GovernanceItem,
    Grant,
    Membership,
    OrgEvent,
    OrgUnit,
    OrgUnitAlias,
    Person,
)
from access.org_locks import UnitsSeen, merged_sources_emptied, units_lock_and_recheck, units_seen


def normalise_department(name: str) -> str:
    return " ".join(name.split()).casefold()


def unit_alias_add(*, unit: OrgUnit, name: str) -> OrgUnitAlias:
    alias, _ = OrgUnitAlias.objects.update_or_create(name=normalise_department(name), defaults={"unit": unit})
    return alias


def unit_for_department(name: str) -> OrgUnit | None:
    alias = OrgUnitAlias.objects.select_related("unit").filter(name=normalise_department(name)).first()
    return alias.unit if alias else None


@transaction.atomic
def membership_start(*, person: Person, unit: OrgUnit, role: str = Membership.Role.MEMBER,
                     actor: Person | None = None) -> Membership:
    current = Membership.objects.current().filter(person=person, unit=unit, role=role).first()
    if current is not None:
        if current.valid_to is not None:  # a mover coming back within the grace period
            current.valid_to, current.end_reason = None, ""
            current.save(update_fields=["valid_to", "end_reason"])
        return current
    membership = Membership.objects.create(person=person, unit=unit, role=role)
    person.user.groups.add(unit_group(unit))
    audit_record(actor=actor, action="membership.started", target=person, after={"unit": unit.name, "role": role})
    return membership


@transaction.atomic
def membership_end(*, membership: Membership, actor: Person | None, reason: str,
                   at: datetime | None = None) -> Membership:
    """End a membership now, or at ``at`` (a grace period); group rights follow when it has ended."""
    end = at or timezone.now()
    membership.valid_to, membership.end_reason = end, reason[:200]
    membership.save(update_fields=["valid_to", "end_reason"])
    if end <= timezone.now():
        _drop_group_if_no_membership(membership.person, membership.unit)
    audit_record(actor=actor, action="membership.ended", target=membership.person,
                 before={"unit": membership.unit.name, "role": membership.role}, after={"valid_to": end},
                 reason=reason)
    return membership


def _drop_group_if_no_membership(person: Person, unit: OrgUnit) -> None:
    if not Membership.objects.current().filter(person=person, unit=unit).exists() and unit.group_id:
        person.user.groups.remove(unit.group_id)


# --- org events --------------------------------------------------------------------------------------


@dataclass
class Change:
    kind: str  # grant | ownership | stewardship | membership | unit | governance
    description: str
    apply: Any = field(repr=False, default=None)

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "description": self.description}


@dataclass
class OrgPlan:
    kind: str
    sources: list[OrgUnit]
    targets: list[OrgUnit]
    details: dict[str, Any]
    changes: list[Change] = field(default_factory=list)
    new_parent: OrgUnit | None = None  # a move's; locked with the units, as a concurrent move may change its line
    seen: UnitsSeen = field(init=False)

    def __post_init__(self) -> None:
        self.seen = units_seen(kind=self.kind, sources=self.sources, unit_ids=self.unit_ids())

    def unit_ids(self) -> set[Any]:
        return {unit.pk for unit in [*self.sources, *self.targets, *([self.new_parent] if self.new_parent else [])]}

    def summary(self) -> list[dict[str, str]]:
        return [change.as_dict() for change in self.changes]

    def digest(self) -> str:
        """A fingerprint of what the plan would change: equal digests mean the same preview."""
        return hashlib.sha256(json.dumps(self.summary(), sort_keys=True).encode()).hexdigest()


class _GrantRow(NamedTuple):
    pk: int
    level: int
    target_type_id: int
    target_id: Any


class PlannedGrant(NamedTuple):
    """An active unit grant as a plan sees it: what describes and moves it, without a model instance (a merge
    plans tens of thousands)."""

    pk: int
    level: int
    target_type_id: int
    target_id: Any
    target: models.Model

    def describe(self) -> str:
        return f"{level_label(self.level)} on {self.target}"


def _unit_grants(unit: OrgUnit) -> list[PlannedGrant]:
    """Newest first; the id orders grants created at the same moment, so planning twice (preview, then apply)
    lists them alike. Targets come in one query per type: a generic ``prefetch_related`` took longer matching
    them to 20,000 grants than loading them."""
    grants = Grant.objects.active().filter(grantee_unit=unit).order_by("-created_at", "-pk")
    rows = [_GrantRow(*values) for values in grants.values_list("pk", "level", "target_type_id", "target_id")]
    targets = targets_of_grants(rows)
    return [PlannedGrant(*row, targets[(row.target_type_id, row.target_id)]) for row in rows]


@dataclass(frozen=True)
class GrantMove:
    """A grant that moves to ``successor``: revoked, and re-granted there with basis ``reorg``.

    ``org_event_apply`` applies all moves to the same successor together (``grants_move_to_unit``),
    since a merge may move tens of thousands of grants.
    """

    grant: PlannedGrant
    successor: OrgUnit
    reason: str


@dataclass(frozen=True)
class OwnershipMove:
    """An object a domain app owns per unit, handed to ``unit``. Consecutive moves to the same unit are applied
    together (``UnitDependents.move_all_to_unit``), in plan order."""

    obj: Any
    dependents: hooks.UnitDependents
    unit: OrgUnit
    actor: Person | None
    reason: str

    def batch_key(self) -> tuple[Any, ...]:
        return (id(self.dependents), self.unit.pk, self.actor.pk if self.actor else None, self.reason)


def _move_memberships(source: OrgUnit, successor: OrgUnit, actor: Person | None, reason: str,
                      roles: set[str] | None = None) -> list[Change]:
    changes = []
    for membership in Membership.objects.current().filter(unit=source).select_related("person"):
        if roles is not None and membership.role not in roles:
            continue

        def apply(m: Membership = membership) -> None:
            membership_end(membership=m, actor=actor, reason=reason)
            membership_start(person=m.person, unit=successor, role=m.role, actor=actor)

        changes.append(Change("membership", f"{membership.person} ({membership.role}) → {successor.name}", apply))
    return changes


def _move_primary_units(source: OrgUnit, successor_of: Callable[[Person], OrgUnit | None], why: str) -> list[Change]:
    """People whose primary unit is ``source`` get ``successor_of(person)``; None leaves them without one until
    someone chooses (``why`` says so). The primary unit is where their new datasets are owned by default, so it must
    not stay on a unit that is no longer active."""
    changes = []
    for person in Person.objects.filter(primary_unit=source).order_by("display_name", "pk"):
        successor = successor_of(person)

        def apply(p: Person = person, u: OrgUnit | None = successor) -> None:
            # Only if still on the source: a directory sync may have moved the person since the plan was made.
            Person.objects.filter(pk=p.pk, primary_unit=source).update(primary_unit=u)

        where = f"becomes {successor.name}" if successor else f"is none until one is chosen ({why})"
        changes.append(Change("membership", f"{person}'s primary unit {where}", apply))
    return changes


def _move_unit_tokens(source: OrgUnit, successor: OrgUnit) -> list[Change]:
    """A merged unit's live API tokens belong to the successor, which now holds the grants they act with: the
    unit's CI keeps working through a merge as it does through its creator leaving."""
    changes = []
    for token in ApiToken.objects.filter(owner_unit=source, revoked_at__isnull=True).order_by("created_at", "pk"):

        def apply(t: ApiToken = token) -> None:
            ApiToken.objects.filter(pk=t.pk, owner_unit=source).update(owner_unit=successor)

        changes.append(Change("token", f"API token '{token.name}' ({token.prefix}…) now belongs to {successor.name}",
                              apply))
    return changes


def _queue(kind: str, obj: models.Model, former_unit: OrgUnit, note: str) -> Any:
    def apply(event: OrgEvent) -> None:
        GovernanceItem.objects.create(
            kind=kind, event=event, object_type=ContentType.objects.get_for_model(obj), object_id=str(obj.pk),
            object_repr=str(obj)[:300], former_unit=former_unit, note=note,
        )
    return apply


def _reroutes(obj: models.Model, pending: list[AccessRequest], successor: OrgUnit | None, actor: Person | None,
              reason: str) -> list[Change]:
    """Pending requests on a moved object (``successor`` None: it waits for governance); applied last so they
    see the new stewards."""
    where = f"will be decided in {successor.name}" if successor else "is re-routed while its dataset awaits governance"
    return [
        Change("request", f"Request by {request.requester} on {obj} {where}",
               lambda r=request: access_request_reroute(request=r, actor=actor, reason=reason))
        for request in pending
    ]



def plan_rename(*, unit: OrgUnit, new_name: str) -> OrgPlan:
    new_name = new_name.strip()
    if not new_name:
        raise ValidationError({"new_name": "Give the new name."})
    # The directory maps department names to units through aliases: taking another unit's name would move its
    # people into this one at the next sync.
    known_as = unit_for_department(new_name)
    if known_as is None:
        known_as = next((other for other in OrgUnit.objects.filter(status=OrgUnit.Status.ACTIVE).exclude(pk=unit.pk)
                         if normalise_department(other.name) == normalise_department(new_name)), None)
    if known_as is not None and known_as.pk != unit.pk:
        raise ValidationError({"new_name": f"'{new_name}' already stands for {known_as.name}: choose another name, "
                                           "or merge the two units."})
    plan = OrgPlan("rename", [unit], [unit], {"old_name": unit.name, "new_name": new_name})

    def apply() -> None:
        unit_alias_add(unit=unit, name=unit.name)  # the directory may still send the old name
        unit.name = new_name
        unit.save(update_fields=["name"])
        unit_alias_add(unit=unit, name=new_name)

    plan.changes.append(Change("unit", f"'{unit.name}' is renamed '{new_name}'; nothing else changes", apply))
    return plan


def plan_move(*, unit: OrgUnit, new_parent: OrgUnit | None) -> OrgPlan:
    node = new_parent
    while node is not None:
        if node.pk == unit.pk:
            raise ValidationError({"new_parent": "A unit cannot move under itself or its own sub-unit."})
        node = node.parent
    plan = OrgPlan("move", [unit], [unit], {"new_parent": str(new_parent.pk) if new_parent else None},
                   new_parent=new_parent)

    def apply() -> None:
        unit.parent = new_parent
        unit.save(update_fields=["parent"])

    parent_name = new_parent.name if new_parent else "the top level"
    plan.changes.append(Change("unit", f"'{unit.name}' moves under {parent_name}", apply))
    return plan


def plan_merge(*, sources: list[OrgUnit], successor: OrgUnit, actor: Person | None) -> OrgPlan:
    if len(sources) < 1 or successor in sources:
        raise ValidationError("Merge one or more units into a different successor unit.")
    if any(unit.status != OrgUnit.Status.ACTIVE for unit in [*sources, successor]):
        raise ValidationError("Only active units can be merged.")
    reason = f"merge into {successor.name}"
    plan = OrgPlan("merge", sources, [successor], {"successor": str(successor.pk)})
    for source in sources:
        for grant in _unit_grants(source):
            plan.changes.append(Change(
                "grant", f"{grant.describe()} moves from {source.name} to {successor.name}",
                GrantMove(grant, successor, reason)))
        plan.changes.extend(_move_memberships(source, successor, actor, reason))
        plan.changes.extend(_move_primary_units(source, lambda _person: successor, reason))
        plan.changes.extend(_move_unit_tokens(source, successor))
        for dependents in hooks.unit_dependents():
            owned = dependents.owned_by_unit(source)
            pending = pending_requests_by_object(owned)
            for obj in owned:
                plan.changes.append(Change(
                    "ownership", f"{obj} is now owned by {successor.name}",
                    OwnershipMove(obj, dependents, successor, actor, reason)))
                key = (ContentType.objects.get_for_model(obj).pk, obj.pk)
                plan.changes.extend(_reroutes(obj, pending.get(key, []), successor, actor, reason))

        def retire(unit: OrgUnit = source) -> None:
            unit_alias_add(unit=successor, name=unit.name)
            for alias in OrgUnitAlias.objects.filter(unit=unit):
                alias.unit = successor
                alias.save(update_fields=["unit"])
            unit.status, unit.successor = OrgUnit.Status.MERGED, successor
            unit.save(update_fields=["status", "successor"])

        plan.changes.append(Change("unit", f"'{source.name}' is marked merged into '{successor.name}'", retire))
    return plan


def plan_split(*, source: OrgUnit, successors: list[OrgUnit], assignments: dict[str, dict[str, str]],
               actor: Person | None) -> OrgPlan:
    """``assignments`` maps 'grants' / 'members' / 'objects' → {id: successor unit id}. Unassigned grants and
    owned objects go to the governance queue; unassigned members simply leave the split unit."""
    if len(successors) < 2 or source in successors:
        raise ValidationError("Split a unit into two or more other units.")
    if any(unit.status != OrgUnit.Status.ACTIVE for unit in [source, *successors]):
        raise ValidationError("Only active units can be split, into active units.")
    by_id = {str(unit.pk): unit for unit in successors}
    for group in assignments.values():
        unknown = [target for target in group.values() if target not in by_id]
        if unknown:
            raise ValidationError("Assignments may only name the successor units of this split.")
    reason = f"split of {source.name}"
    plan = OrgPlan("split", [source], successors, {"assignments": assignments})
    for grant in _unit_grants(source):
        target_unit = by_id.get(assignments.get("grants", {}).get(str(grant.pk), ""))
        if target_unit is not None:
            plan.changes.append(Change(
                "grant", f"{grant.describe()} goes to {target_unit.name}", GrantMove(grant, target_unit, reason)))
        else:
            plan.changes.append(Change(
                "governance", f"{grant.describe()} is suspended and queued for governance", ("queue-grant", grant)))
    for membership in Membership.objects.current().filter(unit=source).select_related("person"):
        target_unit = by_id.get(assignments.get("members", {}).get(str(membership.person_id), ""))

        def move(m: Membership = membership, u: OrgUnit | None = target_unit) -> None:
            membership_end(membership=m, actor=actor, reason=reason)
            if u is not None:
                membership_start(person=m.person, unit=u, role=m.role, actor=actor)

        where = target_unit.name if target_unit else "no successor (not assigned)"
        plan.changes.append(Change("membership", f"{membership.person} ({membership.role}) → {where}", move))
    # Like their memberships, people not assigned to a successor get none: the split widens nothing by itself.
    members = assignments.get("members", {})
    plan.changes.extend(_move_primary_units(
        source, lambda person: by_id.get(members.get(str(person.pk), "")), "not assigned in the split"))
    for dependents in hooks.unit_dependents():
        owned = dependents.owned_by_unit(source)
        pending = pending_requests_by_object(owned)
        for obj in owned:
            target_unit = by_id.get(assignments.get("objects", {}).get(str(obj.pk), ""))
            if target_unit is not None:
                plan.changes.append(Change(
                    "ownership", f"{obj} is now owned by {target_unit.name}",
                    OwnershipMove(obj, dependents, target_unit, actor, reason)))
            else:
                plan.changes.append(Change("governance", f"{obj} has no assigned successor: queued for governance",
                                           ("queue-object", obj)))
            key = (ContentType.objects.get_for_model(obj).pk, obj.pk)
            plan.changes.extend(_reroutes(obj, pending.get(key, []), target_unit, actor, reason))

    def retire() -> None:
        source.status = OrgUnit.Status.SPLIT
        source.save(update_fields=["status"])

    plan.changes.append(Change("unit", f"'{source.name}' is marked split", retire))
    return plan


def plan_retire(*, unit: OrgUnit, actor: Person | None) -> OrgPlan:
    if unit.status != OrgUnit.Status.ACTIVE:
        raise ValidationError("Only an active unit can be retired.")
    if Membership.objects.current().filter(unit=unit).exists():
        raise ValidationError("Move or end this unit's memberships before retiring it.")
    plan = OrgPlan("retire", [unit], [], {})
    for grant in _unit_grants(unit):
        plan.changes.append(Change("governance", f"{grant.describe()} is suspended and queued for governance",
                                   ("queue-grant", grant)))
    for dependents in hooks.unit_dependents():
        owned = dependents.owned_by_unit(unit)
        pending = pending_requests_by_object(owned)
        for obj in owned:
            plan.changes.append(Change("governance", f"{obj} needs a new owning unit: queued for governance",
                                       ("queue-object", obj)))
            key = (ContentType.objects.get_for_model(obj).pk, obj.pk)
            plan.changes.extend(_reroutes(obj, pending.get(key, []), None, actor, f"retirement of {unit.name}"))
    plan.changes.extend(_move_primary_units(unit, lambda _person: None, f"{unit.name} is retired"))

    def retire() -> None:
        unit.status = OrgUnit.Status.RETIRED
        unit.save(update_fields=["status"])

    plan.changes.append(Change("unit", f"'{unit.name}' is retired", retire))
    return plan


def org_event_preview(plan: OrgPlan) -> list[dict[str, str]]:
    return plan.summary()


def _apply_grant_moves(moves: list[GrantMove], actor: Person | None) -> None:
    batches: dict[tuple[Any, str], list[GrantMove]] = {}
    for move in moves:
        batches.setdefault((move.successor.pk, move.reason), []).append(move)
    for batch in batches.values():
        grants_move_to_unit(
            grant_ids=[move.grant.pk for move in batch], successor=batch[0].successor, actor=actor,
            reason=batch[0].reason,
            known_targets={(move.grant.target_type_id, move.grant.target_id): move.grant.target for move in batch},
        )


def _apply_ownership_moves(moves: list[OwnershipMove]) -> None:
    if moves:
        first = moves[0]
        first.dependents.move_all_to_unit([move.obj for move in moves], first.unit, first.actor, first.reason)


@transaction.atomic
def org_event_apply(*, plan: OrgPlan, actor: Person | None, reason: str = "") -> OrgEvent:
    """Apply ``plan``; refused (ValidationError) when another event changed its units since it was made."""
    units_lock_and_recheck(kind=plan.kind, sources=plan.sources, seen=plan.seen,
                           new_parent_id=plan.new_parent.pk if plan.new_parent else None)
    event = OrgEvent.objects.create(kind=plan.kind, details=plan.details, summary=plan.summary(), actor=actor,
                                    reason=reason)
    event.sources.set(plan.sources)
    event.targets.set(plan.targets)
    _apply_grant_moves([change.apply for change in plan.changes if isinstance(change.apply, GrantMove)], actor)
    ordered = [c for c in plan.changes if c.kind != "request"] + [c for c in plan.changes if c.kind == "request"]
    queued_grant_ids = [
        change.apply[1].pk
        for change in plan.changes
        if isinstance(change.apply, tuple) and change.apply[0] == "queue-grant"
    ]
    queued_grants = Grant.objects.select_related("grantee_person", "grantee_unit").in_bulk(queued_grant_ids)
    ownership: list[OwnershipMove] = []  # a run of consecutive moves to one unit, applied when the run ends
    for change in ordered:
        if isinstance(change.apply, GrantMove):
            continue  # applied above, in bulk
        if isinstance(change.apply, OwnershipMove):
            if ownership and ownership[0].batch_key() != change.apply.batch_key():
                _apply_ownership_moves(ownership)
                ownership = []
            ownership.append(change.apply)
            continue
        _apply_ownership_moves(ownership)
        ownership = []
        if isinstance(change.apply, tuple):
            action, obj = change.apply
            former = plan.sources[0]
            if action == "queue-grant":
                # A split or retirement never widens access: the grant stops until governance decides.
                grant = queued_grants[obj.pk]
                grant_revoke(grant=grant, actor=actor, reason=f"{plan.kind} of {former.name}: awaiting governance")
                _queue(GovernanceItem.Kind.GRANT, grant, former, change.description)(event)
            else:
                _queue(GovernanceItem.Kind.OWNERSHIP, obj, former, change.description)(event)
        elif change.apply is not None:
            change.apply()
    _apply_ownership_moves(ownership)
    if plan.kind == OrgEvent.Kind.MERGE:
        merged_sources_emptied(plan.sources)
    audit_record(actor=actor, action=f"org.{plan.kind}", target=event, after={"changes": plan.summary()},
                 reason=reason)
    return event
