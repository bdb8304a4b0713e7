"""Browser pages through Django's test client: the registration form, permissions, redirects, list and search."""

import csv
import html
import io
import json
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from annotations.models import AnnotationGuideline, GuidelineRevision
from annotations.services import guideline_revise
from catalog.models import Dataset, SlugAlias, StorageLocation
from catalog.selectors import dataset_can_read_data
from catalog.services import LocationSpec, dataset_update
from tests.factories import make_dataset, make_person, make_unit, make_version

pytestmark = pytest.mark.django_db

SCHEMA = {
    "classes": [
        {"name": "stop", "definition": "A stop sign.", "attributes": [{"name": "occluded", "type": "boolean"}]},
        {
            "name": "yield",
            "definition": "A give-way triangle.",
            "attributes": [{"name": "truncation", "type": "enum", "values": ["none", "partial"]}],
        },
    ]
}


def form_data(owner: Any, *, locations: list[tuple[str, str]] | None = None, **overrides: Any) -> dict[str, Any]:
    """A complete, valid registration POST; ``overrides`` replace single fields."""
    rows = locations if locations is not None else [("s3://kura-data/signs/eu/", "primary")]
    data: dict[str, Any] = {
        "name": "Street signs (EU)",
        "slug": "street-signs-eu",
        "purpose": "Training the street-sign detector for the EU fleet.",
        "description": "Collected in **12 countries**.",
        "owner": owner.pk,
        "owning_unit": owner.primary_unit.pk,
        "status": "active",
        "visibility": "internal",
        "classification": "internal",
        "tags": "vision, detection",
        "training_repo_url": "",
        "training_repo_path": "",
        "deprecation_note": "",
        "superseded_by": "",
        "sunset_at": "",
        "guideline_body": "Draw a **tight box** around each sign.",
        "label_schema": json.dumps(SCHEMA),
        "locations-TOTAL_FORMS": str(len(rows)),
        "locations-INITIAL_FORMS": "0",
        "locations-MIN_NUM_FORMS": "0",
        "locations-MAX_NUM_FORMS": "1000",
    }
    for index, (uri, role) in enumerate(rows):
        data[f"locations-{index}-uri"] = uri
        data[f"locations-{index}-role"] = role
        data[f"locations-{index}-note"] = ""
    data.update(overrides)
    return data


def edit_data(dataset: Dataset, **overrides: Any) -> dict[str, Any]:
    """The edit form as the browser would submit it unchanged (existing locations as initial rows)."""
    rows = [(location.uri, location.role) for location in dataset.locations.all()]
    data = form_data(
        dataset.owner,
        locations=rows,
        name=dataset.name,
        slug=dataset.slug,
        purpose=dataset.purpose,
        description=dataset.description,
        owning_unit=dataset.owning_unit_id,
        guideline_body="",
        label_schema="",
        tags="",
    )
    data["locations-INITIAL_FORMS"] = str(len(rows))
    data.update(overrides)
    return data


def nothing_created() -> bool:
    return not (Dataset.objects.exists() or StorageLocation.objects.exists() or GuidelineRevision.objects.exists())


def listed_slugs(response: Any) -> list[str]:
    return [dataset.slug for dataset in response.context["datasets"]]


# --- sign-in --------------------------------------------------------------------------------------------


