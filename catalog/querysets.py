"""The one place that decides which datasets a caller may see or change.

Every list, detail, search, count and API response starts from ``Dataset.objects.restrict(user, action)``.
Until the grants ledger lands: every signed-in caller views internal datasets; restricted ones are seen by
their owner, stewards and staff; only owners, stewards and staff change a dataset.
"""

from typing import TYPE_CHECKING, Any, Literal

from django.db import models

from access.selectors import person_for_user

if TYPE_CHECKING:
    from catalog.models import Dataset  # noqa: F401 - used in a string annotation

Action = Literal["view", "read", "change"]


class DatasetQuerySet(models.QuerySet["Dataset"]):
    def restrict(self, user: Any, action: Action = "view") -> "DatasetQuerySet":
        if user is None or not getattr(user, "is_authenticated", False):
            return self.none()
        if getattr(user, "is_staff", False) or getattr(user, "is_superuser", False):
            return self
        person = person_for_user(user)
        if person is None:
            # A unit-owned token (or a user without a directory entry): internal metadata only.
            return self.filter(visibility="internal") if action in {"view", "read"} else self.none()
        involved = models.Q(owner=person) | models.Q(stewards=person)
        if action == "change":
            return self.filter(pk__in=self.model.objects.filter(involved).values("pk"))
        mine = self.model.objects.filter(involved).values("pk")
        return self.filter(models.Q(visibility="internal") | models.Q(pk__in=mine))

    def with_list_data(self) -> "DatasetQuerySet":
        return self.select_related("owner", "owning_unit").prefetch_related("tags")
