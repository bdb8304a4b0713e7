"""The catalog as CSV: what a person may see, streamed, safe to open in a spreadsheet."""

import csv
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from django.db.models import Prefetch

from catalog.models import Dataset, StorageLocation

if TYPE_CHECKING:
    from catalog.querysets import DatasetQuerySet

EXPORT_COLUMNS = [
    "slug", "name", "status", "visibility", "classification", "purpose", "owner", "owner_status", "owning_unit",
    "training_repo_url", "training_repo_path", "tags", "storage_locations", "updated_at",
]
# A cell starting with one of these is a formula to Excel/LibreOffice; a leading quote keeps it text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class _Echo:
    def write(self, value: str) -> str:
        return value


def datasets_for_export(*, user: Any, datasets: "DatasetQuerySet") -> Iterator[Dataset]:
    """``datasets`` (already restricted to what ``user`` may view), marked with whether ``user`` may read each."""
    annotated = (
        datasets.annotate_access(user, "read", "may_read")
        .select_related("owner", "owning_unit")
        .prefetch_related("tags", Prefetch("locations", queryset=StorageLocation.objects.order_by("role", "uri")))
    )
    return annotated.iterator(chunk_size=500)


def dataset_csv_lines(*, user: Any, datasets: "DatasetQuerySet") -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(EXPORT_COLUMNS)
    for dataset in datasets_for_export(user=user, datasets=datasets):
        yield writer.writerow([_cell(value) for value in _row(dataset)])


def _row(dataset: Dataset) -> list[str]:
    locations = (
        " ".join(f"{location.uri} ({location.role})" for location in dataset.locations.all())
        if getattr(dataset, "may_read", False)
        else ""
    )
    return [
        dataset.slug, dataset.name, dataset.status, dataset.visibility, dataset.classification, dataset.purpose,
        dataset.owner.display_name, dataset.owner.status, dataset.owning_unit.name,
        dataset.training_repo_url, dataset.training_repo_path, ", ".join(tag.name for tag in dataset.tags.all()),
        locations, dataset.updated_at.isoformat(),
    ]


def _cell(value: str) -> str:
    return f"'{value}" if value.startswith(_FORMULA_START) else value
