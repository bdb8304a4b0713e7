"""Deprecation signalling for CI: RFC 9745 ``Deprecation``, RFC 8594 ``Sunset`` and a successor link."""

from typing import TypeVar

from django.http.response import HttpResponseBase
from django.urls import reverse
from django.utils.http import http_date

from catalog.models import Dataset

R = TypeVar("R", bound=HttpResponseBase)


def add_deprecation_headers(response: R, dataset: Dataset) -> R:
    if dataset.status not in {Dataset.Status.DEPRECATED, Dataset.Status.ARCHIVED}:
        return response
    deprecated_at = dataset.deprecated_at or dataset.updated_at
    response["Deprecation"] = f"@{int(deprecated_at.timestamp())}"
    if dataset.sunset_at is not None:
        response["Sunset"] = http_date(dataset.sunset_at.timestamp())
    if dataset.superseded_by is not None:
        successor = reverse("api-dataset-detail", kwargs={"slug": dataset.superseded_by.slug})
        response["Link"] = f'<{successor}>; rel="successor-version"'
    return response
