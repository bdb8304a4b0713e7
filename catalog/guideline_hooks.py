"""How ``annotations`` tells the catalog which guideline revisions a dataset has, without the catalog importing it.

``annotations`` registers a provider in its ``AppConfig.ready``; publishing a version asks it for the
current revision so that every published version records the rules its data was labelled under.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from catalog.models import Dataset


@dataclass(frozen=True)
class CurrentRules:
    """The rules a dataset is labelled under now, as its documentation exports quote them."""

    number: int
    body: str  # markdown
    label_schema: dict[str, Any]
    created_at: datetime


class GuidelineRevisions(Protocol):
    def current_number(self, dataset: Dataset) -> int | None: ...

    def exists(self, dataset: Dataset, number: int) -> bool: ...

    def current_rules(self, dataset: Dataset) -> CurrentRules | None: ...


_provider: list[GuidelineRevisions] = []


def register_guideline_revisions(provider: GuidelineRevisions) -> None:
    _provider[:] = [provider]


def current_revision_number(dataset: Dataset) -> int | None:
    return _provider[0].current_number(dataset) if _provider else None


def revision_exists(dataset: Dataset, number: int) -> bool:
    return _provider[0].exists(dataset, number) if _provider else True


def current_rules(dataset: Dataset) -> CurrentRules | None:
    return _provider[0].current_rules(dataset) if _provider else None
