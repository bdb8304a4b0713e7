import random
import time

import pytest
from django.urls import reverse

from access.models import Level
from annotations.diff import DiffLine, body_diff, schema_diff
from annotations.services import guideline_revise
from tests.factories import bearer, grant, make_dataset

pytestmark = pytest.mark.django_db

OLD_SCHEMA = {
    "classes": [
        {"name": "car", "definition": "A passenger vehicle.",
         "attributes": [{"name": "occluded", "type": "boolean"},
                        {"name": "truncation", "type": "enum", "values": ["none", "partial"]}]},
        {"name": "bus", "definition": "A bus."},
        {"name": "sign", "definition": "A traffic sign.", "attributes": [{"name": "readable", "type": "boolean"}]},
    ]
}
NEW_SCHEMA = {
    "classes": [
        {"name": "car", "definition": "A passenger vehicle, including vans.",
         "attributes": [{"name": "truncation", "type": "enum", "values": ["none", "partial", "full"]},
                        {"name": "parked", "type": "boolean"}]},
        {"name": "sign", "definition": "A traffic sign.", "attributes": [{"name": "readable", "type": "boolean"}]},
        {"name": "cyclist", "definition": "A person riding a bicycle."},
    ]
}


def test_body_diff_marks_added_and_removed_lines_with_their_numbers():
    old = "# Boxes\nBox each car.\nIgnore reflections.\nDone."
    new = "# Boxes\nBox each car tightly.\nIgnore reflections.\nMark parked cars.\nDone."

    assert body_diff(old, new) == [
        DiffLine("same", 1, 1, "# Boxes"),
        DiffLine("removed", 2, None, "Box each car."),
        DiffLine("added", None, 2, "Box each car tightly."),
        DiffLine("same", 3, 3, "Ignore reflections."),
        DiffLine("added", None, 4, "Mark parked cars."),
        DiffLine("same", 4, 5, "Done."),
    ]


def test_schema_diff_lists_classes_and_attributes_added_removed_and_changed():
    diff = schema_diff(OLD_SCHEMA, NEW_SCHEMA)

    assert [c["name"] for c in diff.classes_added] == ["cyclist"]
    assert [c["name"] for c in diff.classes_removed] == ["bus"]
    assert [c.name for c in diff.classes_changed] == ["car"]  # sign is unchanged
    car = diff.classes_changed[0]
    assert car.definition_before == "A passenger vehicle."
    assert car.definition_after == "A passenger vehicle, including vans."
    assert [a["name"] for a in car.attributes_added] == ["parked"]
    assert [a["name"] for a in car.attributes_removed] == ["occluded"]
    assert [(a.name, a.before["values"], a.after["values"]) for a in car.attributes_changed] == [
        ("truncation", ["none", "partial"], ["none", "partial", "full"])
    ]
    assert schema_diff(OLD_SCHEMA, OLD_SCHEMA).unchanged
    assert [c["name"] for c in schema_diff({}, OLD_SCHEMA).classes_added] == ["car", "bus", "sign"]


@pytest.fixture
def dataset(owner):
    dataset = make_dataset(owner, slug="street-cars")
    guideline_revise(dataset=dataset, body="# Cars\nBox each car.", label_schema=OLD_SCHEMA, actor=owner)
    guideline_revise(
        dataset=dataset, body="# Cars\nBox each car <b>tightly</b>.", label_schema=NEW_SCHEMA, actor=owner
    )
    return dataset


def test_compare_page_renders_the_diff_escaped_and_marked(client, dataset, colleague):
    client.force_login(colleague.user)
    url = reverse("frontend:guideline-compare", args=[dataset.slug]) + "?from=1&to=2"

    full = client.get(url)
    partial = client.get(url, HTTP_HX_REQUEST="true")

    content = partial.content.decode()
    assert "<html" in full.content.decode() and "<html" not in content
    assert '<tr class="diff-removed">' in content and "<del>Box each car.</del>" in content
    assert "<ins>Box each car &lt;b&gt;tightly&lt;/b&gt;.</ins>" in content  # shown as text, never as markup
    assert "<b>tightly</b>" not in content
    assert "cyclist" in content and "bus" in content
    assert "attribute added: <ins>parked: boolean</ins>" in content
    assert "attribute removed: <del>occluded: boolean</del>" in content
    changed = "<del>truncation: enum (none, partial)</del> → <ins>truncation: enum (none, partial, full)</ins>"
    assert f"attribute changed: {changed}" in content
    assert client.get(reverse("frontend:guideline-compare", args=[dataset.slug]) + "?from=1&to=9").status_code == 404


def test_guideline_page_shows_history_and_the_latest_changes(client, dataset, colleague):
    client.force_login(colleague.user)

    response = client.get(reverse("frontend:guideline", args=[dataset.slug]))

    assert [r.number for r in response.context["revisions"]] == [2, 1]
    assert (response.context["diff"].from_number, response.context["diff"].to_number) == (1, 2)
    old = client.get(reverse("frontend:guideline", args=[dataset.slug]) + "?revision=1")
    assert "You are reading revision 1" in old.content.decode()
    assert "Box each car." in old.content.decode()
    assert client.get(reverse("frontend:guideline", args=[dataset.slug]) + "?revision=3").status_code == 404


