"""Template helpers for the access pages and the navigation."""

from typing import Any

from django import template

from access.selectors import is_governance, is_steward

register = template.Library()


@register.simple_tag
def access_roles(user: Any) -> dict[str, bool]:
    """Which access pages to offer in the navigation (the pages check again themselves)."""
    if not getattr(user, "is_authenticated", False):
        return {"steward": False, "governance": False}
    governance = is_governance(user)
    return {"steward": governance or is_steward(user), "governance": governance}


@register.filter
def pretty_change(value: Any) -> str:
    """An audit event's before/after as short "key: value" lines."""
    if isinstance(value, dict):
        return "\n".join(f"{key}: {item}" for key, item in value.items())
    return "" if value is None else str(value)
