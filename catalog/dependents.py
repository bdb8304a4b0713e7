"""What the catalog tells ``access`` about datasets owned per unit (see access.hooks)."""

from typing import Any

from access.models import OrgUnit, Person
from catalog.models import Dataset


class DatasetUnitDependents:
    def owned_by_unit(self, unit: OrgUnit) -> list[Any]:
        return list(Dataset.objects.filter(owning_unit=unit).order_by("slug"))

    def move_to_unit(self, obj: Any, unit: OrgUnit, actor: Person | None, reason: str) -> None:
        from catalog.services import dataset_update

        dataset_update(dataset=obj, actor=actor, owning_unit=unit, change_reason=reason)
