"""What the catalog tells ``access`` about datasets owned per unit (see access.hooks)."""

from collections.abc import Sequence
from typing import Any

from access.models import OrgUnit, Person
from catalog.models import Dataset


class DatasetUnitDependents:
    def owned_by_unit(self, unit: OrgUnit) -> list[Any]:
        return list(Dataset.objects.filter(owning_unit=unit).order_by("slug"))

    def move_all_to_unit(self, objs: Sequence[Any], unit: OrgUnit, actor: Person | None, reason: str) -> None:
        from catalog.services import datasets_move_to_unit

        datasets_move_to_unit(datasets=objs, unit=unit, actor=actor, reason=reason)
