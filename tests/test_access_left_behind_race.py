"""Two stewards reassigning the same left-behind dataset at once: the first wins and the second is told so,
instead of silently handing the dataset on again."""

import pytest
from django.core.exceptions import ValidationError

from access.leavers import person_depart, person_rejoin
from access.models import AuditEvent
from catalog.models import Dataset
from catalog.services import datasets_reassign_owner
from tests.concurrency import race
from tests.factories import make_dataset, make_person


@pytest.fixture
def left_behind(owner):
    dataset = make_dataset(owner, slug="night-drives", name="Night drives")
    person_depart(person=owner, actor=None)
    return dataset


@pytest.mark.django_db(transaction=True)
def test_the_second_of_two_concurrent_reassignments_is_refused(left_behind, unit):
    mira, nils = make_person("mira", unit=unit, display_name="Mira"), make_person("nils", unit=unit)
    # Both stewards loaded the Left behind page before either saved.
    first_copy, second_copy = (Dataset.objects.get(pk=left_behind.pk) for _ in range(2))

    first, second = race(
        lambda: datasets_reassign_owner(datasets=[first_copy], new_owner=mira, actor=mira, reason="taking over"),
        lambda: datasets_reassign_owner(datasets=[second_copy], new_owner=nils, actor=nils, reason="mine now"),
    )

    assert not isinstance(first, Exception), repr(first)
    assert isinstance(second, ValidationError), repr(second)
    assert second.message_dict == {"datasets": [
        "'Night drives' was meanwhile given to Mira: it is no longer left behind. Reload the page to see what "
        "still is."
    ]}
    assert Dataset.objects.get(pk=left_behind.pk).owner == mira
    assert AuditEvent.objects.filter(action="dataset.ownership_changed").count() == 1


@pytest.mark.django_db
def test_a_stale_copy_or_a_returned_owner_is_refused_and_nothing_moves(left_behind, owner, unit):
    mira, nils = make_person("mira", unit=unit, display_name="Mira"), make_person("nils", unit=unit)
    other = make_dataset(mira, slug="other")
    person_depart(person=mira, actor=None)
    other = Dataset.objects.get(pk=other.pk)
    stale = Dataset.objects.get(pk=left_behind.pk)
    person_rejoin(person=owner, actor=None, unit=unit)

    with pytest.raises(ValidationError) as refused:
        datasets_reassign_owner(datasets=[other, stale], new_owner=nils, actor=nils, reason="tidy up")

    assert refused.value.message_dict == {
        "datasets": ["'Night drives' is no longer left behind: Olivia Owner is active again."]
    }
    assert Dataset.objects.get(pk=other.pk).owner == mira  # all or nothing

    datasets_reassign_owner(datasets=[other], new_owner=nils, actor=nils, reason="tidy up")
    with pytest.raises(ValidationError, match="was meanwhile given to Nils"):
        datasets_reassign_owner(datasets=[other], new_owner=owner, actor=owner, reason="mine")
    assert Dataset.objects.get(pk=other.pk).owner == nils
