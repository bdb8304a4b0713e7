"""What annotations tells the catalog about guideline revisions (see catalog.guideline_hooks)."""

from annotations.models import GuidelineRevision
from annotations.selectors import current_guideline_revision
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
