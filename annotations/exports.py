"""A guideline revision as one self-contained file, to hand to an annotation vendor or archive with a release.

HTML: inline CSS, sanitised markdown, correction images embedded as ``data:`` URIs; images the rules text
links from elsewhere are dropped (an export must not fetch anything). Markdown: the rules text as written,
then the label schema and the correction examples, with their images embedded as ``data:`` URIs too.
"""

import base64
import json
import logging
from dataclasses import dataclass
from typing import IO

from django.template.loader import render_to_string
from django.utils import timezone

from annotations.label_schema import attribute_text
from annotations.models import CorrectionExample, GuidelineRevision
from annotations.selectors import RuleExamples, correction_examples_by_rule
from catalog.markdown import render_markdown

logger = logging.getLogger(__name__)
MISSING_IMAGE = "(This image is missing from Kura's file storage.)"


@dataclass(frozen=True)
class ExportSide:
    image_uri: str  # data: URI, or "" for a snippet
    snippet: str


@dataclass(frozen=True)
class ExportExample:
    example: CorrectionExample
    before: ExportSide
    after: ExportSide
    explanation_html: str


def open_example_image(example: CorrectionExample, side: str) -> IO[bytes] | None:
    """The image of ``side`` ('before'/'after') opened for reading; None when its file is gone (a data directory
    restored without its media), logged, so that pages and exports carry on without it."""
    image = getattr(example, f"{side}_image")
    try:
        return image.open("rb")
    except OSError as error:
        logger.warning("Correction example %s: %s image %s unreadable: %s", example.pk, side, image.name, error)
        return None


def _side(example: CorrectionExample, prefix: str) -> ExportSide:
    if not getattr(example, f"{prefix}_image"):
        return ExportSide(image_uri="", snippet=pretty_snippet(getattr(example, f"{prefix}_snippet")))
    handle = open_example_image(example, prefix)
    if handle is None:
        return ExportSide(image_uri="", snippet=MISSING_IMAGE)
    with handle:
        encoded = base64.b64encode(handle.read()).decode("ascii")
    return ExportSide(image_uri=f"data:{getattr(example, f'{prefix}_image_type')};base64,{encoded}", snippet="")


def pretty_snippet(snippet: str) -> str:
    """JSON snippets indented for reading (lists of plain values such as a box stay on one line);
    anything else as written."""
    try:
        return _json_text(json.loads(snippet), 0)
    except ValueError:
        return snippet


def _json_text(value: object, depth: int) -> str:
    pad, inner = "  " * depth, "  " * (depth + 1)
    if isinstance(value, dict) and value:
        items = [f"{inner}{json.dumps(key, ensure_ascii=False)}: {_json_text(item, depth + 1)}"
                 for key, item in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(value, list) and any(isinstance(item, (dict, list)) for item in value):
        return "[\n" + ",\n".join(f"{inner}{_json_text(item, depth + 1)}" for item in value) + f"\n{pad}]"
    return json.dumps(value, ensure_ascii=False)


def _export_groups(revision: GuidelineRevision) -> list[tuple[RuleExamples, list[ExportExample]]]:
    return [
        (
            group,
            [
                ExportExample(
                    example=example,
                    before=_side(example, "before"),
                    after=_side(example, "after"),
                    explanation_html=render_markdown(example.explanation, images=False),
                )
                for example in group.examples
            ],
        )
        for group in correction_examples_by_rule(revision)
    ]


def guideline_export_html(revision: GuidelineRevision) -> str:
    dataset = revision.guideline.dataset
    return render_to_string(
        "annotations/guideline_export.html",
        {
            "dataset": dataset,
            "revision": revision,
            "body_html": render_markdown(revision.body, heading_anchors=True, images=False),
            "classes": [
                {
                    "name": label_class.get("name", ""),
                    "definition": label_class.get("definition", ""),
                    "attributes": [attribute_text(attribute) for attribute in label_class.get("attributes", [])],
                }
                for label_class in (revision.label_schema or {}).get("classes", [])
            ],
            "groups": _export_groups(revision),
            "exported_at": timezone.now(),
        },
    )


def _fence(text: str) -> str:
    longest = max((len(run) for run in text.split("\n") if set(run) == {"`"}), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}\n{text}\n{fence}"


def _md_side(label: str, side: ExportSide) -> str:
    if side.image_uri:
        return f"**{label}:**\n\n![{label}]({side.image_uri})"
    return f"**{label}:**\n\n{_fence(side.snippet)}"


def guideline_export_markdown(revision: GuidelineRevision) -> str:
    dataset = revision.guideline.dataset
    parts = [
        f"<!-- Annotation rules of {dataset.slug}, revision {revision.number}, "
        f"exported from Kura {timezone.now():%Y-%m-%d %H:%M} UTC. -->",
        f"# Annotation rules: {dataset.name} (revision {revision.number})",
        revision.body.strip(),
    ]
    classes = (revision.label_schema or {}).get("classes", [])
    if classes:
        parts.append("## Label schema")
        rows = ["| Class | Definition | Attributes |", "|---|---|---|"]
        for label_class in classes:
            attributes = ", ".join(attribute_text(attribute) for attribute in label_class.get("attributes", []))
            rows.append(
                f"| {_cell(label_class['name'])} | {_cell(label_class['definition'])} | {_cell(attributes)} |"
            )
        parts.append("\n".join(rows))
    groups = _export_groups(revision)
    if groups:
        parts.append("## Correction examples")
        for group, examples in groups:
            parts.append(f"### {group.title}")
            for item in examples:
                author = item.example.added_by.display_name if item.example.added_by else "unknown"
                parts.extend(
                    [
                        _md_side("Before", item.before),
                        _md_side("After", item.after),
                        item.example.explanation.strip(),
                        f"*Added by {author} on {item.example.created_at:%Y-%m-%d} "
                        f"(rules revision {item.example.revision.number}).*",
                    ]
                )
    return "\n\n".join(part for part in parts if part) + "\n"


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")
