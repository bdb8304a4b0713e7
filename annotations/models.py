from typing import Any, NoReturn

from django.db import models
from django.utils import timezone

from access.models import Person
from catalog.models import Dataset


class RevisionImmutable(Exception):
    """A guideline revision is a record of what annotators were told; it is never changed or removed."""


class AnnotationGuideline(models.Model):
    """The labelling rules of one dataset; its content lives in numbered, append-only revisions."""

    dataset = models.OneToOneField(Dataset, on_delete=models.CASCADE, related_name="guideline")
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Annotation rules for {self.dataset.slug}"


def _refuse(action: str) -> NoReturn:
    raise RevisionImmutable(f"Guideline revisions are append-only: {action} refused. Publish a new revision.")


class GuidelineRevisionQuerySet(models.QuerySet["GuidelineRevision"]):
    def update(self, **kwargs: Any) -> int:
        _refuse("update")

    def delete(self) -> tuple[int, dict[str, int]]:
        _refuse("delete")


class GuidelineRevision(models.Model):
    """One published state of the rules. The database refuses UPDATE and DELETE too (migration 0002)."""

    guideline = models.ForeignKey(AnnotationGuideline, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    body = models.TextField(help_text="Markdown: how to label, with edge cases.")
    label_schema = models.JSONField(default=dict, blank=True, help_text="Classes with definitions and attributes.")
    change_note = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    objects = GuidelineRevisionQuerySet.as_manager()

    class Meta:
        ordering = ["-number"]
        constraints = [models.UniqueConstraint(fields=["guideline", "number"], name="guideline_revision_unique")]

    def __str__(self) -> str:
        return f"{self.guideline.dataset.slug} rules r{self.number}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            _refuse("update")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        _refuse("delete")


class CorrectionExample(models.Model):
    """A worked correction: what a label looked like, what it should be, and which rule says so.

    Each side is an image (stored on the default storage under a generated name) or a text/JSON snippet.
    """

    guideline = models.ForeignKey(AnnotationGuideline, on_delete=models.CASCADE, related_name="examples")
    revision = models.ForeignKey(
        GuidelineRevision, on_delete=models.PROTECT, related_name="examples", help_text="Current when it was added."
    )
    rule_anchor = models.CharField(max_length=200, help_text="Anchor of the heading in the rules it clarifies.")
    rule_title = models.CharField(max_length=300, help_text="That heading's text when the example was added.")
    before_image = models.FileField(upload_to="correction-examples/%Y/%m/", blank=True)
    before_image_type = models.CharField(max_length=32, blank=True)
    before_snippet = models.TextField(blank=True)
    after_image = models.FileField(upload_to="correction-examples/%Y/%m/", blank=True)
    after_image_type = models.CharField(max_length=32, blank=True)
    after_snippet = models.TextField(blank=True)
    explanation = models.TextField(help_text="Markdown: why the correction is right.")
    added_by = models.ForeignKey(Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["rule_anchor", "created_at"]

    def __str__(self) -> str:
        return f"Correction for '{self.rule_title}' ({self.guideline.dataset.slug})"
