"""Importing a dataset's documentation from Croissant 1.1 + RAI: round trip through Kura's own export, files as
other tools write them, refusals, the token scope and the browser form."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from access.models import AuditEvent
from annotations.models import GuidelineRevision
from annotations.selectors import current_guideline_revision
from annotations.services import guideline_revise
from catalog.datasheet import FIELD_NAMES as DATASHEET_FIELDS
from catalog.documentation.croissant_import import MAX_DOCUMENT_BYTES
from catalog.models import Dataset
from catalog.services import LocationSpec
from tests.factories import bearer, make_dataset, make_person, make_unit, make_version

pytestmark = pytest.mark.django_db

IMPORT_URL = "/api/v1/imports/croissant/"
RULES = "## Boxes\n\nDraw a **tight box** around each sign, occluded parts included.\n\n## Skip\n\nSigns under 8 px."
DATASHEET = {
    "composition": "12,400 photos of traffic signs, one JPEG each; 10 % held out for testing.",
    "sensitive_information": "Faces and number plates are blurred before upload.",
    "collection_process": "Dash cameras of the EU test fleet, 2025-03 to 2026-02.",
    "preprocessing": "Resized to 1280 px, duplicates removed by perceptual hash.",
    "known_biases": "Daylight and dry roads dominate; Nordic countries are rare.",
    "known_limitations": "Not for night driving; no temporary road-works signs.",
    "licence": "CC-BY-4.0",
    "maintenance_plan": "The perception team refreshes it every quarter; report errors in #signs.",
}


def _documented_dataset(owner):
    dataset = make_dataset(
        owner,
        slug="street-signs",
        name="Street signs (EU)",
        purpose="Training the street-sign detector for the EU fleet.",
        description="Photos of **traffic signs** from the EU fleet.",
        tags=["vision", "detection", "eu-fleet"],
        locations=[
            LocationSpec(uri="s3://kura-data/signs/eu/"),
            LocationSpec(uri="s3://kura-data/signs-mirror/", role="mirror", note="Frankfurt copy"),
            LocationSpec(uri="file:///mnt/nas/signs", role="backup"),
            LocationSpec(uri="dvc://signs-repo#data/images", role="raw"),
        ],
        datasheet=DATASHEET,
    )
    guideline_revise(dataset=dataset, body=RULES, label_schema={}, actor=owner)
    return dataset


def _import(api, document, **params):
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return api.post(f"{IMPORT_URL}?{query}" if query else IMPORT_URL, document, format="json")


def _locations(dataset):
    return sorted(dataset.locations.values_list("uri", "role", "note"))


def test_a_dataset_exported_as_croissant_imports_as_an_equal_draft(api, owner):
    original = _documented_dataset(owner)
    api.credentials(HTTP_AUTHORIZATION=bearer(owner, scope="read_write"))
    exported = api.get("/api/v1/datasets/street-signs/export/croissant/")
    assert exported.status_code == 200

    response = api.post(f"{IMPORT_URL}?slug=street-signs-copy", exported.content, content_type="application/ld+json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["slug"] == "street-signs-copy"
    assert body["status"] == "draft"
    assert body["datasheet"] == DATASHEET
    copy = Dataset.objects.get(slug="street-signs-copy")
    assert (copy.name, copy.purpose, copy.description) == (original.name, original.purpose, original.description)
    assert {field: getattr(copy, field) for field in DATASHEET_FIELDS} == DATASHEET
    assert sorted(copy.tag_names) == sorted(original.tag_names)
    assert _locations(copy) == _locations(original)
    assert current_guideline_revision(copy).body == RULES
    assert (copy.owner, copy.owning_unit, copy.created_by) == (owner, owner.primary_unit, owner)
    assert sorted(location["uri"] for location in body["locations"]) == [uri for uri, _, _ in _locations(original)]
    # What the export adds and the import takes back out is said; nothing about the datasheet is lost.
    notes = body["notes"]
    assert any("Composition:" in note for note in notes)
    assert any("rules revision" in note for note in notes)
    assert any(note.startswith("Not imported") and "citeAs" in note for note in notes)
    assert AuditEvent.objects.filter(action="dataset.registered", target_id=str(copy.pk)).exists()


def test_a_version_listed_file_by_file_comes_back_as_its_location_and_a_draft_version(api, owner):
    """With a published version, the export lists its files under the primary location besides the location
    itself; the location comes back once, and the files make the same version: same manifest, same digest."""
    original = make_dataset(
        owner, slug="plain", purpose="Checking the plain path of the import.", locations=[
            LocationSpec(uri="s3://kura-data/plain/")
        ],
    )
    make_version(original, "v1", files=3)
    api.credentials(HTTP_AUTHORIZATION=bearer(owner, scope="read_write"))
    exported = api.get("/api/v1/datasets/plain/export/croissant/").json()
    assert [entry["name"] for entry in exported["distribution"]] == [
        "s3://kura-data/plain/", "images/00000.jpg", "images/00001.jpg", "images/00002.jpg"
    ]

    response = _import(api, exported, slug="plain-copy")

    assert response.status_code == 201, response.content
    copy = Dataset.objects.get(slug="plain-copy")
    assert _locations(copy) == [("s3://kura-data/plain/", "primary", "")]
    # Without a description the export repeats the purpose there; the import does not keep it twice.
    assert (copy.purpose, copy.description) == (original.purpose, "")
    source, imported = original.versions.get(), copy.versions.get()
    assert (imported.label, imported.status, imported.file_count) == ("v1", "draft", 3)
    assert imported.digest == source.digest  # the content's identity survives the trip
    assert list(imported.files.values_list("path", "size", "hash")) == list(
        source.files.values_list("path", "size", "hash")
    )
    assert f"sha256:{source.digest}" in "\n".join(response.json()["notes"])


@pytest.mark.parametrize(
    "change, reason",
    [
        (lambda entry: entry.pop("sha256"), "gives no size in bytes or no sha256/md5 hash"),
        (lambda entry: entry.update(contentSize="1.2 MB"), "gives no size in bytes or no sha256/md5 hash"),
        (lambda entry: entry.update(contentUrl="s3://elsewhere-bucket/a.jpg"), "do not all lie under one"),
    ],
)
def test_files_that_do_not_spell_out_a_manifest_leave_the_version_out_with_a_note(api, owner, change, reason):
    original = make_dataset(owner, slug="plain", locations=[LocationSpec(uri="s3://kura-data/plain/")])
    make_version(original, "v1", files=3)
    api.credentials(HTTP_AUTHORIZATION=bearer(owner, scope="read_write"))
    exported = api.get("/api/v1/datasets/plain/export/croissant/").json()
    change(exported["distribution"][-1])

    response = _import(api, exported, slug="plain-copy")

    assert response.status_code == 201, response.content
    assert not Dataset.objects.get(slug="plain-copy").versions.exists()
    assert any(note.startswith("The version 'v1' was not imported") and reason in note
               for note in response.json()["notes"])


def test_a_manifest_the_catalog_refuses_leaves_the_version_out_but_keeps_the_dataset(api, owner):
    original = make_dataset(owner, slug="plain", locations=[LocationSpec(uri="s3://kura-data/plain/")])
    make_version(original, "v1", files=2)
    api.credentials(HTTP_AUTHORIZATION=bearer(owner, scope="read_write"))
    exported = api.get("/api/v1/datasets/plain/export/croissant/").json()
    exported["distribution"][-1]["contentUrl"] = exported["distribution"][-2]["contentUrl"]  # the same path twice

    response = _import(api, exported, slug="plain-copy")

    assert response.status_code == 201, response.content
    assert not Dataset.objects.get(slug="plain-copy").versions.exists()
    assert any(note.startswith("The version 'v1' was not imported") for note in response.json()["notes"])


def test_the_slug_comes_from_the_document_and_is_made_unique(api, owner):
    _documented_dataset(owner)
    api.credentials(HTTP_AUTHORIZATION=bearer(owner, scope="read_write"))
    exported = api.get("/api/v1/datasets/street-signs/export/croissant/").json()

    taken = _import(api, exported)  # alternateName 'street-signs' is taken: a number is added
    assert taken.status_code == 201, taken.content
    assert taken.json()["slug"] == "street-signs-2"
    assert any("'street-signs' is taken" in note for note in taken.json()["notes"])

    exported.pop("alternateName")
    from_name = _import(api, exported)
    assert from_name.json()["slug"] == "street-signs-eu"


# A Croissant file as Hugging Face, mlcroissant or a hand-written generator write them: full IRIs, language maps,
# a licence as CreativeWork, download links and many files in one bucket.
OTHER_TOOL = {
    "@context": {"@language": "en", "@vocab": "https://schema.org/", "sc": "https://schema.org/",
                 "cr": "http://mlcommons.org/croissant/", "rai": "http://mlcommons.org/croissant/RAI/"},
    "@type": "sc:Dataset",
    "dct:conformsTo": "http://mlcommons.org/croissant/1.1",
    "https://schema.org/name": {"en": "Pedestrian crossings", "de": "Zebrastreifen"},
    "http://schema.org/description": [{"@value": "Crossings filmed in Munich and Lyon.", "@language": "en"},
                                      {"@value": "Passages filmés à Munich et à Lyon.", "@language": "fr"}],
    "http://mlcommons.org/croissant/RAI/dataUseCases": ["Evaluating the crossing detector.", "Not for training."],
    "http://mlcommons.org/croissant/RAI/dataBiases": "Only two cities.",
    "rai:dataCollectionMissingData": "Frames with motion blur were dropped.",
    "http://mlcommons.org/croissant/RAI/dataAnnotationProtocol": "Mark every crossing polygon.",
    "license": {"@type": "sc:CreativeWork", "name": "CC BY 4.0",
                "url": "https://creativecommons.org/licenses/by/4.0/"},
    "keywords": ["Computer Vision", "crossings", "C++", "task_categories:object-detection"],
    "creator": {"@type": "sc:Person", "name": "Someone Else"},
    "distribution": [
        {"@type": "cr:FileObject", "@id": "zip", "contentUrl": "https://huggingface.co/datasets/x/crossings.zip"},
        {"@type": "cr:FileObject", "@id": "a", "contentUrl": "s3://kura-crossings/v2/munich/0001.jpg"},
        {"@type": "cr:FileObject", "@id": "b", "contentUrl": "s3://kura-crossings/v2/munich/0002.jpg"},
        {"@type": "cr:FileObject", "@id": "c", "contentUrl": "s3://kura-crossings/v2/lyon/0001.jpg"},
        {"@type": "cr:FileObject", "@id": "d", "http://schema.org/contentUrl": "gs://kura-elsewhere/labels.csv"},
        {"@type": "cr:FileSet", "@id": "jpgs", "containedIn": {"@id": "zip"}, "includes": "*.jpg"},
    ],
}


def test_a_croissant_file_written_by_other_tools_imports(api, owner):
    api.credentials(HTTP_AUTHORIZATION=bearer(owner, scope="read_write"))

    response = _import(api, OTHER_TOOL)

    assert response.status_code == 201, response.content
    body = response.json()
    dataset = Dataset.objects.get(slug=body["slug"])
    assert dataset.slug == "pedestrian-crossings"
    assert dataset.name == "Pedestrian crossings"
    assert dataset.description == "Crossings filmed in Munich and Lyon."
    assert dataset.purpose == "Evaluating the crossing detector.\n\nNot for training."
    assert dataset.known_biases == "Only two cities."
    assert dataset.composition == "**Missing data:** Frames with motion blur were dropped."
    assert dataset.licence == "CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/)"
    assert sorted(dataset.tag_names) == ["computer-vision", "crossings"]
    assert _locations(dataset) == [
        ("gs://kura-elsewhere/labels.csv", "primary", ""),
        ("s3://kura-crossings/v2/", "primary", ""),
    ]
    assert current_guideline_revision(dataset).body == "Mark every crossing polygon."
    notes = "\n".join(body["notes"])
    assert "other languages (de)" in notes and "other languages (fr)" in notes
    assert "1 http(s) file URL was skipped (e.g. https://huggingface.co/datasets/x/crossings.zip)" in notes
    assert "3 file URLs in s3://kura-crossings were recorded as the location s3://kura-crossings/v2/." in notes
    assert "'C++'" in notes and "'task_categories:object-detection'" in notes
    assert "Not imported, Kura keeps no such field: creator." in notes


def test_the_owning_unit_and_purpose_can_be_given(api, owner):
    other_unit = make_unit("Mapping")
    document = {key: value for key, value in OTHER_TOOL.items() if "dataUseCases" not in key}
    api.credentials(HTTP_AUTHORIZATION=bearer(owner, scope="read_write"))

    response = _import(api, document, unit=other_unit.pk, slug="crossings", purpose="Checking map crossings.")

    assert response.status_code == 201, response.content
    dataset = Dataset.objects.get(slug="crossings")
    assert (dataset.owning_unit, dataset.purpose) == (other_unit, "Checking map crossings.")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("{not json", "croissant_not_json"),
        ("", "croissant_not_json"),
        ('["a", "list"]', "croissant_not_object"),
        ('"a string"', "croissant_not_object"),
        (json.dumps({"@type": "sc:Recipe", "name": "Pancakes"}), "croissant_not_dataset"),
        (json.dumps({"name": "No type"}), "croissant_not_dataset"),
        (json.dumps({"@type": "sc:Dataset", "description": "No name", "rai:dataUseCases": "Testing things."}),
         "croissant_missing_name"),
        (json.dumps({"@type": "sc:Dataset", "name": {"en": "  "}}), "croissant_missing_name"),
        (json.dumps({"@type": "https://schema.org/Dataset", "name": "No purpose"}), "croissant_missing_purpose"),
        ("[" * 200 + "]" * 200, "croissant_too_deep"),
    ],
)
def test_a_document_that_cannot_be_imported_is_400_and_creates_nothing(api, owner, body, code):
    api.credentials(HTTP_AUTHORIZATION=bearer(owner, scope="read_write"))

    response = api.generic("POST", IMPORT_URL, body, "application/json")

    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == code
    assert not Dataset.objects.exists()


def test_a_missing_purpose_names_the_property(api, owner):
    api.credentials(HTTP_AUTHORIZATION=bearer(owner, scope="read_write"))
    response = _import(api, {"@type": "sc:Dataset", "name": "No purpose"})
    assert "rai:dataUseCases" in response.json()["error"]["message"]


def test_a_document_over_the_limit_is_413_and_creates_nothing(api, owner):
    api.credentials(HTTP_AUTHORIZATION=bearer(owner, scope="read_write"))
    document = {**OTHER_TOOL, "description": "x" * MAX_DOCUMENT_BYTES}

    response = _import(api, document)

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "croissant_too_large"
    assert not Dataset.objects.exists()


def test_rules_the_catalog_refuses_roll_back_the_dataset(api, owner):
    """The dataset is written before its rules; refused rules must take it back out."""
    api.credentials(HTTP_AUTHORIZATION=bearer(owner, scope="read_write"))
    document = {**OTHER_TOOL, "rai:dataAnnotationProtocol": "Click <script>alert(1)</script> first."}
    document.pop("http://mlcommons.org/croissant/RAI/dataAnnotationProtocol")

    response = _import(api, document)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert "rai:dataAnnotationProtocol" in error["details"]
    assert not Dataset.objects.exists()
    assert not GuidelineRevision.objects.exists()


def test_values_the_catalog_refuses_are_named_by_their_document_property(api, owner):
    api.credentials(HTTP_AUTHORIZATION=bearer(owner, scope="read_write"))
    document = {**OTHER_TOOL, "http://mlcommons.org/croissant/RAI/dataBiases": "<iframe src=x>"}

    response = _import(api, document, slug="Not A Slug")

    assert response.status_code == 400
    details = response.json()["error"]["details"]
    assert set(details) == {"rai:dataBiases", "slug"}
    assert not Dataset.objects.exists()


def test_a_read_only_token_cannot_import(api, owner):
    api.credentials(HTTP_AUTHORIZATION=bearer(owner, scope="read"))
    response = _import(api, OTHER_TOOL)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "token_read_only"
    assert not Dataset.objects.exists()


def test_a_unit_token_cannot_import(api, unit):
    api.credentials(HTTP_AUTHORIZATION=bearer(unit=unit, scope="read_write"))
    response = _import(api, OTHER_TOOL)
    assert response.status_code == 403
    assert not Dataset.objects.exists()


def test_an_unknown_unit_is_400(api, owner):
    api.credentials(HTTP_AUTHORIZATION=bearer(owner, scope="read_write"))
    response = _import(api, OTHER_TOOL, unit="00000000-0000-0000-0000-000000000000")
    assert response.status_code == 400
    assert "unit" in response.json()["error"]["details"]
    assert not Dataset.objects.exists()


# --- the browser form -----------------------------------------------------------------------------------


def _upload(document, name="crossings.json"):
    content = document if isinstance(document, bytes) else json.dumps(document).encode()
    return SimpleUploadedFile(name, content, content_type="application/json")


def test_the_dataset_list_links_to_the_import(client, owner):
    client.force_login(owner.user)
    page = client.get(reverse("frontend:dataset-list")).content.decode()
    assert reverse("frontend:dataset-import-croissant") in page
    form = client.get(reverse("frontend:dataset-import-croissant")).content.decode()
    assert f'<option value="{owner.primary_unit_id}" selected>' in form


def test_importing_in_the_browser_opens_the_draft_with_the_notes(client, owner):
    client.force_login(owner.user)
    url = reverse("frontend:dataset-import-croissant")

    response = client.post(url, {"document": _upload(OTHER_TOOL), "owning_unit": owner.primary_unit_id})

    assert response.status_code == 302, response.content.decode()
    assert response["Location"] == reverse("frontend:dataset-edit", args=["pedestrian-crossings"])
    dataset = Dataset.objects.get(slug="pedestrian-crossings")
    assert dataset.status == Dataset.Status.DRAFT
    page = client.get(response["Location"]).content.decode()
    assert "Imported &#x27;Pedestrian crossings&#x27; as a draft." in page
    assert "1 http(s) file URL was skipped" in page
    assert "Mark every crossing polygon." in page  # the rules, in the edit form


def test_a_bad_file_is_shown_on_the_form_and_creates_nothing(client, owner):
    client.force_login(owner.user)
    url = reverse("frontend:dataset-import-croissant")

    response = client.post(url, {"document": _upload(b"{not json"), "owning_unit": owner.primary_unit_id})

    assert response.status_code == 200
    content = response.content.decode()
    assert "Nothing was imported" in content
    assert "The document is not valid JSON" in content
    assert not Dataset.objects.exists()


def test_a_value_the_catalog_refuses_is_named_on_the_form_by_its_document_property(client, owner):
    client.force_login(owner.user)
    document = {**OTHER_TOOL, "http://mlcommons.org/croissant/RAI/dataBiases": "Two cities <script>x()</script>"}

    response = client.post(
        reverse("frontend:dataset-import-croissant"),
        {"document": _upload(document), "owning_unit": owner.primary_unit_id},
    )

    assert response.status_code == 200
    assert "rai:dataBiases in the document: " in response.content.decode()
    assert not Dataset.objects.exists()


def test_a_missing_purpose_is_asked_for_on_the_form(client, owner):
    client.force_login(owner.user)
    url = reverse("frontend:dataset-import-croissant")
    document = {key: value for key, value in OTHER_TOOL.items() if "dataUseCases" not in key}

    refused = client.post(url, {"document": _upload(document), "owning_unit": owner.primary_unit_id})

    assert refused.status_code == 200
    assert "The document has no rai:dataUseCases" in refused.content.decode()
    assert refused.context["form"].errors["purpose"]
    assert not Dataset.objects.exists()

    accepted = client.post(
        url,
        {"document": _upload(document), "owning_unit": owner.primary_unit_id, "purpose": "Checking map crossings."},
    )
    assert accepted.status_code == 302
    assert Dataset.objects.get().purpose == "Checking map crossings."


def test_a_taken_slug_is_shown_on_its_field(client, owner):
    make_dataset(owner, slug="crossings")
    client.force_login(owner.user)
    url = reverse("frontend:dataset-import-croissant")

    response = client.post(
        url, {"document": _upload(OTHER_TOOL), "owning_unit": owner.primary_unit_id, "slug": "crossings"}
    )

    assert response.status_code == 200
    assert "already used by another dataset" in str(response.context["form"].errors["slug"])
    assert Dataset.objects.count() == 1


def test_people_without_a_person_record_cannot_import(client, django_user_model):
    user = django_user_model.objects.create_user("bare-staff", password="x", is_staff=True)
    client.force_login(user)
    assert client.get(reverse("frontend:dataset-import-croissant")).status_code == 403


def test_someone_else_importing_owns_the_draft(api, owner):
    _documented_dataset(owner)
    newcomer = make_person("nina", unit=make_unit("Mapping"))
    api.credentials(HTTP_AUTHORIZATION=bearer(owner, scope="read_write"))
    exported = api.get("/api/v1/datasets/street-signs/export/croissant/").json()
    api.credentials(HTTP_AUTHORIZATION=bearer(newcomer, scope="read_write"))

    response = _import(api, exported, slug="signs-for-mapping")

    assert response.status_code == 201, response.content
    copy = Dataset.objects.get(slug="signs-for-mapping")
    assert (copy.owner, copy.owning_unit) == (newcomer, newcomer.primary_unit)
