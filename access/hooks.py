"""How domain apps let ``access`` reach the objects they own per unit, without ``access`` importing them.

A domain app registers a provider in its ``AppConfig.ready``; org events call it while planning.
"""

from collections.abc import Sequence
from typing import Any, Protocol

from access.models import OrgUnit, Person


class UnitDependents(Protocol):
    def owned_by_unit(self, unit: OrgUnit) -> list[Any]: ...

    def move_all_to_unit(self, objs: Sequence[Any], unit: OrgUnit, actor: Person | None, reason: str) -> None:
        """Hand each object to ``unit``, in order, all or nothing (a merge moves hundreds at once)."""
        ...


_unit_dependents: list[UnitDependents] = []


def register_unit_dependents(provider: UnitDependents) -> None:
    if provider not in _unit_dependents:
        _unit_dependents.append(provider)


def unit_dependents() -> list[UnitDependents]:
    return list(_unit_dependents)
