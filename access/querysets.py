from datetime import datetime
from typing import TYPE_CHECKING

from django.db import models
from django.utils import timezone

if TYPE_CHECKING:
    from access.models import Grant, Membership  # noqa: F401 - used in string annotations


class GrantQuerySet(models.QuerySet["Grant"]):
    def active(self, at: datetime | None = None) -> "GrantQuerySet":
        """Grants in force at ``at``: started, not expired, not revoked, not suspended.

        Expiry is part of the query, so an expired grant stops working before any cleanup job runs.
        The dataset permission condition states the same test in SQL (catalog/access_condition.py): change both.
        """
        now = at or timezone.now()
        return self.filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now),
            starts_at__lte=now,
            revoked_at__isnull=True,
            suspended_at__isnull=True,
        )


class MembershipQuerySet(models.QuerySet["Membership"]):
    def current(self, at: datetime | None = None) -> "MembershipQuerySet":
        # catalog/access_condition.py states the same test in SQL for the permission condition: change both.
        now = at or timezone.now()
        return self.filter(models.Q(valid_to__isnull=True) | models.Q(valid_to__gt=now), valid_from__lte=now)
