from typing import Any

from access.models import OrgUnit, Person


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
