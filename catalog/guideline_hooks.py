"""How ``annotations`` tells the catalog which guideline revisions a dataset has, without the catalog importing it.

``annotations`` registers a provider in its ``AppConfig.ready``; publishing a version asks it for the
current revision so that every published version records the rules its data was labelled under.
"""

from typing import Protocol

from catalog.models import Dataset


class GuidelineRevisions(Protocol):
    def current_number(self, dataset: Dataset) -> int | None: ...

    def exists(self, dataset: Dataset, number: int) -> bool: ...


_provider: list[GuidelineRevisions] = []


def register_guideline_revisions(provider: GuidelineRevisions) -> None:
    _provider[:] = [provider]


def current_revision_number(dataset: Dataset) -> int | None:
    return _provider[0].current_number(dataset) if _provider else None


def revision_exists(dataset: Dataset, number: int) -> bool:
    return _provider[0].exists(dataset, number) if _provider else True
