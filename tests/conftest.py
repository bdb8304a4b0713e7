import pytest
from rest_framework.test import APIClient

from tests.broker_support import broker_down  # noqa: F401 - fixture for the broker outage tests
from tests.browser_support import browser, page  # noqa: F401  (fixtures for the browser tests)
from tests.dvc_builders import history  # noqa: F401 - fixture for the DVC tests
from tests.factories import make_person, make_unit
from tests.storage_support import (  # noqa: F401 - fixtures
    bucket,
    fault_proxy,
    moto_endpoint,
    no_default_credentials,
    storage_settings,
)


@pytest.fixture
def unit(db):
    return make_unit("Perception")


@pytest.fixture
def owner(unit):
    return make_person("olivia", unit=unit, display_name="Olivia Owner")


@pytest.fixture
def colleague(unit):
    return make_person("carl", unit=unit, display_name="Carl Colleague")


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path_factory):
    """Uploaded files of a test go to a temporary directory, never into the checkout."""
    settings.MEDIA_ROOT = tmp_path_factory.mktemp("media")
