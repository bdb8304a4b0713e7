import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from access.models import Level
from annotations.models import CorrectionExample
from annotations.services import ExampleSide, correction_example_add, guideline_revise
from tests.factories import grant, make_dataset, make_person
from tests.image_bytes import GIF, HTML, SVG, WEBP, jpeg, png

pytestmark = pytest.mark.django_db

RULES = "# Signs\n\nBox every sign.\n\n## Occlusion\n\nBox the visible part only.\n\n## Truncation\n\nMark cut signs."


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def dataset(owner):
    dataset = make_dataset(owner, slug="street-signs")
    guideline_revise(dataset=dataset, body=RULES, label_schema={}, actor=owner)
    return dataset


def upload(data: bytes, name: str = "example.png", content_type: str = "image/png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def add(dataset, owner, *, before=None, after=None, rule="rule-occlusion", explanation="Only the visible part."):
    return correction_example_add(
        dataset=dataset,
        rule_anchor=rule,
        before=before or ExampleSide(image=upload(png(), "../../etc/passwd.png")),
        after=after or ExampleSide(snippet='{"label": "sign", "box": [10, 10, 40, 30]}'),
        explanation=explanation,
        actor=owner,
    )


@pytest.mark.parametrize(
    ("data", "content_type", "extension"),
    [(png(), "image/png", ".png"), (jpeg(), "image/jpeg", ".jpg"), (GIF, "image/gif", ".gif"),
     (WEBP, "image/webp", ".webp")],
)
def test_images_are_recognised_by_content_and_stored_under_generated_names(
    dataset, owner, media_root, data, content_type, extension
):
    example = add(dataset, owner, before=ExampleSide(image=upload(data, "../../evil name.svg", "text/html")))

    assert example.before_image_type == content_type
    name = example.before_image.name
    assert name.startswith("correction-examples/") and name.endswith(extension)
    assert "evil" not in name and ".." not in name and "passwd" not in name
    assert (media_root / name).read_bytes() == data
    assert example.rule_title == "Occlusion"
    assert example.revision.number == 1


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (SVG, "boxes.svg", "The before image was refused: SVG images are not accepted"),
        (HTML, "boxes.png", "The before image was refused: This file is HTML or XML, not an image"),
        (png()[:60], "boxes.png", "The before image was refused: This PNG file is truncated or damaged"),
        (png()[:-4], "boxes.png", "The before image was refused: This PNG file is truncated or damaged"),
        (b"%PDF-1.7\n", "boxes.png", "The before image was refused: This file is not a PNG, JPEG, WebP or GIF"),
        (b"", "boxes.png", "The before image was refused: The file is empty."),
    ],
)
def test_non_images_are_refused_with_a_clear_reason(dataset, owner, media_root, data, name, message):
    with pytest.raises(ValidationError) as raised:
        add(dataset, owner, before=ExampleSide(image=upload(data, name)))

    assert raised.value.message_dict["before"][0].startswith(message)
    assert not CorrectionExample.objects.exists()
    assert not media_root.exists() or not any(path.is_file() for path in media_root.rglob("*"))


def test_the_default_size_limit_is_five_megabytes(dataset, owner):
    from django.conf import settings

    assert settings.KURA_UPLOAD_MAX_BYTES == 5 * 1024 * 1024
    too_big = upload(png() + b"\x00" * (6 * 1024 * 1024))
    with pytest.raises(ValidationError) as raised:
        add(dataset, owner, before=ExampleSide(image=too_big))
    assert raised.value.message_dict["before"] == ["The before image is 6.0 MB; images may be at most 5.0 MB."]


def test_images_over_the_size_limit_are_refused(dataset, owner, settings):
    settings.KURA_UPLOAD_MAX_BYTES = 100
    big = png(width=200, height=100, colour=(1, 2, 3)) + b"\x00" * 200

    with pytest.raises(ValidationError) as raised:
        add(dataset, owner, after=ExampleSide(image=upload(big)))

    message = f"The after image is {len(big)} bytes; images may be at most 100 bytes."
    assert raised.value.message_dict["after"] == [message]
    settings.KURA_UPLOAD_MAX_BYTES = len(png())
    assert add(dataset, owner, after=ExampleSide(image=upload(png()))).after_image_type == "image/png"


