"""The JSON of the hottest answers (a version, a list page's datasets), built in one place.

Plain functions over attributes, not DRF fields walked per object: for a version answer the fields cost more
Python than the whole lookup's SQL, and for a search page more than its SQL too. They read attributes only, so
model instances and the CI lookup's rows (``catalog.lookup_statements.LookupVersion``) render alike;
``VersionSerializer`` and ``DatasetListSerializer`` declare the same fields for the OpenAPI schema and render
through here (``tests/test_plain_lookup.py`` and ``tests/test_search_pages.py`` hold them to it).
"""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.urls import reverse
from rest_framework.fields import DateTimeField

_DATETIME = DateTimeField()  # DRF's own formatting (ISO 8601, "Z" for UTC), as the serializers render it


def api_datetime(value: datetime | None) -> str | None:
    return None if value is None else _DATETIME.to_representation(value)


def person_ref_payload(person: Any) -> dict[str, Any]:
    """A person as other answers name them (owner, steward, author); their user loaded along."""
    return {
        "username": person.user.username,
        "display_name": person.display_name,
        "external_id": person.external_id,
        "status": str(person.status),
    }


def unit_ref_payload(unit: Any) -> dict[str, Any]:
    return {"id": str(unit.id), "name": unit.name}


def location_payload(location: Any) -> dict[str, Any]:
    return {
        "uri": str(location.uri),
        "role": str(location.role),
        "note": str(location.note),
        "last_verified_at": api_datetime(location.last_verified_at),
        "last_verification_ok": location.last_verification_ok,
    }


def version_payload(
    version: Any, *, dataset_slug: str, locations: Iterable[Any] | None, warnings: list[str]
) -> dict[str, Any]:
    """``locations`` is None when the caller may not read the dataset's data (the key stays, as null)."""
    revision = version.guideline_revision
    return {
        "dataset": dataset_slug,
        "label": str(version.label),
        "status": str(version.status),
        "digest": f"sha256:{version.digest}",
        "total_bytes": int(version.total_bytes),
        "file_count": int(version.file_count),
        "source": str(version.source),
        "git_commit": str(version.git_commit),
        "guideline_revision": None if revision is None else int(revision),
        "notes": str(version.notes),
        "created_at": api_datetime(version.created_at),
        "published_at": api_datetime(version.published_at),
        "locations": None if locations is None else [location_payload(location) for location in locations],
        "manifest_url": reverse("api-version-manifest", kwargs={"slug": dataset_slug, "label": version.label}),
        "warnings": warnings,
    }


def dataset_list_payload(dataset: Any) -> dict[str, Any]:
    """A dataset as a list shows it; the owner with its user, the unit and the tags loaded along
    (``catalog.list_statements``, or ``DatasetQuerySet.with_list_data``)."""
    owner, unit = dataset.owner, dataset.owning_unit
    return {
        "id": str(dataset.id),
        "slug": dataset.slug,
        "name": dataset.name,
        "purpose": dataset.purpose,
        "status": str(dataset.status),
        "visibility": str(dataset.visibility),
        "classification": str(dataset.classification),
        "owner": None if owner is None else person_ref_payload(owner),
        "owning_unit": None if unit is None else unit_ref_payload(unit),
        "tags": list(dataset.tag_names),
        "training_repo_url": dataset.training_repo_url,
        "training_repo_path": dataset.training_repo_path,
        "updated_at": api_datetime(dataset.updated_at),
        "url": reverse("api-dataset-detail", kwargs={"slug": dataset.slug}),
    }
