import base64
import re

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from annotations.models import AnnotationGuideline, GuidelineRevision
from annotations.services import ExampleSide, correction_example_add, guideline_revise
from tests.factories import make_dataset
from tests.image_bytes import GIF, png

pytestmark = pytest.mark.django_db

RULES = (
    "# Signs\n\nBox every sign. See [the handbook](https://wiki.example/signs).\n\n"
    "![reference](https://img.example/reference.png)\n\n## Occlusion\n\nBox the visible part only.\n"
)
SCHEMA = {"classes": [{"name": "sign", "definition": "A traffic sign.",
                       "attributes": [{"name": "truncation", "type": "enum", "values": ["none", "partial"]}]}]}
UNSAFE = (
    "# Signs\n\n**Bold** <script>alert('xss-1')</script>\n\n"
    '<img src="https://img.example/a.png" onerror="alert(\'xss-2\')">\n\n'
    "[click](javascript:xss3())\n\n<h2 id=\"content\">Clobber</h2>\n\n"
    '<a href="https://ok.example/" onclick="alert(\'xss-4\')">ok</a>'
)


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def dataset(owner):
    dataset = make_dataset(owner, slug="street-signs", name="Street signs")
    guideline_revise(dataset=dataset, body=RULES, label_schema=SCHEMA, actor=owner)
    correction_example_add(
        dataset=dataset,
        rule_anchor="rule-occlusion",
        before=ExampleSide(image=SimpleUploadedFile("a.png", png(), content_type="image/png")),
        after=ExampleSide(image=SimpleUploadedFile("b.gif", GIF, content_type="image/gif")),
        explanation="Only the **visible** part.",
        actor=owner,
    )
    correction_example_add(
        dataset=dataset,
        rule_anchor="rule-signs",
        before=ExampleSide(snippet='{"label":"sign","box":[1,2,3,4]}'),
        after=ExampleSide(snippet='{"label":"sign","box":[1,2,30,40]}'),
        explanation="Include the pole mount.",
        actor=owner,
    )
    return dataset


def test_html_export_is_one_self_contained_file(client, dataset, owner):
    client.force_login(owner.user)

    response = client.get(reverse("frontend:guideline-export", args=[dataset.slug, "html"]))

    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="street-signs-rules-r1.html"'
    html = response.content.decode()
    assert f'src="data:image/png;base64,{base64.b64encode(png()).decode()}"' in html
    assert f'src="data:image/gif;base64,{base64.b64encode(GIF).decode()}"' in html
    sources = re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', html)
    assert all(source.startswith(("data:", "#", "https://wiki.example/")) for source in sources), sources
    assert "img.example" not in html  # images the rules link from elsewhere are not fetched
    assert "<link" not in html and "<script" not in html and "url(" not in html and "@import" not in html
    assert "<style>" in html  # the CSS travels inside the file
    assert "<strong>visible</strong>" in html
    assert "{\n  &quot;label&quot;: &quot;sign&quot;,\n  &quot;box&quot;: [1, 2, 3, 4]\n}" in html  # indented JSON
    assert "truncation: enum (none, partial)" in html
    assert '<h2 id="rule-occlusion">Occlusion</h2>' in html


def test_markdown_export_embeds_images_as_data_uris(client, dataset, owner):
    client.force_login(owner.user)

    response = client.get(reverse("frontend:guideline-export", args=[dataset.slug, "md"]) + "?revision=1")

    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    text = response.content.decode()
    assert text.startswith("<!-- Annotation rules of street-signs, revision 1")
    assert "# Annotation rules: Street signs (revision 1)" in text
    assert RULES.strip() in text
    assert "| sign | A traffic sign. | truncation: enum (none, partial) |" in text
    assert f"![Before](data:image/png;base64,{base64.b64encode(png()).decode()})" in text
    assert f"![After](data:image/gif;base64,{base64.b64encode(GIF).decode()})" in text
    assert "### Occlusion" in text and "### Signs" in text
    assert '```\n{\n  "label": "sign",' in text