def test_each_side_needs_exactly_one_of_image_or_snippet_and_the_rule_must_be_a_heading(dataset, owner):
    with pytest.raises(ValidationError) as raised:
        correction_example_add(
            dataset=dataset,
            rule_anchor="rule-no-such-rule",
            before=ExampleSide(),
            after=ExampleSide(image=upload(png()), snippet="box"),
            explanation="  ",
            actor=owner,
        )

    errors = raised.value.message_dict
    assert errors["rule"] == ["Choose one of the headings of rules revision 1."]
    assert errors["before"] == ["Give the before: an image, or an annotation snippet (text or JSON)."]
    assert errors["after"] == ["Give the after as an image or as a snippet, not both."]
    assert errors["explanation"] == ["Explain why the correction is right; that is what annotators learn from."]


def test_malicious_explanation_is_refused(dataset, owner):
    with pytest.raises(ValidationError) as raised:
        add(dataset, owner, explanation='Look <img src=x onerror="alert(1)">')

    assert "event handlers" in raised.value.message_dict["explanation"][0]


def test_examples_need_rules_with_headings(owner):
    no_rules = make_dataset(owner)
    flat = make_dataset(owner)
    guideline_revise(dataset=flat, body="Box every sign.", label_schema={}, actor=owner)

    with pytest.raises(ValidationError, match="Write the annotation rules first"):
        add(no_rules, owner)
    with pytest.raises(ValidationError, match="The rules have no headings"):
        add(flat, owner)


def form_data(**overrides):
    data = {
        "rule": "rule-truncation",
        "before_image": upload(png(), "cut.png"),
        "before_snippet": "",
        "after_image": upload(GIF, "fixed.gif", "image/gif"),
        "after_snippet": "",
        "explanation": "A sign cut by the frame edge gets **truncated=true**.",
    }
    data.update(overrides)
    return data


def test_owner_uploads_an_example_and_viewers_see_it_beside_its_rule(client, dataset, owner, colleague):
    client.force_login(owner.user)
    response = client.post(reverse("frontend:guideline-example-create", args=[dataset.slug]), form_data())
    assert response.status_code == 302
    example = CorrectionExample.objects.get()

    client.force_login(colleague.user)
    page = client.get(reverse("frontend:guideline", args=[dataset.slug]))
    content = page.content.decode()
    before_url = reverse("frontend:guideline-example-file", args=[dataset.slug, example.pk, "before"])
    after_url = reverse("frontend:guideline-example-file", args=[dataset.slug, example.pk, "after"])
    assert '<a href="#rule-truncation">Truncation</a>' in content
    assert '<h2 id="rule-truncation">Truncation</h2>' in content
    assert f'src="{before_url}"' in content and f'src="{after_url}"' in content
    assert "<strong>truncated=true</strong>" in content
    assert "Add a correction example" not in content  # the colleague may not change the dataset

    served = client.get(after_url)
    assert served.status_code == 200
    assert served["Content-Type"] == "image/gif"
    assert b"".join(served.streaming_content) == GIF
    assert "sandbox" in served["Content-Security-Policy"]
    assert served["X-Content-Type-Options"] == "nosniff"


def test_the_upload_form_shows_the_services_reasons(client, dataset, owner):
    client.force_login(owner.user)

    response = client.post(
        reverse("frontend:guideline-example-create", args=[dataset.slug]),
        form_data(before_image=upload(HTML, "innocent.png"), after_image=upload(png()[:50], "cut.png")),
    )

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert errors["before_image"][0].startswith("The before image was refused: This file is HTML or XML")
    assert errors["after_image"][0].startswith("The after image was refused: This PNG file is truncated")
    assert "This file is HTML or XML, not an image" in response.content.decode()
    assert not CorrectionExample.objects.exists()