def test_anonymous_users_are_redirected_to_login(client, owner):
    dataset = make_dataset(owner, slug="street-signs")
    make_version(dataset, "v1")
    urls = [
        reverse("frontend:dataset-list"),
        reverse("frontend:dataset-create"),
        reverse("frontend:dataset-detail", args=["street-signs"]),
        reverse("frontend:dataset-edit", args=["street-signs"]),
        reverse("frontend:version-detail", args=["street-signs", "v1"]),
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"] == f"{reverse('login')}?next={url}", url

    posted = client.post(reverse("frontend:dataset-create"), form_data(owner, slug="sneaky"))
    assert posted.status_code == 302
    assert not Dataset.objects.filter(slug="sneaky").exists()


# --- registration ---------------------------------------------------------------------------------------


def test_registration_creates_dataset_locations_and_guideline(client, owner):
    client.force_login(owner.user)
    data = form_data(
        owner,
        locations=[("s3://kura-data/signs/eu/", "primary"), ("file:///mnt/nas/signs-eu", "backup")],
    )

    response = client.post(reverse("frontend:dataset-create"), data)

    assert response.status_code == 302
    assert response["Location"] == reverse("frontend:dataset-detail", args=["street-signs-eu"])
    dataset = Dataset.objects.get(slug="street-signs-eu")
    assert dataset.name == "Street signs (EU)"
    assert dataset.purpose == "Training the street-sign detector for the EU fleet."
    assert dataset.owner == owner
    assert dataset.owning_unit == owner.primary_unit
    assert dataset.created_by == owner
    assert sorted(tag.name for tag in dataset.tags.all()) == ["detection", "vision"]
    assert sorted(dataset.locations.values_list("uri", "role")) == [
        ("file:///mnt/nas/signs-eu", "backup"),
        ("s3://kura-data/signs/eu/", "primary"),
    ]
    revision = GuidelineRevision.objects.get(guideline__dataset=dataset)
    assert revision.number == 1
    assert revision.body == "Draw a **tight box** around each sign."
    assert revision.label_schema == SCHEMA

    page = client.get(response["Location"])
    content = page.content.decode()
    assert "Saved &#x27;Street signs (EU)&#x27;." in content
    assert "Training the street-sign detector for the EU fleet." in content
    assert "s3://kura-data/signs/eu/" in content
    assert "<strong>tight box</strong>" in content
    assert "<strong>12 countries</strong>" in content


def test_registration_form_prefills_the_signed_in_person(client, owner):
    client.force_login(owner.user)

    response = client.get(reverse("frontend:dataset-create"))

    assert response.status_code == 200
    form = response.context["form"]
    assert form.initial["owner"] == owner.pk
    assert form.initial["owning_unit"] == owner.primary_unit_id
    assert 'data-add-row="locations"' in response.content.decode()
    assert 'id="locations-empty-row"' in response.content.decode()


INVALID_SUBMISSIONS = {
    "invalid storage URI": (
        {"locations-0-uri": "http://example.com/data"},
        "location:uri",
        "is not a supported storage URI",
    ),
    "bucket name too short": ({"locations-0-uri": "s3://x/data"}, "location:uri", "is not a valid s3 bucket name"),
    "slug with spaces and capitals": ({"slug": "Street Signs"}, "slug", "A slug is 3 to 100 lowercase letters"),
    "slug with double hyphen": ({"slug": "street--signs"}, "slug", "A slug is 3 to 100 lowercase letters"),
    "purpose too short": ({"purpose": "signs"}, "purpose", "Say what problem this dataset serves"),
    "script in description": (
        {"description": "Nice data <script>alert(1)</script>"},
        "description",
        "Markdown may not contain active HTML",
    ),
    "event handler in description": (
        {"description": "<img src=x onerror=alert(1)>"},
        "description",
        "Markdown may not contain active HTML",
    ),
    "script in annotation rules": (
        {"guideline_body": "Box every sign. <SCRIPT src=//evil.example/x.js></SCRIPT>"},
        "guideline_body",
        "Markdown may not contain active HTML",
    ),
    "invalid JSON": ({"label_schema": '{"classes": [}'}, "label_schema", "Not valid JSON"),
    "NaN in the label schema": (
        {"label_schema": '{"classes": [{"name": "car", "definition": "A car.", "color": NaN}]}'},
        "label_schema",
        "numbers must be finite",
    ),
    "class without definition": (
        {"label_schema": '{"classes": [{"name": "car"}]}'},
        "label_schema",
        "class &#x27;car&#x27; needs a definition",
    ),
    "unknown attribute type": (
        {
            "label_schema": '{"classes": [{"name": "car", "definition": "A car.", "attributes": [{"name": "x", '
            '"type": "colour"}]}]}'
        },
        "label_schema",
        "classes[0].attributes[0].type: must be one of",
    ),
}


@pytest.mark.parametrize("case", INVALID_SUBMISSIONS.keys())
def test_invalid_registration_shows_the_field_error_and_creates_nothing(client, owner, case):
    overrides, field, message = INVALID_SUBMISSIONS[case]
    client.force_login(owner.user)

    response = client.post(reverse("frontend:dataset-create"), form_data(owner, **overrides))

    assert response.status_code == 200
    if field == "location:uri":
        errors = response.context["formset"].forms[0].errors["uri"]
    else:
        errors = response.context["form"].errors[field]
    assert any(html.unescape(message) in error for error in errors), errors
    content = response.content.decode()
    assert content.count(message) >= 2  # next to the field and in the summary at the top
    assert "Nothing was saved yet" in content
    assert nothing_created()


def test_rules_refused_by_the_service_roll_back_the_whole_registration(client, owner, monkeypatch):
    def refuse(**kwargs: Any) -> None:
        raise ValidationError("These rules contradict the label schema.")

    monkeypatch.setattr("frontend.views.guideline_revise", refuse)
    client.force_login(owner.user)

    response = client.post(reverse("frontend:dataset-create"), form_data(owner))

    assert response.status_code == 200
    assert response.context["form"].errors["guideline_body"] == ["These rules contradict the label schema."]
    assert nothing_created()


def test_invalid_registration_keeps_what_was_typed(client, owner):
    client.force_login(owner.user)

    response = client.post(reverse("frontend:dataset-create"), form_data(owner, slug="Bad Slug", name="Keep this name"))

    content = response.content.decode()
    assert 'value="Keep this name"' in content
    assert 'value="s3://kura-data/signs/eu/"' in content
    assert nothing_created()


def test_duplicate_slug_is_refused(client, owner):
    make_dataset(owner, slug="street-signs-eu", name="The first one")
    client.force_login(owner.user)

    response = client.post(reverse("frontend:dataset-create"), form_data(owner, name="The second one"))

    assert response.status_code == 200
    assert response.context["form"].errors["slug"] == ["The slug 'street-signs-eu' is already used by another dataset."]
    assert list(Dataset.objects.values_list("name", flat=True)) == ["The first one"]
    assert StorageLocation.objects.count() == 1
    assert not GuidelineRevision.objects.exists()


def test_old_slug_held_as_alias_is_refused(client, owner):
    dataset = make_dataset(owner, slug="street-signs-eu", name="Renamed")
    dataset_update(dataset=dataset, actor=owner, slug="street-signs-europe")
    client.force_login(owner.user)

    response = client.post(reverse("frontend:dataset-create"), form_data(owner, name="Squatter"))

    assert response.status_code == 200
    assert "already used by another dataset" in response.context["form"].errors["slug"][0]
    assert list(Dataset.objects.values_list("name", flat=True)) == ["Renamed"]
    assert SlugAlias.objects.get(slug="street-signs-eu").dataset == dataset


def test_location_listed_twice_is_reported_above_the_locations(client, owner):
    client.force_login(owner.user)
    rows = [("s3://kura-data/signs/eu/", "primary"), ("s3://kura-data/signs/eu/", "mirror")]

    response = client.post(reverse("frontend:dataset-create"), form_data(owner, locations=rows))

    assert response.status_code == 200
    assert any("listed twice" in error for error in response.context["formset"].non_form_errors())
    assert "listed twice" in response.content.decode()
    assert nothing_created()


# --- editing --------------------------------------------------------------------------------------------


def test_non_owner_cannot_edit(client, owner, colleague):
    dataset = make_dataset(owner, slug="street-signs-eu", name="Original")
    client.force_login(colleague.user)

    page = client.get(reverse("frontend:dataset-edit", args=[dataset.slug]))
    posted = client.post(reverse("frontend:dataset-edit", args=[dataset.slug]), edit_data(dataset, name="Hijacked"))
    detail = client.get(reverse("frontend:dataset-detail", args=[dataset.slug]))

    assert page.status_code == 403
    assert posted.status_code == 403
    assert "Only the owner, stewards or staff can edit this dataset." in page.content.decode()
    dataset.refresh_from_db()
    assert dataset.name == "Original"
    assert reverse("frontend:dataset-edit", args=[dataset.slug]) not in detail.content.decode()


def test_steward_and_staff_can_edit(client, owner, colleague):
    dataset = make_dataset(owner, slug="street-signs-eu")
    dataset.stewards.add(colleague)
    admin = make_person("root", staff=True)

    for person in (colleague, admin):
        client.force_login(person.user)
        assert client.get(reverse("frontend:dataset-edit", args=[dataset.slug])).status_code == 200


def test_owner_edits_renames_and_changes_locations(client, owner):
    dataset = make_dataset(
        owner,
        slug="street-signs-eu",
        locations=[LocationSpec("s3://kura-data/signs/eu/"), LocationSpec("file:///mnt/nas/old", role="backup")],
    )
    client.force_login(owner.user)
    edit_url = reverse("frontend:dataset-edit", args=[dataset.slug])
    form_page = client.get(edit_url)
    initial_rows = [form.initial for form in form_page.context["formset"].forms if form.initial]
    assert [row["uri"] for row in initial_rows] == ["s3://kura-data/signs/eu/", "file:///mnt/nas/old"]

    data = edit_data(dataset, name="Street signs (Europe)", slug="street-signs-europe")
    rows = [("s3://kura-data/signs/eu/", "primary", ""), ("file:///mnt/nas/old", "backup", "on")]
    rows.append(("gs://kura-mirror/signs/", "mirror", ""))
    for index, (uri, role, delete) in enumerate(rows):
        data[f"locations-{index}-uri"], data[f"locations-{index}-role"] = uri, role
        if delete:
            data[f"locations-{index}-DELETE"] = delete
    data["locations-INITIAL_FORMS"], data["locations-TOTAL_FORMS"] = "2", "3"
    response = client.post(edit_url, data)

    assert response.status_code == 302
    assert response["Location"] == reverse("frontend:dataset-detail", args=["street-signs-europe"])
    dataset.refresh_from_db()
    assert (dataset.name, dataset.slug) == ("Street signs (Europe)", "street-signs-europe")
    assert sorted(dataset.locations.values_list("uri", flat=True)) == [
        "gs://kura-mirror/signs/",
        "s3://kura-data/signs/eu/",
    ]
    assert list(dataset.aliases.values_list("slug", flat=True)) == ["street-signs-eu"]


def test_edit_adds_a_new_guideline_revision(client, owner):
    dataset = make_dataset(owner, slug="street-signs-eu")
    guideline_revise(dataset=dataset, body="Old rules.", label_schema={}, actor=owner)
    client.force_login(owner.user)

    form_page = client.get(reverse("frontend:dataset-edit", args=[dataset.slug]))
    assert form_page.context["form"].initial["guideline_body"] == "Old rules."
    response = client.post(
        reverse("frontend:dataset-edit", args=[dataset.slug]),
        edit_data(dataset, guideline_body="New rules.", label_schema=json.dumps(SCHEMA)),
    )

    assert response.status_code == 302
    revisions = list(GuidelineRevision.objects.filter(guideline__dataset=dataset).order_by("number"))
    assert [(revision.number, revision.body) for revision in revisions] == [(1, "Old rules."), (2, "New rules.")]
    assert revisions[1].label_schema == SCHEMA


# --- detail pages, redirects and visibility -------------------------------------------------------------


def test_renamed_dataset_old_url_redirects_permanently(client, owner, colleague):
    dataset = make_dataset(owner, slug="old-name")
    dataset_update(dataset=dataset, actor=owner, slug="new-name")
    client.force_login(colleague.user)

    response = client.get(reverse("frontend:dataset-detail", args=["old-name"]))
    new_page = client.get(reverse("frontend:dataset-detail", args=["new-name"]))

    assert response.status_code == 301
    assert response["Location"] == reverse("frontend:dataset-detail", args=["new-name"])
    assert new_page.status_code == 200
    assert "formerly old-name" in new_page.content.decode()


def test_restricted_dataset_is_invisible_to_others(client, owner, colleague):
    secret = make_dataset(
        owner, slug="secret-faces", name="Secret faces", visibility="restricted", tags=["faces-internal"]
    )
    make_version(secret, "v1")
    make_dataset(owner, slug="public-signs", name="Public signs", tags=["signs"])
    client.force_login(colleague.user)

    for url in (
        reverse("frontend:dataset-detail", args=["secret-faces"]),
        reverse("frontend:dataset-edit", args=["secret-faces"]),
        reverse("frontend:version-detail", args=["secret-faces", "v1"]),
    ):
        assert client.get(url).status_code == 404, url
    missing = client.get(reverse("frontend:dataset-detail", args=["no-such-dataset"]))
    assert missing.status_code == 404
    listing = client.get(reverse("frontend:dataset-list"))
    search = client.get(reverse("frontend:dataset-list"), {"search": "secret"})
    by_tag = client.get(reverse("frontend:dataset-list"), {"tag": "faces-internal"})

    assert listed_slugs(listing) == ["public-signs"]
    assert "Secret faces" not in listing.content.decode()
    assert "faces-internal" not in listing.content.decode()  # not even offered as a tag filter
    assert listed_slugs(search) == []
    assert "Secret faces" not in search.content.decode()
    assert listed_slugs(by_tag) == []

    client.force_login(owner.user)
    assert client.get(reverse("frontend:dataset-detail", args=["secret-faces"])).status_code == 200
    assert listed_slugs(client.get(reverse("frontend:dataset-list"), {"search": "secret"})) == ["secret-faces"]


def test_markdown_is_sanitised_on_render_even_if_stored_unsafe(client, owner):
    dataset = make_dataset(owner, slug="street-signs-eu")
    unsafe = (
        "**Bold** text <script>alert('xss-1')</script>\n\n"
        '<img src="https://img.example/a.png" onerror="alert(\'xss-2\')">\n\n'
        "[click](javascript:xss3()) [also](JaVaScRiPt:xss3())\n\n"
        '<a href="https://ok.example/" onclick="alert(\'xss-4\')">ok</a>'
    )
    # Bypass the services on purpose: data written by an older version or straight into the database.
    Dataset.objects.filter(pk=dataset.pk).update(description=unsafe)
    # Revisions are append-only, so the unsafe text arrives as a row inserted without the service's checks.
    guideline = AnnotationGuideline.objects.create(dataset=dataset)
    GuidelineRevision.objects.create(guideline=guideline, number=1, body=unsafe, label_schema={})
    client.force_login(owner.user)

    content = client.get(reverse("frontend:dataset-detail", args=[dataset.slug])).content.decode()

    assert content.count("<strong>Bold</strong>") == 2  # both fields really were rendered as markdown
    assert content.count('<img src="https://img.example/a.png">') == 2
    for forbidden in ("xss-1", "xss-2", "xss3", "xss-4", "onerror", "onclick", "javascript:", "JaVaScRiPt"):
        assert forbidden not in content, forbidden
    scripts = [chunk.split(">", 1)[0] for chunk in content.split("<script")[1:]]
    assert all("/static/" in attributes for attributes in scripts), scripts  # only our own static scripts


def test_detail_page_shows_deprecation_locations_versions_and_rules(client, owner, colleague):
    successor = make_dataset(owner, slug="signs-v2", name="Signs v2")
    dataset = make_dataset(
        owner,
        slug="signs-v1",
        locations=[LocationSpec("s3://kura-data/signs/v1/"), LocationSpec("file:///mnt/nas/v1", role="backup")],
    )
    make_version(dataset, "v1", files=4, git_commit="a1b2c3d4e5f6")
    dataset_update(
        dataset=dataset,
        actor=owner,
        status="deprecated",
        deprecation_note="Labels predate the 2024 rules.",
        superseded_by=successor,
    )
    guideline_revise(dataset=dataset, body="Box each sign.", label_schema=SCHEMA, actor=owner)
    client.force_login(owner.user)

    response = client.get(reverse("frontend:dataset-detail", args=["signs-v1"]))

    content = response.content.decode()
    assert response.context["warnings"]
    assert 'class="banner banner-deprecated"' in content
    assert "Labels predate the 2024 rules." in content
    assert f'href="{reverse("frontend:dataset-detail", args=["signs-v2"])}"' in content
    locations = [location.uri for location in response.context["locations"]]
    assert locations == ["s3://kura-data/signs/v1/", "file:///mnt/nas/v1"]  # primary first
    assert "s3://kura-data/signs/v1/" in content and "file:///mnt/nas/v1" in content
    assert reverse("frontend:version-detail", args=["signs-v1", "v1"]) in content
    assert "a1b2c3d4e5" in content
    assert "Box each sign." in content
    assert "occluded: boolean</span>" in content
    assert "truncation: enum (none, partial)</span>" in content
    assert "dict_values" not in content and "(occluded, boolean)" not in content
    assert reverse("frontend:dataset-edit", args=["signs-v1"]) in content

    client.force_login(colleague.user)
    other = client.get(reverse("frontend:dataset-detail", args=["signs-v1"])).content.decode()
    assert 'class="banner banner-deprecated"' in other  # everyone using it is warned
    assert reverse("frontend:dataset-edit", args=["signs-v1"]) not in other  # but may not edit


def test_version_page_lists_the_manifest(client, owner):
    dataset = make_dataset(owner, slug="street-signs-eu")
    version = make_version(dataset, "v1", files=3)
    client.force_login(owner.user)

    response = client.get(reverse("frontend:version-detail", args=["street-signs-eu", "v1"]))
    latest = client.get(reverse("frontend:version-detail", args=["street-signs-eu", "latest"]))
    missing = client.get(reverse("frontend:version-detail", args=["street-signs-eu", "v9"]))

    content = response.content.decode()
    assert response.status_code == 200
    assert f"sha256:{version.digest}" in content
    paths = list(version.files.values_list("path", "hash"))
    assert len(paths) == 3
    for path, digest in paths:
        assert path in content and digest in content
    assert latest.status_code == 200 and latest.context["version"] == version
    assert missing.status_code == 404


def test_version_page_of_a_deprecated_dataset_warns_and_shows_the_exact_ci_lookup(client, owner):
    successor = make_dataset(owner, slug="signs-v2", name="Signs v2")
    dataset = make_dataset(owner, slug="signs-v1")
    make_version(dataset, "v1", files=1)
    dataset_update(dataset=dataset, actor=owner, status="deprecated", deprecation_note="Old labels.",
                   superseded_by=successor)
    client.force_login(owner.user)

    content = client.get(reverse("frontend:version-detail", args=["signs-v1", "latest"])).content.decode()

    assert 'class="banner banner-deprecated"' in content and "Old labels." in content
    assert reverse("frontend:dataset-detail", args=["signs-v2"]) in content
    assert "http://testserver/api/v1/datasets/signs-v1/versions/v1/" in content  # the label, not "latest"
    assert "http://testserver/api/v1/datasets/signs-v1/versions/v1/manifest/" in content


def test_manifest_and_locations_need_read_access(client, owner, colleague):
    dataset = make_dataset(owner, slug="street-signs-eu", locations=[LocationSpec("s3://kura-data/hidden-prefix/")])
    version = make_version(dataset, "v1", files=2)
    client.force_login(colleague.user)

    # Metadata of internal datasets is visible to everyone; data (locations, manifests) needs a read grant.
    assert not dataset_can_read_data(user=colleague.user, dataset=dataset)
    detail = client.get(reverse("frontend:dataset-detail", args=["street-signs-eu"])).content.decode()
    page = client.get(reverse("frontend:version-detail", args=["street-signs-eu", "v1"])).content.decode()

    assert "s3://kura-data/hidden-prefix/" not in detail
    assert "storage locations need read access" in detail
    assert f"sha256:{version.digest}" in page  # the version's identity is metadata
    assert "The file list needs read access" in page
    for path in version.files.values_list("path", flat=True):
        assert path not in page


def test_draft_versions_are_shown_to_the_owner_only(client, owner, colleague):
    dataset = make_dataset(owner, slug="street-signs-eu")
    make_version(dataset, "v2-draft", publish=False)
    url = reverse("frontend:version-detail", args=["street-signs-eu", "v2-draft"])

    client.force_login(colleague.user)
    assert client.get(url).status_code == 404
    client.force_login(owner.user)
    assert client.get(url).status_code == 200


# --- list, search and filters ---------------------------------------------------------------------------


@pytest.fixture
def catalog(owner, colleague):
    other_unit = make_unit("Mapping")
    signs = make_dataset(owner, slug="street-signs", name="Street signs", tags=["vision"])
    make_dataset(
        colleague,
        slug="lane-markings",
        name="Lane markings",
        purpose="Segmentation of lane markings for lane keeping.",
        tags=["vision", "segmentation"],
        unit=other_unit,
    )
    old = make_dataset(owner, slug="radar-clutter", name="Radar clutter", purpose="Radar returns with clutter.")
    dataset_update(dataset=old, actor=owner, status="deprecated")
    make_version(signs, "v3")
    return {"other_unit": other_unit}


def test_list_shows_all_visible_datasets_with_latest_version(client, colleague, catalog):
    client.force_login(colleague.user)

    response = client.get(reverse("frontend:dataset-list"))

    assert listed_slugs(response) == ["lane-markings", "radar-clutter", "street-signs"]
    assert "3 datasets" in response.content.decode()
    signs = next(dataset for dataset in response.context["datasets"] if dataset.slug == "street-signs")
    assert response.context["latest_labels"][signs.pk] == "v3"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"search": "street"}, ["street-signs"]),
        ({"search": "stree"}, ["street-signs"]),  # prefix match while typing
        ({"search": "lane keeping"}, ["lane-markings"]),
        ({"search": "nothing-like-this"}, []),
        ({"status": "deprecated"}, ["radar-clutter"]),
        ({"status": "active"}, ["lane-markings", "street-signs"]),
        ({"tag": "segmentation"}, ["lane-markings"]),
        ({"tag": "vision"}, ["lane-markings", "street-signs"]),
        # The filter form always sends every field; empty ones mean "any" and must not break the search.
        ({"search": "street", "status": "", "unit": "", "tag": ""}, ["street-signs"]),
        ({"search": "", "status": "", "unit": "", "tag": ""}, ["lane-markings", "radar-clutter", "street-signs"]),
    ],
)
def test_list_filters(client, colleague, catalog, params, expected):
    client.force_login(colleague.user)

    response = client.get(reverse("frontend:dataset-list"), params)

    assert response.status_code == 200
    assert listed_slugs(response) == expected
    assert not response.context["filterset"].errors


