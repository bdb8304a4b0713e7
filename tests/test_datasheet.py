"""A dataset's datasheet: written through the form and the API, shown on its page, checked like the rest."""

import pytest
from django.urls import reverse

from catalog.datasheet import FIELD_NAMES, LICENCE_MAX_LENGTH
from catalog.models import Dataset
from catalog.services import dataset_update
from tests.factories import bearer, make_dataset
from tests.test_frontend import form_data

pytestmark = pytest.mark.django_db

ANSWERS = {
    "composition": "12,000 photos of **road signs**, one sign per box.",
    "sensitive_information": "Licence plates and faces are blurred.",
    "collection_process": "Dash cameras of the test fleet, 2025-03 to 2025-09.",
    "preprocessing": "Resized to 1280 px; duplicates removed by perceptual hash.",
    "known_biases": "Mostly daylight; few rural roads.",
    "known_limitations": "Not for speed-limit enforcement.",
    "licence": "CC-BY-4.0",
    "maintenance_plan": "Refreshed each quarter by the perception team.",
}


def test_the_form_saves_the_datasheet_and_the_page_shows_it_by_section(client, owner):
    client.force_login(owner.user)

    response = client.post(reverse("frontend:dataset-create"), form_data(owner, **ANSWERS))

    assert response.status_code == 302
    dataset = Dataset.objects.get(slug="street-signs-eu")
    assert {name: getattr(dataset, name) for name in FIELD_NAMES} == ANSWERS
    page = client.get(response["Location"]).content.decode()
    for title in ("Composition", "Collection", "Preprocessing", "Uses", "Distribution", "Maintenance"):
        assert f'<h3 class="datasheet-section">{title}</h3>' in page
    assert "<strong>road signs</strong>" in page  # markdown rendered
    assert "CC-BY-4.0" in page
    assert "not answered yet" not in page
    assert reverse("api-dataset-export", kwargs={"slug": dataset.slug, "export_format": "croissant"}) in page

    edit = client.get(reverse("frontend:dataset-edit", args=[dataset.slug])).content.decode()
    assert "Dash cameras of the test fleet" in edit  # the form is prefilled for the next edit


def test_the_page_asks_for_the_missing_answers(client, owner):
    dataset = make_dataset(owner, slug="signs")
    dataset_update(dataset=dataset, actor=owner, datasheet={"known_biases": "Mostly daylight."})
    client.force_login(owner.user)

    page = client.get(reverse("frontend:dataset-detail", args=["signs"])).content.decode()

    assert "Mostly daylight." in page
    assert f"{len(FIELD_NAMES) - 1} questions of the datasheet not answered yet." in page
    assert f'{reverse("frontend:dataset-edit", args=["signs"])}#datasheet' in page


def test_a_script_in_an_answer_is_refused_and_nothing_is_saved(client, owner):
    client.force_login(owner.user)

    response = client.post(
        reverse("frontend:dataset-create"), form_data(owner, known_biases="Daylight <script>alert(1)</script>")
    )

    assert response.status_code == 200
    assert "Known biases" in response.content.decode()
    assert not Dataset.objects.filter(slug="street-signs-eu").exists()


def test_the_api_writes_and_reads_the_datasheet(api, owner):
    api.credentials(HTTP_AUTHORIZATION=bearer(owner, scope="read_write"))
    body = {
        "slug": "signs",
        "name": "Signs",
        "purpose": "Training the sign detector for the EU fleet.",
        "owning_unit": str(owner.primary_unit.pk),
        "datasheet": {"composition": "Photos.", "licence": "CC-BY-4.0"},
    }

    created = api.post("/api/v1/datasets/", body, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["datasheet"]["composition"] == "Photos."

    changed = api.patch("/api/v1/datasets/signs/", {"datasheet": {"known_biases": "Daylight."}}, format="json")
    assert changed.status_code == 200, changed.json()
    datasheet = api.get("/api/v1/datasets/signs/").json()["datasheet"]
    assert datasheet == {**dict.fromkeys(FIELD_NAMES, ""), "composition": "Photos.", "licence": "CC-BY-4.0",
                         "known_biases": "Daylight."}


@pytest.mark.parametrize(
    "datasheet, field",
    [
        ({"preprocessing": "<script>alert(1)</script>"}, "preprocessing"),
        ({"licence": "x" * (LICENCE_MAX_LENGTH + 1)}, "licence"),
        ({"unknown_section": "text"}, "unknown_section"),  # a misspelt question is refused, not dropped
    ],
)
def test_the_api_refuses_a_bad_answer_and_changes_nothing(api, owner, datasheet, field):
    dataset = make_dataset(owner, slug="signs")
    api.credentials(HTTP_AUTHORIZATION=bearer(owner, scope="read_write"))

    response = api.patch("/api/v1/datasets/signs/", {"datasheet": datasheet}, format="json")

    dataset.refresh_from_db()
    assert response.status_code == 400, response.json()
    assert field in str(response.json())
    assert all(getattr(dataset, name) == "" for name in FIELD_NAMES)
