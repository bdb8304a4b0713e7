from typing import Any

from django.db import transaction

from access.models import Person
from annotations.label_schema import validate_label_schema
from annotations.models import AnnotationGuideline, GuidelineRevision
from catalog.models import Dataset
from catalog.validators import validate_safe_markdown


@transaction.atomic
def guideline_revise(
    *, dataset: Dataset, body: str, label_schema: Any, actor: Person | None, change_note: str = ""
) -> GuidelineRevision | None:
    """Append a revision when the rules changed; returns None when nothing changed."""
    validate_safe_markdown(body)
    validate_label_schema(label_schema)
    schema = label_schema or {}
    guideline, _ = AnnotationGuideline.objects.select_for_update().get_or_create(dataset=dataset)
    current = guideline.revisions.order_by("-number").first()
    if current is not None and current.body == body and current.label_schema == schema:
        return None
    if current is None and not body.strip() and not schema:
        return None
    return GuidelineRevision.objects.create(
        guideline=guideline,
        number=(current.number + 1) if current else 1,
        body=body,
        label_schema=schema,
        change_note=change_note,
        created_by=actor,
    )