def test_export_of_an_older_revision_leaves_out_later_examples(client, dataset, owner):
    guideline_revise(dataset=dataset, body=RULES + "\n## Truncation\n\nMark cut signs.\n", label_schema=SCHEMA,
                     actor=owner)
    correction_example_add(
        dataset=dataset, rule_anchor="rule-truncation", before=ExampleSide(snippet="cut"),
        after=ExampleSide(snippet="cut, truncation=partial"), explanation="Cut by the frame.", actor=owner,
    )
    client.force_login(owner.user)

    old = client.get(reverse("frontend:guideline-export", args=[dataset.slug, "md"]) + "?revision=1").content
    new = client.get(reverse("frontend:guideline-export", args=[dataset.slug, "md"])).content

    assert b"Cut by the frame." not in old and b"Cut by the frame." in new
    assert client.get(reverse("frontend:guideline-export", args=[dataset.slug, "pdf"])).status_code == 404


def test_malicious_rules_are_refused_by_the_service(owner):
    dataset = make_dataset(owner)
    with pytest.raises(ValidationError, match="active HTML"):
        guideline_revise(dataset=dataset, body=UNSAFE, label_schema={}, actor=owner)


def test_malicious_rules_stored_anyway_are_sanitised_on_the_page_and_in_exports(client, owner):
    dataset = make_dataset(owner, slug="legacy-signs")
    guideline = AnnotationGuideline.objects.create(dataset=dataset)
    GuidelineRevision.objects.create(guideline=guideline, number=1, body=UNSAFE, label_schema={})
    client.force_login(owner.user)

    page = client.get(reverse("frontend:guideline", args=[dataset.slug])).content.decode()
    export = client.get(reverse("frontend:guideline-export", args=[dataset.slug, "html"])).content.decode()

    for content in (page, export):
        assert "<strong>Bold</strong>" in content
        for forbidden in ("xss-1", "xss-2", "xss3", "xss-4", "onerror", "onclick", "javascript:", 'id="content"'):
            assert forbidden not in content, forbidden
    assert '<img src="https://img.example/a.png">' in page  # the page may show linked images; exports may not
    assert "img.example" not in export
    assert [chunk.split(">", 1)[0] for chunk in page.split("<script")[1:]] == [
        ' src="/static/frontend/vendor/htmx.min.js" defer', ' src="/static/frontend/kura.js" defer'
    ]


def test_snippets_are_shown_readably():
    from annotations.exports import pretty_snippet

    assert pretty_snippet('{"a":[1,2],"b":{"c":[{"d":1}],"e":{}},"f":[]}') == (
        '{\n  "a": [1, 2],\n  "b": {\n    "c": [\n      {\n        "d": 1\n      }\n    ],\n    "e": {}\n  },\n'
        '  "f": []\n}'
    )
    assert pretty_snippet("car 0.1 0.2 0.3 0.4 {") == "car 0.1 0.2 0.3 0.4 {"


def test_rules_still_export_and_images_answer_404_when_an_image_file_is_gone(client, dataset, owner):
    """A data directory restored without its media: the page, both exports and the image URL keep working."""
    from annotations.exports import MISSING_IMAGE
    from annotations.models import CorrectionExample

    example = CorrectionExample.objects.filter(guideline__dataset=dataset).exclude(before_image="").get()
    example.before_image.storage.delete(example.before_image.name)
    client.force_login(owner.user)

    image = client.get(reverse("frontend:guideline-example-file", args=[dataset.slug, example.pk, "before"]))
    html = client.get(reverse("frontend:guideline-export", args=[dataset.slug, "html"]))
    markdown = client.get(reverse("frontend:guideline-export", args=[dataset.slug, "md"]))
    page = client.get(reverse("frontend:guideline", args=[dataset.slug]))

    assert image.status_code == 404
    assert html.status_code == 200 and MISSING_IMAGE in html.content.decode().replace("&#x27;", "'")
    assert markdown.status_code == 200 and MISSING_IMAGE in markdown.content.decode()
    assert "data:image/gif;base64," in markdown.content.decode()  # the other side is still embedded
    assert page.status_code == 200
