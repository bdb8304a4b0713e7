"""What was trained on which dataset version, and what depends on the result.

The graph: DatasetVersion → TrainingRun (RunInput) → ModelVersion (RunOutput) → Consumer (ConsumerDependency).
A run may also read a ModelVersion (fine-tuning, distillation), which continues the chain. ExternalDataset
records OpenLineage inputs/outputs Kura does not know; they are kept, but impact does not traverse them.
"""

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone

from access.models import Person
from catalog.models import DatasetVersion


class TrainingRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        COMPLETE = "complete", "Complete"
        FAILED = "failed", "Failed"
        ABORTED = "aborted", "Aborted"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    external_run_id = models.CharField(max_length=255, help_text="e.g. the OpenLineage runId.")
    job_namespace = models.CharField(max_length=255)
    job_name = models.CharField(max_length=500)
    code_repository = models.CharField(max_length=500, blank=True)
    code_path = models.CharField(max_length=500, blank=True)
    code_commit = models.CharField(max_length=64, blank=True)
    parameters = models.JSONField(default=dict, blank=True)
    ci_job_url = models.URLField(max_length=500, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    status_event_time = models.DateTimeField(
        null=True, blank=True, help_text="Time of the event that set the status; older events do not override it."
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-started_at", "-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["job_namespace", "external_run_id"], name="run_unique_per_namespace")
        ]

    def __str__(self) -> str:
        return f"{self.job_namespace}/{self.job_name} run {self.external_run_id}"


class Model(models.Model):
    name = models.CharField(max_length=200, unique=True)
    owner = models.ForeignKey(Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="owned_models")
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ModelVersion(models.Model):
    class Stage(models.TextChoices):
        DEVELOPMENT = "development", "Development"
        STAGING = "staging", "Staging"
        PRODUCTION = "production", "Production"
        RETIRED = "retired", "Retired"

    model = models.ForeignKey(Model, on_delete=models.CASCADE, related_name="versions")
    version = models.CharField(max_length=100)
    stage = models.CharField(max_length=16, choices=Stage.choices, default=Stage.DEVELOPMENT)
    produced_by = models.ForeignKey(
        TrainingRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="produced_versions"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["model__name", "-created_at"]
        constraints = [models.UniqueConstraint(fields=["model", "version"], name="model_version_unique")]

    def __str__(self) -> str:
        return f"{self.model.name}@{self.version}"


class Consumer(models.Model):
    class Kind(models.TextChoices):
        THRESHOLD = "threshold", "Threshold"
        API_ENDPOINT = "api_endpoint", "API endpoint"
        OTHER = "other", "Other"

    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.OTHER)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="owned_consumers"
    )
    model_versions = models.ManyToManyField(ModelVersion, through="ConsumerDependency", related_name="consumers")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ExternalDataset(models.Model):
    """An OpenLineage dataset that names nothing Kura knows; kept so no lineage is dropped."""

    namespace = models.CharField(max_length=500)
    name = models.CharField(max_length=1000)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["namespace", "name"]
        constraints = [models.UniqueConstraint(fields=["namespace", "name"], name="external_dataset_unique")]

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


def _exactly_one(*fields: str) -> Q:
    options = [Q(**{f"{field}__isnull": field != chosen for field in fields}) for chosen in fields]
    combined = options[0]
    for option in options[1:]:
        combined |= option
    return combined


class RunInput(models.Model):
    run = models.ForeignKey(TrainingRun, on_delete=models.CASCADE, related_name="inputs")
    dataset_version = models.ForeignKey(
        DatasetVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="training_inputs"
    )
    model_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.CASCADE, related_name="training_inputs"
    )
    external_dataset = models.ForeignKey(
        ExternalDataset, null=True, blank=True, on_delete=models.CASCADE, related_name="run_inputs"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=_exactly_one("dataset_version", "model_version", "external_dataset"),
                name="run_input_one_source",
            ),
            models.UniqueConstraint(
                fields=["run", "dataset_version"], condition=Q(dataset_version__isnull=False),
                name="run_input_dataset_unique",
            ),
            models.UniqueConstraint(
                fields=["run", "model_version"], condition=Q(model_version__isnull=False),
                name="run_input_model_unique",
            ),
            models.UniqueConstraint(
                fields=["run", "external_dataset"], condition=Q(external_dataset__isnull=False),
                name="run_input_external_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.dataset_version or self.model_version or self.external_dataset} → run {self.run_id}"


class RunOutput(models.Model):
    run = models.ForeignKey(TrainingRun, on_delete=models.CASCADE, related_name="outputs")
    model_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.CASCADE, related_name="run_outputs"
    )
    external_dataset = models.ForeignKey(
        ExternalDataset, null=True, blank=True, on_delete=models.CASCADE, related_name="run_outputs"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=_exactly_one("model_version", "external_dataset"), name="run_output_one_target"
            ),
            models.UniqueConstraint(
                fields=["run", "model_version"], condition=Q(model_version__isnull=False),
                name="run_output_model_unique",
            ),
            models.UniqueConstraint(
                fields=["run", "external_dataset"], condition=Q(external_dataset__isnull=False),
                name="run_output_external_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"run {self.run_id} → {self.model_version or self.external_dataset}"


class ConsumerDependency(models.Model):
    consumer = models.ForeignKey(Consumer, on_delete=models.CASCADE, related_name="dependencies")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="dependencies")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "consumer dependencies"
        constraints = [
            models.UniqueConstraint(fields=["consumer", "model_version"], name="consumer_dependency_unique")
        ]

    def __str__(self) -> str:
        return f"{self.consumer} depends on {self.model_version}"


class RawLineageEvent(models.Model):
    """Each OpenLineage event exactly as received, once: the client retries, the digest makes that harmless."""

    digest = models.CharField(max_length=64, unique=True, help_text="sha256 of the canonical JSON.")
    payload = models.JSONField()
    event_type = models.CharField(max_length=16, blank=True)
    event_time = models.DateTimeField()
    run = models.ForeignKey(TrainingRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="events")
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.event_type or 'event'} at {self.event_time:%Y-%m-%d %H:%M:%S}"
