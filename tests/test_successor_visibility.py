"""A deprecated dataset names its successor only to people who may see that successor.

A restricted dataset is "only visible to people with access": its slug or name in another dataset's warnings,
headers, page or exports would reveal that it exists to everyone who may see the deprecated one.
"""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from access.models import Level
from catalog.services import dataset_update
from tests.factories import bearer, grant, make_dataset, make_person, make_version

pytestmark = pytest.mark.django_db

SECRET_SLUG = "faces-restricted"
SECRET_NAME = "Faces of the test fleet"


@pytest.fixture
def deprecated(owner):
    """An internal dataset, deprecated in favour of a restricted one."""
    successor = make_dataset(owner, slug=SECRET_SLUG, name=SECRET_NAME, visibility="restricted")
    make_version(successor, "v1")
    old = make_dataset(owner, slug="street-signs")
    make_version(old, "v1")
    return dataset_update(
        dataset=old,
        actor=owner,
        status="deprecated",
        deprecation_note="Relabelled.",
        superseded_by=successor,
        sunset_at=timezone.now() + timedelta(days=30),
    )


def _text(response) -> str:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return body.decode() + response.get("Link", "")  # some answers name it in the header only


def _api(person):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=bearer(person))
    return client


API_URLS = [
    "/api/v1/datasets/street-signs/",
    "/api/v1/datasets/street-signs/versions/latest/",  # the plain CI lookup on PostgreSQL
    "/api/v1/datasets/street-signs/versions/latest/?allow_archived=0",  # the same through DRF
    "/api/v1/datasets/street-signs/versions/v1/manifest/",
    "/api/v1/datasets/street-signs/versions/",
    "/api/v1/datasets/street-signs/export/croissant/",
    "/api/v1/datasets/street-signs/export/hf-card/",
    "/api/v1/datasets/street-signs/export/dcat/",
    "/api/v1/catalog/dcat/",
]


@pytest.mark.parametrize("url", API_URLS)
def test_the_api_does_not_name_a_successor_the_caller_may_not_see(deprecated, unit, url):
    outsider = make_person("olga", unit=unit)
    grant(deprecated, outsider, Level.READ)  # reads the old dataset's data, knows nothing of the new one

    response = _api(outsider).get(url)

    assert response.status_code == 200
    assert SECRET_SLUG not in _text(response)
    assert response.get("Deprecation") or url.endswith("/catalog/dcat/")  # still flagged as deprecated


@pytest.mark.parametrize("url", API_URLS)
def test_the_api_names_the_successor_to_those_who_may_see_it(deprecated, unit, url):
    insider = make_person("ines", unit=unit)
    grant(deprecated, insider, Level.READ)
    grant(deprecated.superseded_by, insider, Level.VIEW)

    response = _api(insider).get(url)

    assert response.status_code == 200
    assert SECRET_SLUG in _text(response)


def test_the_dataset_page_does_not_name_a_successor_the_reader_may_not_see(deprecated, unit, client):
    outsider = make_person("olga", unit=unit)
    client.force_login(outsider.user)

    page = client.get("/datasets/street-signs/").content.decode()

    assert "Relabelled." in page  # the deprecation itself is shown
    assert SECRET_SLUG not in page and SECRET_NAME not in page


def test_the_dataset_page_links_the_successor_for_those_who_may_see_it(deprecated, owner, client):
    client.force_login(owner.user)

    page = client.get("/datasets/street-signs/").content.decode()

    assert f"/datasets/{SECRET_SLUG}/" in page and SECRET_NAME in page
