"""The JSON of a version answer, built in one place for the serializers and the CI lookup's fast path.

A plain function over attributes, not a serializer instance per answer: binding a DRF serializer's fields cost
more Python than the whole lookup's SQL. It reads attributes only, so model instances and the fast path's
rows (``catalog.lookup_statements.LookupVersion``) render alike; ``VersionSerializer`` declares the same
fields for the OpenAPI schema and renders through here.
"""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.urls import reverse
from rest_framework.fields import DateTimeField

_DATETIME = DateTimeField()  # DRF's own formatting (ISO 8601, "Z" for UTC), as the serializers render it


def _moment(value: datetime | None) -> str | None:
    return None if value is None else _DATETIME.to_representation(value)


def location_payload(location: Any) -> dict[str, Any]:
    return {
        "uri": str(location.uri),
        "role": str(location.role),
        "note": str(location.note),
        "last_verified_at": _moment(location.last_verified_at),
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
        "created_at": _moment(version.created_at),
        "published_at": _moment(version.published_at),
        "locations": None if locations is None else [location_payload(location) for location in locations],
        "manifest_url": reverse("api-version-manifest", kwargs={"slug": dataset_slug, "label": version.label}),
        "warnings": warnings,
    }
