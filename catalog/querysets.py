"""The one place that decides which datasets a caller may see, read or change.

Every list, detail, search, count, export and API response starts from
``Dataset.objects.restrict(user, action)``:

* ``view`` (metadata): internal datasets for everyone signed in; restricted ones only for people involved.
* ``read`` (locations, manifests): involved people and holders of a ``read`` grant.
* ``change``: the owner, the dataset's stewards, stewards/heads of the owning unit, ``manage`` grantees.

"Involved" means any of the ``change`` roles or an active grant at the needed level. Grants are read from
the ledger with their expiry inside the query, so nothing depends on a cleanup job having run.
"""

from typing import TYPE_CHECKING, Any, Literal

from django.db import models

from access.models import Level
from access.principals import UnitPrincipal
from access.selectors import grant_exists, person_for_user, stewarded_unit_ids

if TYPE_CHECKING:
    from catalog.models import Dataset  # noqa: F401 - used in a string annotation

Action = Literal["view", "read", "change"]
_LEVEL_FOR = {"view": Level.VIEW, "read": Level.READ, "change": Level.MANAGE}


class DatasetQuerySet(models.QuerySet["Dataset"]):
    def restrict(self, user: Any, action: Action = "view") -> "DatasetQuerySet":
        if user is None or not getattr(user, "is_authenticated", False):
            return self.none()
        if getattr(user, "is_staff", False) or getattr(user, "is_superuser", False):
            return self
        granted = grant_exists(principal=user, model=self.model, min_level=_LEVEL_FOR[action])
        # Cheap column tests first: PostgreSQL evaluates OR arms in order and skips the rest once one holds.
        allowed = models.Q(visibility="internal") if action == "view" else models.Q(pk__in=[])
        if isinstance(user, UnitPrincipal):
            return self.filter(allowed | granted)
        person = person_for_user(user)
        if person is None:
            return self.none()
        # Separate conditions rather than one subquery joining stewards: each is then an index lookup,
        # where a single OR across the join made PostgreSQL scan every dataset per query.
        stewarded = self.model.stewards.through.objects.filter(person=person).values("dataset_id")
        allowed |= (
            models.Q(owner=person)
            | models.Q(pk__in=stewarded)
            | models.Q(owning_unit__in=stewarded_unit_ids(person))
            | granted
        )
        return self.filter(allowed)

    def with_list_data(self) -> "DatasetQuerySet":
        return self.select_related("owner__user", "owning_unit").prefetch_related("tags")
