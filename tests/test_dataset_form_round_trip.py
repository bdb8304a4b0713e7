"""The edit form submitted unchanged, as a browser submits it, changes nothing.

A browser sends back what the page rendered: every textarea's text with "\\r\\n" line ends (HTML's form encoding),
the selected option of every select, a date input's date. Saving that must neither append an annotation-rules
revision (revisions are permanent and versions record them) nor rewrite any stored value.
"""

from datetime import UTC, datetime
from typing import Any

import pytest
from django.urls import reverse

from access.leavers import person_depart
from annotations.models import GuidelineRevision
from annotations.services import guideline_revise
from catalog.models import Dataset
from catalog.services import dataset_update
from tests.browser_form import BrowserForm
from tests.factories import make_dataset, make_person

pytestmark = pytest.mark.django_db

RULES = "## Boxes\nDraw tight boxes around the sign face.\n\n## Occlusion\nBox only the visible part.\n"


def _unchanged_submission(client: Any, dataset: Dataset) -> Any:
    edit_url = reverse("frontend:dataset-edit", args=[dataset.slug])
    form = BrowserForm()
    form.feed(client.get(edit_url).content.decode())
    return client.post(edit_url, form.submitted())


def _stored(dataset: Dataset) -> dict[str, Any]:
    fresh = Dataset.objects.get(pk=dataset.pk)
    fields = ("name", "purpose", "description", "owner_id", "owning_unit_id", "sunset_at", "composition",
              "superseded_by_id", "deprecation_note", "status")  # fmt: skip
    return {field: getattr(fresh, field) for field in fields}


def test_saving_unchanged_rules_appends_no_revision_and_keeps_line_ends(client, owner):
    dataset = make_dataset(
        owner,
        slug="street-signs",
        description="Dashcam frames.\n\n* day and night\n* rain and snow",
        datasheet={"composition": "Frames.\n\nOne drive never lands in two splits."},
    )
    guideline_revise(dataset=dataset, body=RULES, label_schema={}, actor=owner)  # as the API stores it
    before = _stored(dataset)
    client.force_login(owner.user)

    response = _unchanged_submission(client, dataset)

    assert response.status_code == 302, response.context["form"].errors if response.context else None
    revisions = GuidelineRevision.objects.filter(guideline__dataset=dataset)
    assert list(revisions.values_list("number", "body")) == [(1, RULES)]
    assert _stored(dataset) == before  # no "\r\n" stored either


def test_a_changed_rules_text_still_appends_a_revision(client, owner):
    dataset = make_dataset(owner, slug="street-signs")
    guideline_revise(dataset=dataset, body=RULES, label_schema={}, actor=owner)
    client.force_login(owner.user)
    edit_url = reverse("frontend:dataset-edit", args=[dataset.slug])
    form = BrowserForm()
    form.feed(client.get(edit_url).content.decode())
    data = form.submitted()
    data["guideline_body"] += "\r\n## Truncation\r\nBox up to the border.\r\n"

    assert client.post(edit_url, data).status_code == 302

    latest = GuidelineRevision.objects.filter(guideline__dataset=dataset).order_by("-number").first()
    assert latest is not None and latest.number == 2
    assert latest.body == RULES + "\n## Truncation\nBox up to the border.\n"


def test_a_departed_owner_stays_on_record_when_someone_else_edits(client, owner, colleague):
    dataset = make_dataset(owner, slug="street-signs")
    dataset.stewards.add(colleague)
    person_depart(person=owner, actor=None)
    before = _stored(dataset)
    client.force_login(colleague.user)

    page = client.get(reverse("frontend:dataset-edit", args=[dataset.slug])).content.decode()
    response = _unchanged_submission(client, dataset)

    assert "Olivia Owner (olivia) · departed" in page  # shown, not silently replaced by "---------"
    assert response.status_code == 302, response.context["form"].errors if response.context else None
    assert _stored(dataset) == before


def test_another_departed_person_cannot_be_made_owner(client, owner, colleague, unit):
    leaver = make_person("lea", unit=unit)
    person_depart(person=leaver, actor=None)
    dataset = make_dataset(owner, slug="street-signs")
    client.force_login(owner.user)
    edit_url = reverse("frontend:dataset-edit", args=[dataset.slug])
    form = BrowserForm()
    form.feed(client.get(edit_url).content.decode())

    response = client.post(edit_url, {**form.submitted(), "owner": str(leaver.pk)})

    assert response.status_code == 200
    assert "owner" in response.context["form"].errors
    assert Dataset.objects.get(pk=dataset.pk).owner_id == owner.pk


def test_an_unchanged_sunset_date_keeps_its_time(client, owner):
    successor = make_dataset(owner, slug="street-signs-v2")
    dataset = make_dataset(owner, slug="street-signs")
    sunset = datetime(2027, 3, 7, 20, 8, 29, tzinfo=UTC)
    dataset_update(dataset=dataset, actor=owner, status="deprecated", superseded_by=successor, sunset_at=sunset)
    before = _stored(dataset)
    client.force_login(owner.user)

    response = _unchanged_submission(client, dataset)

    assert response.status_code == 302, response.context["form"].errors if response.context else None
    assert _stored(dataset) == before
    assert before["sunset_at"] == sunset
