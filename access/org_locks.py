"""Org events applied at once: each locks the units it touches and re-checks them before it changes anything.

A plan is made without locks (the preview) and applied later. Meanwhile another event may have merged, split or
retired one of its units, or merged more into one of its sources; applying the stale plan would then, e.g., merge
a unit a second time, or strand what the other event moved on a unit that is no longer active. So a plan notes
what it saw of its units (``UnitsSeen``) and ``units_lock_and_recheck`` refuses it when that has changed.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection

from access import hooks
from access.models import ApiToken, Grant, Membership, OrgEvent, OrgUnit

# Events that plan what their sources hold (grants, members, datasets): more moved into a source makes them stale.
_CONTENT_KINDS = {OrgEvent.Kind.MERGE, OrgEvent.Kind.SPLIT, OrgEvent.Kind.RETIRE}
_MOVING_IN = [OrgEvent.Kind.MERGE, OrgEvent.Kind.SPLIT]


@dataclass(frozen=True)
class UnitsSeen:
    statuses: dict[Any, str]  # unit id → status when planned
    events_into_sources: frozenset[int]  # merges and splits that had moved things into a source when planned


def _events_into(unit_ids: Iterable[Any]) -> frozenset[int]:
    events = OrgEvent.objects.filter(kind__in=_MOVING_IN, targets__in=list(unit_ids))
    return frozenset(events.values_list("pk", flat=True))


def units_seen(*, kind: str, sources: Sequence[OrgUnit], unit_ids: Iterable[Any]) -> UnitsSeen:
    """What a plan sees of its units; taken before it lists their contents, so nothing it lists is newer."""
    statuses = dict(OrgUnit.objects.filter(pk__in=list(unit_ids)).values_list("pk", "status"))
    moved_in = _events_into(unit.pk for unit in sources) if kind in _CONTENT_KINDS else frozenset()
    return UnitsSeen(statuses, moved_in)


def units_lock_and_recheck(*, kind: str, sources: Sequence[OrgUnit], seen: UnitsSeen,
                           new_parent_id: Any = None) -> None:
    """Lock the units (in id order, so two events sharing units cannot deadlock) and refuse the plan if another
    event changed them since it was made. Call inside the applying transaction.

    ``no_key``: events exclude each other, while people may still be granted to, join, or own data in a unit being
    reorganised (those rows take a key-share lock on the unit, which a plain FOR UPDATE would make wait, or deadlock
    against an event locking their rows next)."""
    locked = {
        unit.pk: unit
        for unit in OrgUnit.objects.select_for_update(no_key=True).filter(pk__in=list(seen.statuses)).order_by("pk")
    }
    for pk, status in seen.statuses.items():
        unit = locked.get(pk)
        if unit is None:
            raise ValidationError("A unit of this reorganisation no longer exists: plan it again.")
        if unit.status != status:
            raise ValidationError(f"{_what_happened(unit)} since this was planned, by another reorganisation: "
                                  "plan this one again.")
    if kind in _CONTENT_KINDS:
        newer = _events_into(unit.pk for unit in sources) - seen.events_into_sources
        if newer:
            names = ", ".join(f"'{unit.name}'" for unit in sources)
            raise ValidationError(f"Another reorganisation moved more into {names} since this was planned: plan "
                                  "this one again, so that it includes what was moved.")
    if kind == OrgEvent.Kind.RETIRE and Membership.objects.current().filter(unit__in=list(sources)).exists():
        raise ValidationError("The unit has members again: move or end their memberships before retiring it.")
    if kind == OrgEvent.Kind.MOVE and sources:
        _moves_take_turns()
        _refuse_cycle(sources[0].pk, new_parent_id)


# Any constant will do: it names "the moves" among PostgreSQL's advisory locks of this database.
_MOVES_LOCK_KEY = 0x4B55524D


def _moves_take_turns() -> None:
    """Two moves sharing no unit can still close a cycle between them (A under D while C goes under B, with B
    below A and D below C): each checks the tree before the other commits. Moves are rare; they wait for each
    other, until the end of the applying transaction. SQLite already runs one writer at a time."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_MOVES_LOCK_KEY])


def _what_happened(unit: OrgUnit) -> str:
    if unit.status == OrgUnit.Status.MERGED and unit.successor is not None:
        return f"'{unit.name}' was merged into '{unit.successor.name}'"
    if unit.status == OrgUnit.Status.ACTIVE:
        return f"'{unit.name}' became active again"
    return f"'{unit.name}' was {unit.get_status_display().lower()}"


def _refuse_cycle(unit_id: Any, new_parent_id: Any) -> None:
    """Another move may have put the new parent under this unit since the plan checked."""
    node, seen = new_parent_id, set()
    while node is not None and node not in seen:
        if node == unit_id:
            raise ValidationError("Another reorganisation has since put the new parent under this unit: a unit "
                                  "cannot move under its own sub-unit.")
        seen.add(node)
        node = OrgUnit.objects.filter(pk=node).values_list("parent_id", flat=True).first()


def merged_sources_emptied(merged: Sequence[OrgUnit]) -> None:
    """Called after a merge's changes, in its transaction. A merge moves what its plan listed; a grant, member,
    token or dataset added to a source after planning (the units are locked against other org events only) would
    stay on a unit that is no longer active: refused, so that the whole merge rolls back and is planned again."""
    for unit in merged:
        left = (
            Grant.objects.active().filter(grantee_unit=unit).exists()
            or Membership.objects.current().filter(unit=unit).exists()
            or ApiToken.objects.filter(owner_unit=unit, revoked_at__isnull=True).exists()
            or any(dependents.owned_by_unit(unit) for dependents in hooks.unit_dependents())
        )
        if left:
            raise ValidationError(f"Since this merge was planned, '{unit.name}' gained a grant, a member, a "
                                  "token or a dataset it does not move: plan it again, so that it moves those too.")
