"""Two publishers of one label at once (a CI job and its retry): one version, and a 400 for the other, never a
500. Both pass the "label free?" check before either commits; the unique index then decides."""

import threading
import time

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections, transaction

from catalog.models import DatasetVersion
from catalog.services import dataset_version_create
from tests.factories import make_dataset, manifest


def _waiting_on_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return int(cursor.fetchone()[0])


@pytest.mark.django_db(transaction=True)
def test_the_second_of_two_concurrent_publishers_gets_a_validation_error(owner):
    dataset = make_dataset(owner, slug="street-signs")
    inserted, release = threading.Event(), threading.Event()
    outcomes: dict[str, object] = {}

    def first() -> None:
        try:
            with transaction.atomic():
                dataset_version_create(dataset=dataset, actor=owner, label="v1", files=manifest(2))
                inserted.set()
                release.wait(20)  # holds the new row uncommitted while the second publisher checks the label
            outcomes["first"] = "created"
        finally:
            connections.close_all()

    def second() -> None:
        try:
            dataset_version_create(dataset=dataset, actor=owner, label="v1", files=manifest(3))
            outcomes["second"] = "created"
        except Exception as error:  # the kind of error is what this test checks
            outcomes["second"] = error
        finally:
            connections.close_all()

    one = threading.Thread(target=first)
    one.start()
    assert inserted.wait(20)
    two = threading.Thread(target=second)
    two.start()
    deadline = time.monotonic() + 20
    while _waiting_on_a_lock() == 0 and time.monotonic() < deadline:
        time.sleep(0.05)  # the second insert waits on the first's uncommitted row in the unique index
    release.set()
    one.join(20)
    two.join(20)

    assert outcomes["first"] == "created"
    assert isinstance(outcomes["second"], ValidationError), repr(outcomes["second"])
    assert outcomes["second"].message_dict == {"label": ["street-signs already has a version 'v1'."]}
    assert list(DatasetVersion.objects.filter(dataset=dataset).values_list("label", "file_count")) == [("v1", 2)]
