"""Location checks run by a real Celery worker over the machine's Redis broker."""

import time

import pytest
from celery.contrib.testing.worker import start_worker

from catalog.models import StorageLocation
from catalog.services import LocationSpec
from catalog.tasks import verify_all_locations
from kura.celery import app
from tests.factories import make_dataset


@pytest.mark.django_db(transaction=True)
def test_worker_verifies_local_locations_through_redis(owner, tmp_path, settings):
    settings.KURA_LOCAL_ROOTS = [str(tmp_path)]
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "part-0.bin").write_bytes(b"data")
    (tmp_path / "empty").mkdir()
    outside = "/nonexistent-kura-root/data"
    make_dataset(owner, slug="full-set", locations=[LocationSpec(uri=f"file://{tmp_path}/full")])
    make_dataset(owner, slug="empty-set", locations=[LocationSpec(uri=f"file://{tmp_path}/empty")])
    make_dataset(owner, slug="gone-set", locations=[LocationSpec(uri=f"file://{tmp_path}/vanished")])
    make_dataset(owner, slug="elsewhere", locations=[LocationSpec(uri=f"file://{outside}")])
    assert app.conf.broker_url.startswith("redis://")

    with start_worker(app, perform_ping_check=False, pool="solo", shutdown_timeout=10):
        verify_all_locations.delay()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if StorageLocation.objects.filter(uri__contains=str(tmp_path), last_verified_at__isnull=True).count() == 0:
                break
            time.sleep(0.2)

    results = {loc.dataset.slug: (loc.last_verification_ok, loc.last_verification_message)
               for loc in StorageLocation.objects.select_related("dataset")}
    assert results["full-set"] == (True, "Data present.")
    assert results["empty-set"] == (False, "Directory is empty.")
    assert results["gone-set"] == (False, "Path does not exist.")
    assert results["elsewhere"] == (None, "")  # outside the allow-list: never touched
