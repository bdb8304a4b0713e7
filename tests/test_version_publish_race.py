"""Two publishers of one label at once (a CI job and its retry): one version, and a 400 for the other, never a
500. Both pass the "label free?" check before either commits; the unique index then decides."""

import pytest
from django.core.exceptions import ValidationError

from catalog.models import DatasetVersion
from catalog.services import dataset_version_create
from tests.concurrency import race
from tests.factories import make_dataset, manifest


@pytest.mark.django_db(transaction=True)
def test_the_second_of_two_concurrent_publishers_gets_a_validation_error(owner):
    dataset = make_dataset(owner, slug="street-signs")

    first, second = race(
        lambda: dataset_version_create(dataset=dataset, actor=owner, label="v1", files=manifest(2)),
        lambda: dataset_version_create(dataset=dataset, actor=owner, label="v1", files=manifest(3)),
    )

    assert isinstance(first, DatasetVersion)
    assert isinstance(second, ValidationError), repr(second)
    assert second.message_dict == {"label": ["street-signs already has a version 'v1'."]}
    assert list(DatasetVersion.objects.filter(dataset=dataset).values_list("label", "file_count")) == [("v1", 2)]
