"""Directory sync: apply an HR/IdP export as joiner, mover, leaver and rejoiner events.

The plan is computed from reads only (a dry run stops there); applying it calls the existing services
(``person_create``, ``person_move``, ``person_depart``, ``person_rejoin``, ``membership_start``) inside one
transaction. Departments reach units only through ``OrgUnitAlias`` (following merge successors), so a
department the directory renamed, once aliased, moves nobody. People missing from the export are left
alone: an export may be partial, and departures are stated with ``active: false``.
"""

import re
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import connection, transaction

from access.approvals import effective_unit
from access.audit import audit_record
from access.directory_export import DirectoryRow, RowError, ignored_fields, validate_records
from access.leavers import person_depart, person_move, person_rejoin
from access.models import Membership, OrgUnit, Person
from access.org import membership_start, unit_for_department
from access.services import person_create

JOINER, REJOINER, LEAVER, MOVER, UPDATED, UNCHANGED, SKIPPED = (
    "joiner", "rejoiner", "leaver", "mover", "updated", "unchanged", "skipped",
)
KINDS = (JOINER, MOVER, LEAVER, REJOINER, UPDATED, UNCHANGED, SKIPPED)
LEAVER_REASON = "inactive in the directory export"
DIRECTORY_LOCK_KEY = 0x4B555241_0001  # any constant unique to this lock


@dataclass
class PersonChange:
    row: DirectoryRow
    kind: str
    person: Person | None = None
    unit: OrgUnit | None = None  # the unit a joiner, mover or rejoiner goes to
    unit_before: str | None = None
    fields: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # attribute → (before, after)
    open_membership: bool = False  # the person is in the right unit on record but holds no membership there

    def as_dict(self) -> dict[str, Any]:
        changes = {name: {"before": before, "after": after} for name, (before, after) in self.fields.items()}
        if self.kind in {JOINER, MOVER, REJOINER} and self.unit is not None:
            changes["unit"] = {"before": self.unit_before, "after": self.unit.name}
        if self.open_membership and self.unit is not None:
            changes["membership"] = {"before": None, "after": self.unit.name}
        return {"row": self.row.row, "external_id": self.row.external_id, "kind": self.kind, "changes": changes}


@dataclass
class DirectoryPlan:
    changes: list[PersonChange]
    errors: list[RowError]
    unmapped_departments: dict[str, list[str]]


@dataclass
class DirectorySyncResult:
    dry_run: bool
    joiners: list[str] = field(default_factory=list)
    movers: list[str] = field(default_factory=list)
    leavers: list[str] = field(default_factory=list)
    rejoiners: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # inactive people the catalog never knew: not created
    unmapped_departments: dict[str, list[str]] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)  # what changes per person, unchanged omitted
    ignored_fields: list[str] = field(default_factory=list)  # in the export, not read by Kura

    @property
    def changed(self) -> bool:
        return bool(self.joiners or self.movers or self.leavers or self.rejoiners or self.updated)

    def counts(self) -> dict[str, int]:
        return {
            "joiners": len(self.joiners), "movers": len(self.movers), "leavers": len(self.leavers),
            "rejoiners": len(self.rejoiners), "updated": len(self.updated), "unchanged": len(self.unchanged),
            "skipped": len(self.skipped), "unmapped_departments": len(self.unmapped_departments),
            "errors": len(self.errors),
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run, "counts": self.counts(), "joiners": self.joiners, "movers": self.movers,
            "leavers": self.leavers, "rejoiners": self.rejoiners, "updated": self.updated,
            "unchanged": self.unchanged, "skipped": self.skipped, "unmapped_departments": self.unmapped_departments,
            "errors": [vars(error) for error in self.errors], "changes": self.changes,
            "ignored_fields": self.ignored_fields,
        }


def directory_sync(*, records: list[Any], actor: Person | None, dry_run: bool = False,
                   source: str = "directory export") -> DirectorySyncResult:
    """Validate, plan and (unless ``dry_run``) apply an export's parsed records."""
    rows, errors = validate_records(records)
    with transaction.atomic():
        if not dry_run:
            _lock_out_concurrent_syncs()
        plan = directory_plan(rows=rows)
        plan.errors = [*errors, *plan.errors]
        if not dry_run:
            directory_apply(plan=plan, actor=actor, source=source)
    result = _result(plan, dry_run=dry_run)
    result.ignored_fields = ignored_fields(records)
    return result


def _lock_out_concurrent_syncs() -> None:
    # Two syncs planning at once would both see a joiner as new; the second waits for the first to commit.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [DIRECTORY_LOCK_KEY])


