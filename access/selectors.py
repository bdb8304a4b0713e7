from typing import Any

from django.conf import settings
from django.db.models import Q

from access.approvals import effective_unit
from access.models import Membership, OrgUnit, Person


def person_for_user(user: Any) -> Person | None:
    """The Person behind a request's user, or None for anonymous callers, unit tokens and bare staff users."""
    if user is None or not getattr(user, "is_authenticated", False) or getattr(user, "pk", None) is None:
        return None
    try:
        person = user.person
    except Person.DoesNotExist:
        return None
    return person if isinstance(person, Person) else None


def person_by_handle(handle: str) -> Person | None:
    """The person a request names by external id or username (the API and commands accept either)."""
    return Person.objects.filter(Q(external_id=handle) | Q(user__username=handle)).first()


def is_governance(user: Any) -> bool:
    if getattr(user, "is_staff", False):
        return True
    return bool(getattr(user, "pk", None)) and user.groups.filter(name=settings.KURA_GOVERNANCE_GROUP).exists()


def is_steward(user: Any) -> bool:
    """Catalog governance, or a current steward or head of some unit."""
    if is_governance(user):
        return True
    person = person_for_user(user)
    return person is not None and stewards_some_unit(person)


def stewards_some_unit(person: Person) -> bool:
    roles = [Membership.Role.STEWARD, Membership.Role.HEAD]
    return Membership.objects.current().filter(person=person, role__in=roles).exists()


def org_units() -> "list[OrgUnit]":
    return list(OrgUnit.objects.filter(status=OrgUnit.Status.ACTIVE))



def default_owning_unit(person: Person | None) -> OrgUnit | None:
    """The unit a person's new dataset belongs to unless they choose: the primary unit while it is active (or where
    it was merged into), else the one active unit they belong to; None, for the form to ask, when that is unclear."""
    if person is None:
        return None
    primary = effective_unit(person.primary_unit)
    if primary is not None and primary.status == OrgUnit.Status.ACTIVE:
        return primary
    units = OrgUnit.objects.filter(
        status=OrgUnit.Status.ACTIVE, pk__in=Membership.objects.current().filter(person=person).values("unit_id")
    )
    only = list(units[:2])
    return only[0] if len(only) == 1 else None
