from django.db import models
from django.utils import timezone

from access.models import Person
from catalog.models import Dataset


class AnnotationGuideline(models.Model):
    """The labelling rules of one dataset; its content lives in numbered, append-only revisions."""

    dataset = models.OneToOneField(Dataset, on_delete=models.CASCADE, related_name="guideline")
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Annotation rules for {self.dataset.slug}"


class GuidelineRevision(models.Model):
    guideline = models.ForeignKey(AnnotationGuideline, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    body = models.TextField(help_text="Markdown: how to label, with edge cases.")
    label_schema = models.JSONField(default=dict, blank=True, help_text="Classes with definitions and attributes.")
    change_note = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-number"]
        constraints = [models.UniqueConstraint(fields=["guideline", "number"], name="guideline_revision_unique")]

    def __str__(self) -> str:
        return f"{self.guideline.dataset.slug} rules r{self.number}"
