from datetime import datetime
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db.models import Model, Q, QuerySet

from access.models import Grant, Membership, OrgUnit, Person
from access.principals import UnitPrincipal


def person_for_user(user: Any) -> Person | None:
    """The Person behind a request's user, or None for anonymous callers, unit tokens and bare staff users."""
    if user is None or not getattr(user, "is_authenticated", False) or getattr(user, "pk", None) is None:
        return None
    try:
        person = user.person
    except Person.DoesNotExist:
        return None
    return person if isinstance(person, Person) else None


def active_people() -> "list[Person]":
    return list(Person.objects.filter(status=Person.Status.ACTIVE).select_related("user"))


def org_units() -> "list[OrgUnit]":
    return list(OrgUnit.objects.filter(status=OrgUnit.Status.ACTIVE))


def current_unit_ids(person: Person, at: datetime | None = None) -> "QuerySet[Membership, Any]":
    """Units the person belongs to now, in any role (a subquery, not a list)."""
    return Membership.objects.current(at).filter(person=person).values("unit_id")


def granted_object_ids(
    *, principal: Any, model: type[Model], min_level: int, at: datetime | None = None
) -> "QuerySet[Grant, Any]":
    """IDs of ``model`` objects the principal holds an active grant of at least ``min_level`` on."""
    grants = Grant.objects.active(at).filter(target_type=ContentType.objects.get_for_model(model), level__gte=min_level)
    if isinstance(principal, UnitPrincipal):
        return grants.filter(grantee_unit=principal.unit).values("target_id")
    person = principal if isinstance(principal, Person) else person_for_user(principal)
    if person is None:
        return grants.none().values("target_id")
    return grants.filter(Q(grantee_person=person) | Q(grantee_unit__in=current_unit_ids(person, at))).values(
        "target_id"
    )
