"""What other apps say about a dataset being deprecated or archived, without ``catalog`` importing them.

An app that knows what depends on a dataset (``lineage``: models trained on it) registers a listener in its
``AppConfig.ready``; the catalog asks listeners for extra warnings and tells them when a dataset is retired.
"""

from typing import Protocol

from access.models import Person
from catalog.models import Dataset


class RetirementListener(Protocol):
    def warnings_for(self, dataset: Dataset) -> list[str]: ...

    def dataset_retired(self, dataset: Dataset, actor: Person | None) -> None: ...


_listeners: list[RetirementListener] = []


def register_retirement_listener(listener: RetirementListener) -> None:
    if listener not in _listeners:
        _listeners.append(listener)


def retirement_warnings(dataset: Dataset) -> list[str]:
    warnings: list[str] = []
    for listener in _listeners:
        warnings.extend(listener.warnings_for(dataset))
    return warnings


def notify_retired(dataset: Dataset, actor: Person | None) -> None:
    for listener in _listeners:
        listener.dataset_retired(dataset, actor)
