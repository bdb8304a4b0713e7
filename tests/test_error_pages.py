"""What people and API callers see when something fails: Kura's own pages, and JSON under /api/."""

import pytest
from django.test import Client

from catalog.models import Dataset
from tests.factories import make_dataset

pytestmark = pytest.mark.django_db


@pytest.fixture
def failing(settings):
    settings.ROOT_URLCONF = "tests.error_urls"
    settings.DEBUG = False
    return Client(raise_request_exception=False)


def test_an_unexpected_api_failure_answers_the_json_error_shape(failing):
    response = failing.get("/api/v1/test-failure/")

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "server_error"
    assert "an unexpected bug" not in response.content.decode()  # no internals leak


def test_an_unexpected_page_failure_shows_kuras_error_page(failing, owner):
    failing.force_login(owner.user)

    response = failing.get("/test-failure/")

    assert response.status_code == 500
    page = response.content.decode()
    assert "Something went wrong" in page and 'href="/"' in page  # a way back, in Kura's own layout
    assert "an unexpected bug" not in page


def test_not_found_pages_keep_their_shapes(client, owner):
    make_dataset(owner, slug="street-signs", visibility=Dataset.Visibility.RESTRICTED)
    client.force_login(owner.user)

    api = client.get("/api/v1/datasets/no-such-dataset/")
    page = client.get("/datasets/no-such-dataset/")

    assert api.status_code == page.status_code == 404
    assert api.json()["error"]["code"] == "not_found"
    assert "Back to the datasets" in page.content.decode()