def test_people_who_cannot_change_the_dataset_cannot_upload(client, dataset, colleague):
    client.force_login(colleague.user)

    response = client.post(reverse("frontend:guideline-example-create", args=[dataset.slug]), form_data())

    assert response.status_code == 403
    assert not CorrectionExample.objects.exists()


def test_a_restricted_datasets_rules_and_images_are_hidden_from_outsiders(client, owner, colleague):
    secret = make_dataset(owner, slug="secret-faces", visibility="restricted")
    guideline_revise(dataset=secret, body=RULES, label_schema={}, actor=owner)
    example = add(secret, owner)
    image_url = reverse("frontend:guideline-example-file", args=[secret.slug, example.pk, "before"])
    outsider_urls = [
        reverse("frontend:guideline", args=[secret.slug]),
        image_url,
        reverse("frontend:guideline-export", args=[secret.slug, "html"]),
        reverse("frontend:guideline-export", args=[secret.slug, "md"]),
        reverse("frontend:guideline-compare", args=[secret.slug]) + "?from=1&to=1",
    ]
    client.force_login(colleague.user)

    assert [client.get(url).status_code for url in outsider_urls] == [404] * len(outsider_urls)
    assert client.post(reverse("frontend:guideline-example-create", args=[secret.slug]), form_data()).status_code == 404

    grant(secret, colleague, Level.VIEW)
    assert client.get(reverse("frontend:guideline", args=[secret.slug])).status_code == 200
    assert client.get(image_url).status_code == 200


def test_an_image_is_served_only_under_its_own_dataset(client, dataset, owner):
    other = make_dataset(owner, slug="other-signs")
    example = add(dataset, owner)
    client.force_login(owner.user)

    def status(slug, side):
        return client.get(reverse("frontend:guideline-example-file", args=[slug, example.pk, side])).status_code

    assert status(other.slug, "before") == 404
    assert status(dataset.slug, "after") == 404  # that side is a snippet
    assert status(dataset.slug, "before") == 200


def test_anonymous_people_get_no_files(client, dataset, owner):
    example = add(dataset, owner)

    response = client.get(reverse("frontend:guideline-example-file", args=[dataset.slug, example.pk, "before"]))

    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_media_are_not_served_under_a_public_url(client, dataset, owner):
    example = add(dataset, owner)
    client.force_login(make_person("visitor").user)

    assert client.get(f"/media/{example.before_image.name}").status_code == 404


def test_admin_shows_examples_and_revisions_read_only(client, dataset, owner):
    example = add(dataset, owner)
    client.force_login(_superuser().user)

    listing = client.get("/admin/annotations/correctionexample/")
    detail = client.get(f"/admin/annotations/correctionexample/{example.pk}/change/")
    revision = example.revision

    assert listing.status_code == 200 and "Occlusion" in listing.content.decode()
    assert detail.status_code == 200 and example.before_image.name not in detail.content.decode()
    assert client.post(f"/admin/annotations/correctionexample/{example.pk}/change/", {}).status_code == 403
    assert client.get(f"/admin/annotations/guidelinerevision/{revision.pk}/delete/").status_code == 403
    assert client.get(f"/admin/catalog/dataset/{dataset.pk}/delete/").status_code == 403


def _superuser():
    person = make_person("root", staff=True)
    person.user.is_superuser = True
    person.user.save(update_fields=["is_superuser"])
    return person


def test_images_with_absurd_dimensions_are_refused():
    import struct

    from annotations.images import inspect_image
    from tests.image_bytes import _chunk

    header = struct.pack(">IIBBBBB", 20000, 20000, 8, 2, 0, 0, 0)
    bomb = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", b"\x78\x9c") + _chunk(b"IEND", b"")

    with pytest.raises(ValidationError) as raised:
        inspect_image(bomb)
    assert raised.value.messages == [
        "The image is 20000 by 20000 pixels; at most 16384 pixels a side and 64 megapixels are accepted."
    ]
