from dataclasses import dataclass
from typing import IO, Any
from uuid import uuid4

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction

from access.models import Person
from annotations.images import inspect_image
from annotations.label_schema import validate_label_schema
from annotations.models import AnnotationGuideline, CorrectionExample, GuidelineRevision
from catalog.markdown import markdown_headings
from catalog.models import Dataset
from catalog.validators import validate_safe_markdown

MAX_SNIPPET_CHARS = 20_000
MAX_EXPLANATION_CHARS = 10_000


class RulesConflict(ValidationError):
    """The rules were revised after the editor loaded them: the editor's copy would revert that revision."""

    def __init__(self, current: int) -> None:
        super().__init__(
            f"Someone revised the annotation rules (now revision {current}) after you opened this form. Nothing "
            "of yours was saved yet: open the rules in a new tab to see the new revision. Saving this form again "
            "makes your text the next revision.",
            code="edit_conflict",
        )
        self.current = current


def _unix_lines(text: str) -> str:
    # A browser sends a textarea's lines ending in CRLF, and the form strips the ends: rules are stored with LF and
    # compared without surrounding whitespace, so saving the dataset form with the rules untouched adds no revision.
    return text.replace("\r\n", "\n").replace("\r", "\n")


@transaction.atomic
def guideline_revise(
    *,
    dataset: Dataset,
    body: str,
    label_schema: Any,
    actor: Person | None,
    change_note: str = "",
    based_on: int | None = None,
) -> GuidelineRevision | None:
    """Append a revision when the rules changed; returns None when nothing changed.

    ``based_on``: the revision number the caller's text was edited from (0: there was none); when a newer
    revision exists and the text differs from it, ``RulesConflict`` is raised instead of reverting it.
    """
    validate_safe_markdown(body)
    validate_label_schema(label_schema)
    body = _unix_lines(body)
    schema = label_schema or {}
    guideline, _ = AnnotationGuideline.objects.select_for_update().get_or_create(dataset=dataset)
    current = guideline.revisions.order_by("-number").first()
    if (
        current is not None
        and _unix_lines(current.body).strip() == body.strip()
        and current.label_schema == schema
    ):
        return None
    if current is None and not body.strip() and not schema:
        return None
    if based_on is not None and current is not None and current.number != based_on:
        raise RulesConflict(current.number)
    return GuidelineRevision.objects.create(
        guideline=guideline,
        number=(current.number + 1) if current else 1,
        body=body,
        label_schema=schema,
        change_note=change_note,
        created_by=actor,
    )


@dataclass(frozen=True)
class ExampleSide:
    """One side of a correction: an uploaded image (any file-like with ``size``/``read``) or a snippet."""

    image: IO[bytes] | None = None
    snippet: str = ""


@dataclass(frozen=True)
class _CheckedSide:
    data: bytes | None
    content_type: str
    extension: str
    snippet: str


def _size_text(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def _check_side(side: ExampleSide, label: str) -> _CheckedSide:
    snippet = side.snippet.strip()
    if side.image is not None and snippet:
        raise ValidationError(f"Give the {label} as an image or as a snippet, not both.")
    if side.image is None:
        if not snippet:
            raise ValidationError(f"Give the {label}: an image, or an annotation snippet (text or JSON).")
        if len(snippet) > MAX_SNIPPET_CHARS:
            raise ValidationError(f"The {label} snippet is {len(snippet)} characters; at most {MAX_SNIPPET_CHARS}.")
        return _CheckedSide(data=None, content_type="", extension="", snippet=snippet)
    limit = int(settings.KURA_UPLOAD_MAX_BYTES)
    declared = getattr(side.image, "size", None)
    data = side.image.read(limit + 1) if declared is None or declared <= limit else b""
    if (declared is not None and declared > limit) or len(data) > limit:
        size = declared if declared is not None else len(data)
        raise ValidationError(
            f"The {label} image is {_size_text(size)}; images may be at most {_size_text(limit)}.", code="too_large"
        )
    try:
        info = inspect_image(data)
    except ValidationError as error:
        raise ValidationError(f"The {label} image was refused: {error.messages[0]}", code=error.code) from error
    return _CheckedSide(data=data, content_type=info.content_type, extension=info.extension, snippet="")


def _collect(checks: dict[str, Any]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for field, check in checks.items():
        try:
            results[field] = check()
        except ValidationError as error:
            errors[field] = error.messages
    if errors:
        raise ValidationError(errors)
    return results


def _check_rule(revision: GuidelineRevision | None, rule_anchor: str) -> str:
    if revision is None:
        raise ValidationError("Write the annotation rules first: an example clarifies one of their headings.")
    titles = {heading.anchor: heading.title for heading in markdown_headings(revision.body)}
    if not titles:
        raise ValidationError("The rules have no headings; add '## Rule name' headings so examples can point at them.")
    if rule_anchor not in titles:
        raise ValidationError(f"Choose one of the headings of rules revision {revision.number}.")
    return titles[rule_anchor]


def _check_explanation(explanation: str) -> str:
    explanation = explanation.strip()
    if not explanation:
        raise ValidationError("Explain why the correction is right; that is what annotators learn from.")
    if len(explanation) > MAX_EXPLANATION_CHARS:
        raise ValidationError(f"The explanation is longer than {MAX_EXPLANATION_CHARS} characters.")
    validate_safe_markdown(explanation)
    return explanation


@transaction.atomic
def correction_example_add(
    *,
    dataset: Dataset,
    rule_anchor: str,
    before: ExampleSide,
    after: ExampleSide,
    explanation: str,
    actor: Person | None,
) -> CorrectionExample:
    """Attach a before/after correction to a heading of the current rules; images go to the default storage
    under generated names (the uploaded file name is never used)."""
    guideline = AnnotationGuideline.objects.select_for_update().filter(dataset=dataset).first()
    revision = guideline.revisions.order_by("-number").first() if guideline else None
    checked = _collect(
        {
            "rule": lambda: _check_rule(revision, rule_anchor),
            "before": lambda: _check_side(before, "before"),
            "after": lambda: _check_side(after, "after"),
            "explanation": lambda: _check_explanation(explanation),
        }
    )
    assert guideline is not None and revision is not None  # _check_rule refused otherwise
    example = CorrectionExample(
        guideline=guideline,
        revision=revision,
        rule_anchor=rule_anchor,
        rule_title=checked["rule"],
        explanation=checked["explanation"],
        added_by=actor,
    )
    stored: list[str] = []
    try:
        for prefix in ("before", "after"):
            side: _CheckedSide = checked[prefix]
            if side.data is None:
                setattr(example, f"{prefix}_snippet", side.snippet)
                continue
            field = getattr(example, f"{prefix}_image")
            field.save(f"{uuid4().hex}{side.extension}", ContentFile(side.data), save=False)
            stored.append(field.name)
            setattr(example, f"{prefix}_image_type", side.content_type)
        example.save()
    except Exception:
        for name in stored:
            example.before_image.storage.delete(name)
        raise
    return example
