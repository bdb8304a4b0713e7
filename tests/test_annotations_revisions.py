import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from annotations.models import GuidelineRevision, RevisionImmutable
from annotations.services import guideline_revise
from catalog.services import dataset_version_create, dataset_version_publish
from tests.factories import make_dataset, make_version, manifest
from tests.test_frontend import edit_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def revision(owner):
    dataset = make_dataset(owner, slug="street-signs")
    return guideline_revise(dataset=dataset, body="## Boxes\n\nBox each sign.", label_schema={}, actor=owner)


def test_a_revision_cannot_be_changed_or_deleted_through_the_orm(revision):
    revision.body = "Rewritten history."
    with pytest.raises(RevisionImmutable):
        revision.save()
    with pytest.raises(RevisionImmutable):
        revision.delete()
    with pytest.raises(RevisionImmutable):
        GuidelineRevision.objects.filter(pk=revision.pk).update(body="Rewritten history.")
    with pytest.raises(RevisionImmutable):
        GuidelineRevision.objects.filter(pk=revision.pk).delete()
    with pytest.raises(RevisionImmutable), transaction.atomic():
        GuidelineRevision.objects.bulk_update([revision], ["body"])

    assert GuidelineRevision.objects.get(pk=revision.pk).body == "## Boxes\n\nBox each sign."


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE annotations_guidelinerevision SET body = 'Rewritten history.' WHERE id = %s",
        "DELETE FROM annotations_guidelinerevision WHERE id = %s",
    ],
)
def test_the_database_refuses_to_change_or_delete_a_revision(revision, statement):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement, [revision.pk])

    assert GuidelineRevision.objects.get(pk=revision.pk).body == "## Boxes\n\nBox each sign."


def test_deleting_the_dataset_does_not_take_its_rules_with_it(revision):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        revision.guideline.dataset.delete()


def test_a_new_revision_is_appended_and_the_old_one_kept(revision, owner):
    dataset = revision.guideline.dataset
    second = guideline_revise(dataset=dataset, body="## Boxes\n\nBox each sign tightly.", label_schema={}, actor=owner)

    assert [r.number for r in GuidelineRevision.objects.filter(guideline__dataset=dataset)] == [2, 1]
    assert second.number == 2
    assert GuidelineRevision.objects.get(pk=revision.pk).body == "## Boxes\n\nBox each sign."


def test_a_version_published_without_a_revision_records_the_current_one(revision, owner):
    dataset = revision.guideline.dataset
    guideline_revise(dataset=dataset, body="## Boxes\n\nBox tightly.", label_schema={}, actor=owner)

    published = make_version(dataset, "v1")
    explicit = make_version(dataset, "v2", guideline_revision=1)
    draft = make_version(dataset, "v3", publish=False)

    assert published.guideline_revision == 2
    assert explicit.guideline_revision == 1
    assert draft.guideline_revision is None  # rules may still change before it is published
    guideline_revise(dataset=dataset, body="## Boxes\n\nBox very tightly.", label_schema={}, actor=owner)
    assert dataset_version_publish(version=draft).guideline_revision == 3


def test_a_version_of_a_dataset_without_rules_records_none(owner):
    assert make_version(make_dataset(owner), "v1").guideline_revision is None


def test_a_version_cannot_claim_a_revision_that_does_not_exist(revision):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as raised:
        dataset_version_create(
            dataset=revision.guideline.dataset, actor=None, label="v1", files=manifest(1), guideline_revision=7
        )
    assert raised.value.message_dict["guideline_revision"] == ["street-signs has no annotation rules revision 7."]


def test_the_version_page_links_the_revision_it_was_labelled_under(client, revision, owner):
    dataset = revision.guideline.dataset
    make_version(dataset, "v1")
    client.force_login(owner.user)

    content = client.get(reverse("frontend:version-detail", args=[dataset.slug, "v1"])).content.decode()

    assert f'href="{reverse("frontend:guideline", args=[dataset.slug])}?revision=1">revision 1</a>' in content


def test_the_same_rules_with_other_line_endings_or_surrounding_blank_lines_are_no_new_revision(revision, owner):
    dataset = revision.guideline.dataset

    same = [
        guideline_revise(dataset=dataset, body=body, label_schema={}, actor=owner)
        for body in ("## Boxes\r\n\r\nBox each sign.", "\n## Boxes\n\nBox each sign.\n\n", "## Boxes\r\rBox each sign.")
    ]
    changed = guideline_revise(dataset=dataset, body="## Boxes\r\n\r\nBox each sign tightly.", label_schema={},
                               actor=owner)

    assert same == [None, None, None]
    assert changed is not None and changed.number == 2
    assert changed.body == "## Boxes\n\nBox each sign tightly."  # stored with LF, as the API returns it


def test_saving_the_dataset_form_with_the_rules_untouched_adds_no_revision(client, revision, owner):
    dataset = revision.guideline.dataset
    client.force_login(owner.user)
    edit = reverse("frontend:dataset-edit", args=[dataset.slug])
    shown = client.get(edit).context["form"].initial["guideline_body"]

    # What a browser submits for that textarea: every line ending as CRLF.
    response = client.post(edit, edit_data(dataset, name="Street signs, renamed",
                                           guideline_body=shown.replace("\n", "\r\n")))

    assert response.status_code == 302
    assert [r.number for r in GuidelineRevision.objects.filter(guideline__dataset=dataset)] == [1]


def test_rules_may_say_on_something_equals_in_prose(owner):
    dataset = make_dataset(owner, slug="wake-word")
    body = "## Clips\n\nMark the onset = first audible sample; set `ongoing=true` while the word continues."

    revision = guideline_revise(dataset=dataset, body=body, label_schema={}, actor=owner)

    assert revision is not None and revision.body == body


@pytest.mark.parametrize("html", ['<img src=x onerror="alert(1)">', '<a/onclick="alert(1)">here</a>',
                                  "<b\nonmouseover=alert(1)>bold</b>"])
def test_rules_with_an_event_handler_in_a_tag_are_refused(owner, html):
    dataset = make_dataset(owner, slug="wake-word")

    with pytest.raises(ValidationError, match="active HTML"):
        guideline_revise(dataset=dataset, body=f"## Clips\n\n{html}", label_schema={}, actor=owner)
