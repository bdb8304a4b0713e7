"""What annotations tells the catalog about guideline revisions (see catalog.guideline_hooks)."""

from access.models import Person
from annotations.models import GuidelineRevision
from annotations.selectors import current_guideline_revision
from annotations.services import guideline_revise
from catalog.guideline_hooks import CurrentRules
from catalog.models import Dataset


class GuidelineRevisionsForCatalog:
    def current_number(self, dataset: Dataset) -> int | None:
        return (
            GuidelineRevision.objects.filter(guideline__dataset=dataset)
            .order_by("-number")
            .values_list("number", flat=True)
            .first()
        )

    def exists(self, dataset: Dataset, number: int) -> bool:
        return GuidelineRevision.objects.filter(guideline__dataset=dataset, number=number).exists()

    def current_rules(self, dataset: Dataset) -> CurrentRules | None:
        revision = current_guideline_revision(dataset)
        if revision is None:
            return None
        return CurrentRules(revision.number, revision.body, revision.label_schema or {}, revision.created_at)

    def revise(self, dataset: Dataset, body: str, actor: Person | None, change_note: str) -> int | None:
        revision = guideline_revise(dataset=dataset, body=body, label_schema={}, actor=actor, change_note=change_note)
        return revision.number if revision is not None else None