# --- planning (reads only) -----------------------------------------------------------------------------


class _Units:
    """Department string → active unit, through aliases and merge successors; looked up once per string."""

    def __init__(self) -> None:
        self._cache: dict[str, OrgUnit | None] = {}

    def resolve(self, department: str) -> OrgUnit | None:
        if department not in self._cache:
            unit = effective_unit(unit_for_department(department))
            self._cache[department] = unit if unit is not None and unit.status == OrgUnit.Status.ACTIVE else None
        return self._cache[department]


def directory_plan(*, rows: list[DirectoryRow]) -> DirectoryPlan:
    plan = DirectoryPlan(changes=[], errors=[], unmapped_departments={})
    people = {
        person.external_id: person
        for person in Person.objects.filter(external_id__in=[row.external_id for row in rows])
        .select_related("user", "manager", "primary_unit")
    }
    open_memberships = set(
        Membership.objects.filter(person__in=people.values(), valid_to__isnull=True).values_list("person_id", "unit_id")
    )
    manager_ids = {row.manager_external_id for row in rows if row.manager_external_id}
    known_managers = set(Person.objects.filter(external_id__in=manager_ids).values_list("external_id", flat=True))
    known_managers |= {row.external_id for row in rows if row.external_id not in people and row.active and row.name}
    units = _Units()
    for row in rows:
        person = people.get(row.external_id)
        target = units.resolve(row.department) if row.department and row.active else None
        if row.department and row.active and target is None:
            plan.unmapped_departments.setdefault(row.department, []).append(row.external_id)
        change = _plan_person(row, person, target, open_memberships, plan.errors)
        if change is None:
            continue
        if person is not None or change.kind == JOINER:
            _plan_manager(change, person, known_managers, plan.errors)
        if change.kind == UNCHANGED and (change.fields or change.open_membership):
            change.kind = UPDATED
        plan.changes.append(change)
    return plan


def _plan_person(row: DirectoryRow, person: Person | None, target: OrgUnit | None,
                 open_memberships: set[tuple[Any, Any]], errors: list[RowError]) -> PersonChange | None:
    if person is None:
        if not row.active:
            return PersonChange(row, SKIPPED)
        if not row.name:
            errors.append(RowError(row.row, row.external_id, "name", "A new person needs a name."))
            return None
        fields: dict[str, tuple[Any, Any]] = {"name": (None, row.name)}
        if row.email:
            fields["email"] = (None, row.email)
        return PersonChange(row, JOINER, unit=target, fields=fields)
    change = PersonChange(row, UNCHANGED, person=person)
    if row.name and row.name != person.display_name:
        change.fields["name"] = (person.display_name, row.name)
    if row.email and (row.email != person.email or row.email != person.user.email):
        change.fields["email"] = (person.email, row.email)
    current = person.primary_unit
    if person.status == Person.Status.DEPARTED:
        if row.active:
            change.kind, change.unit, change.unit_before = REJOINER, target, None
        return change
    if not row.active:
        change.kind = LEAVER
        return change
    if target is None:
        return change
    if effective_unit(current) != target:
        change.kind, change.unit, change.unit_before = MOVER, target, current.name if current else None
        return change
    change.unit = target
    if current is not None and current.pk != target.pk:
        # The person's unit was merged into ``target``: record where they are, without a move.
        change.fields["primary_unit"] = (current.name, target.name)
    change.open_membership = (person.pk, target.pk) not in open_memberships
    return change


def _plan_manager(change: PersonChange, person: Person | None, known: set[str], errors: list[RowError]) -> None:
    wanted = change.row.manager_external_id
    if wanted is None:
        return
    current = person.manager.external_id if person is not None and person.manager is not None else ""
    if wanted == current:
        return
    if wanted and wanted not in known:
        errors.append(RowError(change.row.row, change.row.external_id, "manager_external_id",
                               f"Unknown manager {wanted!r}: not in this export and not in the catalog; "
                               "the manager was left unchanged."))
        return
    change.fields["manager"] = (current or None, wanted or None)


# --- applying (one transaction) ------------------------------------------------------------------------


