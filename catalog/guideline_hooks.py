"""How ``annotations`` tells the catalog which guideline revisions a dataset has, without the catalog importing it.

``annotations`` registers a provider in its ``AppConfig.ready``; publishing a version asks it for the
current revision so that every published version records the rules its data was labelled under, and an import
of documentation (``catalog.imports``) writes the rules it carries through it, in the import's transaction.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from access.models import Person
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

    def revise(self, dataset: Dataset, body: str, actor: Person | None, change_note: str) -> int | None: ...


_provider: list[GuidelineRevisions] = []


def register_guideline_revisions(provider: GuidelineRevisions) -> None:
    _provider[:] = [provider]


def current_revision_number(dataset: Dataset) -> int | None:
    return _provider[0].current_number(dataset) if _provider else None


def revision_exists(dataset: Dataset, number: int) -> bool:
    return _provider[0].exists(dataset, number) if _provider else True


def current_rules(dataset: Dataset) -> CurrentRules | None:
    return _provider[0].current_rules(dataset) if _provider else None


def rules_revise(*, dataset: Dataset, body: str, actor: Person | None, change_note: str) -> int | None:
    """Write ``body`` as the dataset's current rules, without a label schema; the new revision's number, or None
    when nothing was written (the same rules, or no annotations app). Raises ValidationError for refused rules."""
    return _provider[0].revise(dataset, body, actor, change_note) if _provider else None