def test_list_filters_by_unit(client, colleague, catalog):
    client.force_login(colleague.user)

    response = client.get(reverse("frontend:dataset-list"), {"unit": str(catalog["other_unit"].pk), "status": ""})

    assert listed_slugs(response) == ["lane-markings"]
    assert f'<option value="{catalog["other_unit"].pk}" selected>' in response.content.decode()


def test_list_with_no_match_offers_to_clear_filters(client, colleague, catalog):
    client.force_login(colleague.user)

    response = client.get(reverse("frontend:dataset-list"), {"search": "nothing-like-this"})

    content = response.content.decode()
    assert "No datasets match these filters." in content
    assert "Clear filters" in content


def test_htmx_request_returns_only_the_results(client, colleague, catalog):
    client.force_login(colleague.user)
    url = reverse("frontend:dataset-list")

    partial = client.get(url, {"search": "lane", "status": ""}, headers={"HX-Request": "true"})
    full = client.get(url, {"search": "lane"})
    restore = client.get(url, {"search": "lane"}, headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})

    partial_content = partial.content.decode()
    assert partial.status_code == 200
    assert partial.templates[0].name == "frontend/_dataset_results.html"
    assert "frontend/dataset_list.html" not in [template.name for template in partial.templates]
    assert "<html" not in partial_content and 'id="search"' not in partial_content
    assert "Lane markings" in partial_content and "Street signs" not in partial_content
    assert "HX-Request" in partial["Vary"]
    for page in (full, restore):
        assert "<html" in page.content.decode() and 'id="search"' in page.content.decode()
        assert "frontend/dataset_list.html" in [template.name for template in page.templates]


