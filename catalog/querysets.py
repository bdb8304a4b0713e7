"""The one place that decides which datasets a caller may see, read or change.

Every list, detail, search, count, export and API response starts from
``Dataset.objects.restrict(user, action)``:

* ``view`` (metadata): internal datasets for everyone signed in; restricted ones only for people involved.
* ``read`` (locations, manifests): involved people and holders of a ``read`` grant.
* ``change``: the owner, the dataset's stewards, stewards/heads of the owning unit, ``manage`` grantees.
* ``reassign`` (a departed owner's dataset, from Left behind): catalog governance any; otherwise people who
  steward or head some unit, on the datasets they may ``change``.

"Involved" means any of the ``change`` roles or an active grant at the needed level. Grants are read from
the ledger with their expiry inside the query, so nothing depends on a cleanup job having run.
"""

from typing import TYPE_CHECKING, Any, Literal

from django.db import connections, models
from django.db.models.lookups import Exact
from django.db.models.sql.where import AND
from django.utils import timezone

from access.models import Level
from access.principals import UnitPrincipal
from access.selectors import is_governance, person_for_user, stewards_some_unit
from catalog.access_condition import Caller, DatasetAccess

if TYPE_CHECKING:
    from catalog.models import Dataset  # noqa: F401 - used in a string annotation

Action = Literal["view", "read", "change", "reassign"]
_LEVEL_FOR = {"view": Level.VIEW, "read": Level.READ, "change": Level.MANAGE}


class DatasetQuerySet(models.QuerySet["Dataset"]):
    def restrict(self, user: Any, action: Action = "view") -> "DatasetQuerySet":
        allowed = self._access(user, action)
        if allowed is True:
            return self
        if allowed is False:
            return self.none()
        return self.filter(allowed)

    def restrict_sql(
        self, user: Any, action: Action = "view", *, table: str, row_by_row: bool = False
    ) -> tuple[str, tuple[Any, ...]]:
        """``restrict``'s condition as SQL over the dataset table (or its alias) ``table``, with its parameters,
        for a hot statement written out by hand: the same decision, without a queryset to build and compile.
        ``row_by_row``: see ``DatasetAccess.asked_row_by_row``."""
        allowed = self._access(user, action)
        if isinstance(allowed, bool):
            return ("1 = 1" if allowed else "1 = 0"), ()
        return (allowed.asked_row_by_row() if row_by_row else allowed).sql_over(table, connections[self.db])

    def annotate_access(self, user: Any, action: Action, name: str) -> "DatasetQuerySet":
        """Add a boolean column ``name``: whether ``user`` may do ``action`` on each row (same rule as restrict)."""
        allowed = self._access(user, action)
        value = allowed if isinstance(allowed, DatasetAccess) else models.Value(allowed)
        return self.annotate(**{name: value})

    def _access(self, user: Any, action: Action) -> "DatasetAccess | bool":
        if user is None or not getattr(user, "is_authenticated", False):
            return False
        if getattr(user, "is_staff", False) or getattr(user, "is_superuser", False):
            return True
        if action == "reassign":
            return self._reassign_access(user)
        if isinstance(user, UnitPrincipal):
            caller = Caller(unit_id=user.unit.pk)
        else:
            person = person_for_user(user)
            if person is None:
                return False
            caller = Caller(person_id=person.pk)
        return DatasetAccess(
            model=self.model,
            caller=caller,
            min_level=_LEVEL_FOR[action],
            include_internal=action == "view",
            at=timezone.now(),
        )

    def _reassign_access(self, user: Any) -> "DatasetAccess | bool":
        """Handing a departed owner's datasets on is stewardship work: not for a unit token (no person), nor for
        someone who may change a dataset only as its owner or a ``manage`` grantee without stewarding any unit."""
        if is_governance(user):
            return True
        person = person_for_user(user)
        if person is None or not stewards_some_unit(person):
            return False
        return self._access(user, "change")

    def count(self) -> int:
        halves = self._split_by_visibility()
        if halves is None:
            return super().count()
        return sum(models.QuerySet.count(half) for half in halves)

    def _split_by_visibility(self) -> "list[models.QuerySet[Any, Any]] | None":
        """This queryset as two disjoint ones, internal datasets and the rest, when it is a bare view restriction.

        Only the unfiltered list gains: there PostgreSQL would test the condition on every row of the table. A
        search or filter already narrows the rows through its own index, and two halves would scan that twice.
        """
        query = self.query
        if query.is_sliced or query.distinct or query.combinator or query.where.connector != AND:
            return None
        if len(query.where.children) != 1 or query.where.negated:
            return None
        node = query.where.children[0]
        access = getattr(node, "lhs", None)
        if not (isinstance(node, Exact) and node.rhs is True and isinstance(access, DatasetAccess)):
            return None
        parts = access.split_by_visibility()
        if parts is None:
            return None
        halves: list[models.QuerySet[Any, Any]] = []
        for part in parts:
            half = self.all()  # a clone with its own list of conditions
            half.query.where.children[0] = Exact(part, True)  # type: ignore[call-overload]
            halves.append(half)
        return halves

    def with_list_data(self) -> "DatasetQuerySet":
        return self.select_related("owner__user", "owning_unit").prefetch_related("tags")
