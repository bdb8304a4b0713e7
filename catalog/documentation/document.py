"""What a dataset's exported documentation says, gathered once and limited to what the caller may see.

Metadata needs view access; storage locations and the version's file list need read access, as everywhere
else in Kura (``restrict``). The format modules receive a ``DatasetDocument`` and never query themselves.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Any

from django.urls import reverse
from django.utils import timezone

from access.models import Person
from catalog.guideline_hooks import CurrentRules, current_rules
from catalog.models import Dataset, DatasetVersion, ManifestFile, StorageLocation
from catalog.selectors import (
    VersionNotFound,
    dataset_can_read_data,
    deprecation_warnings,
    locations_in_role_order,
    manifest_files,
    version_resolve,
)

# Beyond this many files a document lists the version's locations as file sets and links its full manifest:
# a catalog entry is read by people and indexers, not used as a transfer list.
MAX_LISTED_FILES = 2000


@dataclass(frozen=True)
class DocumentVersion:
    version: DatasetVersion
    page_url: str
    manifest_url: str
    files: list[ManifestFile] | None  # None: the caller may not read the data; else up to MAX_LISTED_FILES
    all_files_listed: bool


@dataclass(frozen=True)
class DatasetDocument:
    dataset: Dataset
    page_url: str
    api_url: str
    rules_url: str
    successor_url: str | None
    tags: list[str]
    stewards: list[Person]
    rules: CurrentRules | None
    locations: list[StorageLocation] | None  # None: the caller may not read the data
    version: DocumentVersion | None  # None: no published version (or no such label)
    warnings: list[str]
    generated_at: datetime

    @property
    def can_read(self) -> bool:
        return self.locations is not None


def dataset_document(
    *, user: Any, dataset: Dataset, absolute: Callable[[str], str], version_label: str = "latest"
) -> DatasetDocument:
    """The documentation of ``dataset`` (already resolved for ``user``'s view access) at ``version_label``.

    ``absolute`` turns a path into the URL people reach it at (``request.build_absolute_uri``).
    Raises VersionNotFound for a label that names no published version.
    """
    can_read = dataset_can_read_data(user=user, dataset=dataset)
    return DatasetDocument(
        dataset=dataset,
        **_links(dataset, absolute),
        tags=dataset.tag_names,
        stewards=list(dataset.stewards.all()),
        rules=current_rules(dataset),
        locations=locations_in_role_order(dataset) if can_read else None,
        version=_document_version(dataset, version_label, can_read, absolute),
        warnings=deprecation_warnings(dataset),
        generated_at=timezone.now(),
    )


def metadata_document(*, dataset: Dataset, absolute: Callable[[str], str]) -> DatasetDocument:
    """What a catalog feed lists of ``dataset``, without a query: its own fields, unit, owner, tags and successor,
    from a row read ``with_list_data()`` and with ``superseded_by``. No version, locations, stewards or rules:
    the dataset's own export carries those. No deprecation warnings either: they name the models a retirement
    affects (queries per dataset), and a feed states the status and the successor instead."""
    return DatasetDocument(
        dataset=dataset,
        **_links(dataset, absolute),
        tags=dataset.tag_names,
        stewards=[],
        rules=None,
        locations=None,
        version=None,
        warnings=[],
        generated_at=timezone.now(),
    )


def _links(dataset: Dataset, absolute: Callable[[str], str]) -> dict[str, Any]:
    slug = dataset.slug
    successor = dataset.superseded_by
    return {
        "page_url": absolute(reverse("frontend:dataset-detail", kwargs={"slug": slug})),
        "api_url": absolute(reverse("api-dataset-detail", kwargs={"slug": slug})),
        "rules_url": absolute(reverse("frontend:guideline", kwargs={"slug": slug})),
        "successor_url": (
            absolute(reverse("frontend:dataset-detail", kwargs={"slug": successor.slug})) if successor else None
        ),
    }


def _document_version(
    dataset: Dataset, label: str, can_read: bool, absolute: Callable[[str], str]
) -> DocumentVersion | None:
    try:
        version = version_resolve(dataset=dataset, label=label)
    except VersionNotFound:
        if label == "latest":
            return None  # nothing published yet: the document describes the dataset alone
        raise
    names = {"slug": dataset.slug, "label": version.label}
    page_url = absolute(reverse("frontend:version-detail", kwargs=names))
    manifest_url = absolute(reverse("api-version-manifest", kwargs=names))
    if not can_read:
        return DocumentVersion(version, page_url, manifest_url, None, False)
    files = list(islice(manifest_files(version=version), MAX_LISTED_FILES + 1))
    return DocumentVersion(
        version, page_url, manifest_url, files[:MAX_LISTED_FILES], len(files) <= MAX_LISTED_FILES
    )