def test_api_returns_current_revision_history_and_diff(api, dataset, colleague):
    api.credentials(HTTP_AUTHORIZATION=bearer(colleague))

    guideline = api.get(f"/api/v1/datasets/{dataset.slug}/guideline/").json()
    revision = api.get(f"/api/v1/datasets/{dataset.slug}/guideline/revisions/1/").json()
    diff = api.get(f"/api/v1/datasets/{dataset.slug}/guideline/diff?from=1&to=2")

    assert guideline["current"]["number"] == 2
    assert guideline["current"]["label_schema"] == NEW_SCHEMA
    assert [r["number"] for r in guideline["revisions"]] == [2, 1]
    assert guideline["revisions"][1]["url"] == f"/api/v1/datasets/{dataset.slug}/guideline/revisions/1/"
    assert revision["body"] == "# Cars\nBox each car."
    assert revision["headings"] == [{"level": 1, "title": "Cars", "anchor": "rule-cars"}]
    assert diff.status_code == 200
    body = diff.json()
    assert [(line["kind"], line["text"]) for line in body["body"] if line["kind"] != "same"] == [
        ("removed", "Box each car."), ("added", "Box each car <b>tightly</b>.")
    ]
    assert [c["name"] for c in body["schema"]["classes_added"]] == ["cyclist"]
    assert body["schema"]["classes_changed"][0]["attributes_removed"][0]["name"] == "occluded"
    assert api.get(f"/api/v1/datasets/{dataset.slug}/guideline/diff/?from=2&to=1").status_code == 200


def test_api_errors(api, dataset, owner, colleague):
    secret = make_dataset(owner, slug="secret-cars", visibility="restricted")
    guideline_revise(dataset=secret, body="# Cars", label_schema={}, actor=owner)
    api.credentials(HTTP_AUTHORIZATION=bearer(colleague))

    missing_param = api.get(f"/api/v1/datasets/{dataset.slug}/guideline/diff?from=1")
    missing_revision = api.get(f"/api/v1/datasets/{dataset.slug}/guideline/revisions/5/")
    hidden = [
        api.get("/api/v1/datasets/secret-cars/guideline/"),
        api.get("/api/v1/datasets/secret-cars/guideline/revisions/1/"),
        api.get("/api/v1/datasets/secret-cars/guideline/diff?from=1&to=1"),
    ]

    assert missing_param.status_code == 400
    assert missing_param.json()["error"]["details"] == {"to": ["Give a revision number (1, 2, ...)."]}
    assert missing_revision.status_code == 404
    assert [r.status_code for r in hidden] == [404, 404, 404]
    assert all(r.json() == {"error": {"code": "not_found", "message": "Not found."}} for r in hidden)
    grant(secret, colleague, Level.VIEW)
    assert api.get("/api/v1/datasets/secret-cars/guideline/").status_code == 200


def test_api_for_a_dataset_without_rules(api, owner):
    make_dataset(owner, slug="no-rules")
    api.credentials(HTTP_AUTHORIZATION=bearer(owner))

    assert api.get("/api/v1/datasets/no-rules/guideline/").json() == {
        "dataset": "no-rules", "current": None, "revisions": []
    }


@pytest.mark.parametrize("number", ["²", "\u0661", "1.0", "-1"])
def test_a_revision_number_that_is_not_plain_digits_is_not_found(client, dataset, colleague, number):
    client.force_login(colleague.user)
    guideline = reverse("frontend:guideline", args=[dataset.slug])
    export = reverse("frontend:guideline-export", args=[dataset.slug, "md"])
    compare = reverse("frontend:guideline-compare", args=[dataset.slug])

    pages = [
        client.get(guideline, {"revision": number}),
        client.get(export, {"revision": number}),
        client.get(compare, {"from": "1", "to": number}),
        client.get(compare, {"from": number, "to": "2"}),
    ]

    assert [page.status_code for page in pages] == [404, 404, 404, 404]


@pytest.mark.parametrize("number", ["²", "\u0661", "1.0", "0"])
def test_api_diff_refuses_a_revision_number_that_is_not_plain_digits(api, dataset, colleague, number):
    api.credentials(HTTP_AUTHORIZATION=bearer(colleague))

    response = api.get(f"/api/v1/datasets/{dataset.slug}/guideline/diff", {"from": "1", "to": number})

    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"to": ["Give a revision number (1, 2, ...)."]}


def test_long_rules_with_many_blank_lines_are_compared_quickly_and_completely():
    generator = random.Random(7)
    old, new = (
        "\n".join("" if index % 2 else f"Rule {generator.randint(0, 12000)}." for index in range(12000))
        for _ in range(2)
    )

    started = time.monotonic()
    lines = body_diff(old, new)
    elapsed = time.monotonic() - started

    assert elapsed < 3  # 15 s when repeated blank lines were matched one by one against each other
    assert [line.text for line in lines if line.kind != "added"] == old.splitlines()
    assert [line.text for line in lines if line.kind != "removed"] == new.splitlines()
