from annotations.models import GuidelineRevision
from catalog.models import Dataset


def current_guideline_revision(dataset: Dataset) -> GuidelineRevision | None:
    return GuidelineRevision.objects.filter(guideline__dataset=dataset).order_by("-number").first()