def test_list_is_empty_state_without_datasets(client, owner):
    client.force_login(owner.user)

    response = client.get(reverse("frontend:dataset-list"))

    assert "No datasets registered yet." in response.content.decode()


def test_export_follows_the_filters_and_defuses_spreadsheet_formulas(client, owner):
    make_dataset(owner, slug="formula-set", name="=HYPERLINK(\"http://evil\")", purpose="Lane markings, segmented.")
    make_dataset(owner, slug="other-set", name="Other set", purpose="Speech commands for the kiosk.")
    client.force_login(owner.user)

    response = client.get("/datasets.csv?search=lane")

    assert response["Content-Type"].startswith("text/csv") and "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row["slug"] for row in rows] == ["formula-set"]
    assert rows[0]["name"] == "'=HYPERLINK(\"http://evil\")"
    assert rows[0]["owner"] == owner.display_name and rows[0]["storage_locations"].startswith("s3://kura-test/")


def test_the_page_links_a_training_repository_a_browser_can_open(client, owner):
    make_dataset(owner, slug="web-repo", training_repo_url="https://git.example.com/ml/signs.git")
    make_dataset(owner, slug="ssh-repo", training_repo_url="git@git.example.com:ml/signs.git")
    client.force_login(owner.user)

    web = client.get("/datasets/web-repo/").content.decode()
    ssh = client.get("/datasets/ssh-repo/").content.decode()

    assert '<a href="https://git.example.com/ml/signs.git" rel="noopener noreferrer">' in web
    assert "git@git.example.com:ml/signs.git" in ssh and 'href="git@' not in ssh


def test_export_under_a_filter_it_cannot_apply_exports_nothing(client, owner):
    make_dataset(owner, slug="some-set", name="Some set", purpose="Lane markings, segmented.")
    client.force_login(owner.user)

    response = client.get("/datasets.csv?status=bogus")

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert "status" in response.content.decode() and "some-set" not in response.content.decode()


def test_a_checkpoint_after_a_directory_counted_whole_reads_as_that_directory():
    from django.template import Context, Template

    from storage.listers.local import PAST_EVERY_NAME

    rendered = Template("{% load kura %}{{ key|checkpoint }}|{{ plain|checkpoint }}").render(
        Context({"key": "files/md5/ab/" + PAST_EVERY_NAME, "plain": "files/md5/ab/cdef"})
    )
    assert rendered == "files/md5/ab/|files/md5/ab/cdef"
