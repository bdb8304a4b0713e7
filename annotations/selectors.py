from dataclasses import dataclass, field

from annotations.models import CorrectionExample, GuidelineRevision
from catalog.markdown import Heading, markdown_headings
from catalog.models import Dataset


class RevisionNotFound(Exception):
    pass


def current_guideline_revision(dataset: Dataset) -> GuidelineRevision | None:
    return GuidelineRevision.objects.filter(guideline__dataset=dataset).order_by("-number").first()


def guideline_revisions(dataset: Dataset) -> list[GuidelineRevision]:
    """All revisions, newest first."""
    return list(
        GuidelineRevision.objects.filter(guideline__dataset=dataset).select_related("created_by").order_by("-number")
    )


def guideline_revision_get(dataset: Dataset, number: int) -> GuidelineRevision:
    revision = (
        GuidelineRevision.objects.filter(guideline__dataset=dataset, number=number).select_related("created_by").first()
    )
    if revision is None:
        raise RevisionNotFound(number)
    return revision


def revision_headings(revision: GuidelineRevision) -> list[Heading]:
    return markdown_headings(revision.body)


@dataclass
class RuleExamples:
    anchor: str
    title: str
    in_revision: bool  # False when the heading is gone from the revision shown
    examples: list[CorrectionExample] = field(default_factory=list)


def correction_examples_by_rule(revision: GuidelineRevision) -> list[RuleExamples]:
    """Examples that existed at ``revision``, grouped by the rule they clarify, in the rules' heading order."""
    examples = (
        CorrectionExample.objects.filter(guideline_id=revision.guideline_id, revision__number__lte=revision.number)
        .select_related("added_by", "revision")
        .order_by("created_at", "pk")
    )
    groups = {
        heading.anchor: RuleExamples(anchor=heading.anchor, title=heading.title, in_revision=True)
        for heading in revision_headings(revision)
    }
    for example in examples:
        group = groups.get(example.rule_anchor)
        if group is None:
            group = groups[example.rule_anchor] = RuleExamples(
                anchor=example.rule_anchor, title=example.rule_title, in_revision=False
            )
        group.examples.append(example)
    return [group for group in groups.values() if group.examples]
