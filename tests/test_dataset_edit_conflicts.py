"""Two people editing one dataset: a save that would undo someone else's is refused once, then wins if repeated.

The form carries what its copy was read at (the dataset's ``updated_at`` and the rules' revision number).
"""

from typing import Any

import pytest
from django.urls import reverse

from annotations.models import GuidelineRevision
from annotations.services import guideline_revise
from catalog.models import Dataset
from catalog.services import dataset_update
from tests.browser_form import BrowserForm
from tests.factories import make_dataset
from tests.test_dataset_form_round_trip import RULES

pytestmark = pytest.mark.django_db


def _loaded_form(client: Any, dataset: Dataset) -> dict[str, str]:
    form = BrowserForm()
    form.feed(client.get(reverse("frontend:dataset-edit", args=[dataset.slug])).content.decode())
    return form.submitted()


def _resubmitted(response: Any) -> dict[str, str]:
    """What the browser sends when the person presses Save again on the page that reported the conflict."""
    form = BrowserForm()
    form.feed(response.content.decode())
    return form.submitted()


def test_a_save_over_someone_elses_is_refused_then_wins_when_repeated(client, owner, colleague):
    dataset = make_dataset(owner, slug="street-signs", name="Street signs")
    client.force_login(owner.user)
    edit_url = reverse("frontend:dataset-edit", args=[dataset.slug])
    mine = {**_loaded_form(client, dataset), "purpose": "Training the EU sign detector, night scenes included."}

    dataset_update(dataset=dataset, actor=colleague, name="Street signs (EU)")  # saved while the form was open
    refused = client.post(edit_url, mine)

    assert refused.status_code == 200
    assert "Someone saved this dataset at" in refused.content.decode()
    stored = Dataset.objects.get(pk=dataset.pk)
    assert (stored.name, stored.purpose) == ("Street signs (EU)", dataset.purpose)  # theirs kept, mine not written

    again = _resubmitted(refused)
    assert again["purpose"] == mine["purpose"]  # the person's text survived the refusal
    assert client.post(edit_url, again).status_code == 302
    stored = Dataset.objects.get(pk=dataset.pk)
    assert (stored.name, stored.purpose) == ("Street signs", mine["purpose"])  # the form's whole copy won


def test_rules_revised_meanwhile_are_not_reverted_by_an_edit_of_other_fields(client, owner, colleague):
    dataset = make_dataset(owner, slug="street-signs")
    guideline_revise(dataset=dataset, body=RULES, label_schema={}, actor=owner)
    client.force_login(owner.user)
    edit_url = reverse("frontend:dataset-edit", args=[dataset.slug])
    mine = {**_loaded_form(client, dataset), "name": "Street signs (EU)"}

    guideline_revise(dataset=dataset, body=RULES + "\n## Glare\nBox it anyway.\n", label_schema={}, actor=colleague)
    refused = client.post(edit_url, mine)

    assert refused.status_code == 200
    assert "now revision 2" in refused.content.decode()
    revisions = GuidelineRevision.objects.filter(guideline__dataset=dataset)
    assert revisions.count() == 2  # no third revision putting the old text back
    assert Dataset.objects.get(pk=dataset.pk).name != "Street signs (EU)"  # nothing half-saved


def test_an_edit_nobody_raced_saves_as_before(client, owner):
    dataset = make_dataset(owner, slug="street-signs")
    guideline_revise(dataset=dataset, body=RULES, label_schema={}, actor=owner)
    client.force_login(owner.user)
    edit_url = reverse("frontend:dataset-edit", args=[dataset.slug])

    response = client.post(edit_url, {**_loaded_form(client, dataset), "name": "Street signs (EU)"})

    assert response.status_code == 302
    assert Dataset.objects.get(pk=dataset.pk).name == "Street signs (EU)"


def test_a_damaged_stamp_is_a_form_error_not_a_500(client, owner):
    dataset = make_dataset(owner, slug="street-signs")
    client.force_login(owner.user)

    response = client.post(
        reverse("frontend:dataset-edit", args=[dataset.slug]),
        {**_loaded_form(client, dataset), "unchanged_since": "yesterday"},
    )

    assert response.status_code == 200 and "This form was damaged" in response.content.decode()
