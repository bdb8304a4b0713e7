"""The edit form's "Superseded by": a slug typed in, not a list of every dataset, and a successor the editor may
not see is neither revealed nor lost.

At 100,000 datasets a <select> of every one the editor may see made the page megabytes long; and a restricted
successor, absent from that list, was silently cleared by saving the form unchanged.
"""

from typing import Any

import pytest
from django.urls import reverse

from access.models import Level
from catalog.models import Dataset
from catalog.services import dataset_update
from tests.browser_form import BrowserForm
from tests.factories import grant, make_dataset

pytestmark = pytest.mark.django_db

SECRET_SLUG = "faces-restricted"
SECRET_NAME = "Faces of the test fleet"


def _edit_page(client: Any, dataset: Dataset) -> str:
    return client.get(reverse("frontend:dataset-edit", args=[dataset.slug])).content.decode()


def _submit(client: Any, dataset: Dataset, **changes: str) -> Any:
    """The edit form as the page rendered it, with ``changes`` made by the editor."""
    form = BrowserForm()
    form.feed(_edit_page(client, dataset))
    return client.post(reverse("frontend:dataset-edit", args=[dataset.slug]), {**form.submitted(), **changes})


def _successor_errors(response: Any) -> list[str]:
    assert response.status_code == 200, "saved, but should have been refused"
    return list(response.context["form"].errors.get("superseded_by", []))


def _stored_successor_id(dataset: Dataset) -> Any:
    return Dataset.objects.get(pk=dataset.pk).superseded_by_id


@pytest.fixture
def hidden_successor(owner, colleague):
    """'street-signs', which the colleague stewards, deprecated in favour of a restricted dataset he may not see."""
    successor = make_dataset(owner, slug=SECRET_SLUG, name=SECRET_NAME, visibility="restricted")
    old = make_dataset(owner, slug="street-signs")
    old.stewards.add(colleague)
    dataset_update(dataset=old, actor=owner, status="deprecated", deprecation_note="Relabelled.",
                   superseded_by=successor)  # fmt: skip
    return old


def test_the_form_does_not_list_every_dataset(client, owner):
    others = [make_dataset(owner, slug=f"other-{number}", name=f"Other dataset {number}") for number in range(3)]
    dataset = make_dataset(owner, slug="street-signs")
    client.force_login(owner.user)

    page = _edit_page(client, dataset)

    for other in others:
        assert other.name not in page and other.slug not in page


def test_the_successor_is_named_by_its_slug(client, owner):
    successor = make_dataset(owner, slug="street-signs-v2")
    dataset = make_dataset(owner, slug="street-signs")
    client.force_login(owner.user)

    response = _submit(client, dataset, status="deprecated", superseded_by="  Street-Signs-V2 ")

    assert response.status_code == 302, response.context["form"].errors if response.context else None
    assert _stored_successor_id(dataset) == successor.pk
    assert 'value="street-signs-v2"' in _edit_page(client, dataset)  # shown again as typed, to edit or clear


def test_a_former_slug_names_the_renamed_dataset(client, owner):
    successor = make_dataset(owner, slug="street-signs-v2")
    dataset_update(dataset=successor, actor=owner, slug="street-signs-2026")
    dataset = make_dataset(owner, slug="street-signs")
    client.force_login(owner.user)

    response = _submit(client, dataset, superseded_by="street-signs-v2")

    assert response.status_code == 302
    assert _stored_successor_id(dataset) == successor.pk


def test_clearing_the_field_removes_a_visible_successor(client, owner):
    successor = make_dataset(owner, slug="street-signs-v2")
    dataset = make_dataset(owner, slug="street-signs")
    dataset_update(dataset=dataset, actor=owner, superseded_by=successor)
    client.force_login(owner.user)

    response = _submit(client, dataset, superseded_by="")

    assert response.status_code == 302
    assert _stored_successor_id(dataset) is None


@pytest.mark.parametrize("typed", ["no-such-dataset", SECRET_SLUG])
def test_an_unknown_or_hidden_slug_is_refused_alike(client, owner, colleague, typed):
    make_dataset(owner, slug=SECRET_SLUG, name=SECRET_NAME, visibility="restricted")
    dataset = make_dataset(owner, slug="street-signs")
    dataset.stewards.add(colleague)
    client.force_login(colleague.user)

    errors = _successor_errors(_submit(client, dataset, superseded_by=typed))

    assert errors == [f"No dataset '{typed}' that you can see."]  # a hidden one answers like a missing one
    assert _stored_successor_id(dataset) is None


def test_a_dataset_cannot_be_its_own_successor(client, owner):
    dataset = make_dataset(owner, slug="street-signs")
    dataset_update(dataset=dataset, actor=owner, slug="street-signs-eu")  # its former slug names it too
    client.force_login(owner.user)

    for typed in ("street-signs-eu", "street-signs"):
        assert _successor_errors(_submit(client, dataset, superseded_by=typed)) == [
            "A dataset cannot supersede itself."
        ]


def test_a_hidden_successor_is_not_revealed_and_survives_an_unchanged_save(client, colleague, hidden_successor):
    client.force_login(colleague.user)
    before = _stored_successor_id(hidden_successor)

    page = _edit_page(client, hidden_successor)
    response = _submit(client, hidden_successor)

    assert SECRET_SLUG not in page and SECRET_NAME not in page
    assert "A successor you cannot see is set" in page
    assert response.status_code == 302, response.context["form"].errors if response.context else None
    assert before is not None and _stored_successor_id(hidden_successor) == before


def test_a_hidden_successor_is_removed_only_when_asked(client, colleague, hidden_successor):
    client.force_login(colleague.user)

    response = _submit(client, hidden_successor, remove_successor="on")

    assert response.status_code == 302
    assert _stored_successor_id(hidden_successor) is None


def test_a_hidden_successor_can_be_replaced(client, owner, colleague, hidden_successor):
    replacement = make_dataset(owner, slug="street-signs-v3")
    client.force_login(colleague.user)

    response = _submit(client, hidden_successor, superseded_by="street-signs-v3")

    assert response.status_code == 302
    assert _stored_successor_id(hidden_successor) == replacement.pk


def test_the_owner_who_sees_the_successor_sees_its_slug(client, owner, hidden_successor):
    client.force_login(owner.user)

    page = _edit_page(client, hidden_successor)

    assert f'value="{SECRET_SLUG}"' in page
    assert "A successor you cannot see is set" not in page


def test_suggestions_offer_only_datasets_the_editor_may_see(client, owner, colleague):
    make_dataset(owner, slug="faces-public", name="Faces public")
    make_dataset(owner, slug=SECRET_SLUG, name=SECRET_NAME, visibility="restricted")
    make_dataset(owner, slug="street-signs", name="Street signs")
    client.force_login(colleague.user)
    url = reverse("frontend:successor-suggestions")

    offered = client.get(url, {"superseded_by": "fac"}, HTTP_HX_REQUEST="true").content.decode()

    assert '<option value="faces-public">' in offered
    assert SECRET_SLUG not in offered and SECRET_NAME not in offered
    assert "street-signs" not in offered
    assert client.get(url, {"superseded_by": ""}).content.decode().strip() == ""  # nothing typed, nothing offered


def test_suggestions_follow_a_grant(client, owner, colleague):
    secret = make_dataset(owner, slug=SECRET_SLUG, name=SECRET_NAME, visibility="restricted")
    grant(secret, colleague, Level.VIEW)
    client.force_login(colleague.user)

    offered = client.get(reverse("frontend:successor-suggestions"), {"superseded_by": "faces"}).content.decode()

    assert f'<option value="{SECRET_SLUG}">' in offered