@transaction.atomic
def directory_apply(*, plan: DirectoryPlan, actor: Person | None, source: str = "directory export") -> None:
    by_external_id = {change.row.external_id: change.person for change in plan.changes if change.person}
    for change in [c for c in plan.changes if c.kind == JOINER]:
        try:
            with transaction.atomic():
                change.person = _create(change, actor)
        except ValidationError as error:
            plan.errors.append(RowError(change.row.row, change.row.external_id, "", "; ".join(error.messages)))
            continue
        by_external_id[change.row.external_id] = change.person
    plan.changes = [c for c in plan.changes if c.person is not None or c.kind == SKIPPED]
    # Attributes and managers first, so a leaver's Left behind queue proposes the manager the export names.
    for change in plan.changes:
        if change.person is not None and (change.fields or change.open_membership):
            _update(change, by_external_id, actor, plan.errors)
    for change in plan.changes:
        if change.kind == REJOINER and change.person is not None:
            person_rejoin(person=change.person, actor=actor, unit=change.unit)
        elif change.kind == MOVER and change.person is not None and change.unit is not None:
            person_move(person=change.person, new_unit=change.unit, actor=actor)
        elif change.kind == LEAVER and change.person is not None:
            person_depart(person=change.person, actor=actor, reason=LEAVER_REASON)
    result = _result(plan, dry_run=False)
    if result.changed:
        audit_record(actor=actor, action="directory.synced", after=result.counts(), reason=source)


def _create(change: PersonChange, actor: Person | None) -> Person:
    row = change.row
    person = person_create(
        username=_free_username(row), external_id=row.external_id, display_name=row.name or row.external_id,
        email=row.email or "", primary_unit=change.unit,
    )
    if change.unit is not None:
        membership_start(person=person, unit=change.unit, actor=actor)
    audit_record(actor=actor, action="person.joined", target=person, reason="directory sync", after={
        "external_id": row.external_id, "name": person.display_name, "email": person.email,
        "unit": change.unit.name if change.unit else None, "manager": change.fields.get("manager", (None, None))[1],
    })
    return person


def _free_username(row: DirectoryRow) -> str:
    base = (row.email.split("@")[0] if row.email else row.external_id).lower()
    base = re.sub(r"[^\w.@+-]", "-", base)[:140] or "person"
    users = get_user_model().objects
    candidate, number = base, 1
    while users.filter(username=candidate).exists():
        number += 1
        candidate = f"{base}-{number}"
    return candidate


def _update(change: PersonChange, by_external_id: dict[str, Person], actor: Person | None,
            errors: list[RowError]) -> None:
    person = change.person
    assert person is not None
    manager = change.fields.get("manager", (None, None))[1]
    if manager and by_external_id.get(manager) is None and not Person.objects.filter(external_id=manager).exists():
        # The manager was to join in this export but could not be created.
        errors.append(RowError(change.row.row, change.row.external_id, "manager_external_id",
                               f"Manager {manager!r} could not be created; the manager was left unchanged."))
        del change.fields["manager"]
    updated: list[str] = []
    for name, (_, after) in change.fields.items():
        if name == "name" and change.kind != JOINER:
            person.display_name = after
            updated.append("display_name")
        elif name == "email" and change.kind != JOINER:
            person.email = person.user.email = after
            person.user.save(update_fields=["email"])
            updated.append("email")
        elif name == "manager":
            person.manager = (by_external_id.get(after) or Person.objects.get(external_id=after)) if after else None
            updated.append("manager")
        elif name == "primary_unit":
            person.primary_unit = change.unit
            updated.append("primary_unit")
    if updated:
        person.save(update_fields=updated)
    if change.open_membership and change.unit is not None:
        membership_start(person=person, unit=change.unit, actor=actor)
    if change.kind != JOINER and (change.fields or change.open_membership):
        audit_record(actor=actor, action="person.updated", target=person, reason="directory sync",
                     before={name: before for name, (before, _) in change.fields.items()},
                     after={**{name: after for name, (_, after) in change.fields.items()},
                            **({"membership": change.unit.name} if change.open_membership and change.unit else {})})


def _result(plan: DirectoryPlan, *, dry_run: bool) -> DirectorySyncResult:
    result = DirectorySyncResult(dry_run=dry_run, unmapped_departments=plan.unmapped_departments,
                                 errors=sorted(plan.errors, key=lambda error: error.row))
    buckets: dict[str, list[str]] = {
        JOINER: result.joiners, MOVER: result.movers, LEAVER: result.leavers, REJOINER: result.rejoiners,
        UPDATED: result.updated, UNCHANGED: result.unchanged, SKIPPED: result.skipped,
    }
    for change in plan.changes:
        buckets[change.kind].append(change.row.external_id)
        if change.kind not in {UNCHANGED, SKIPPED}:
            result.changes.append(change.as_dict())
    return result

