from django.db import models
from django.utils import timezone

from access.models import Person
from catalog.models import Dataset, StorageLocation
from storage.models.connections import StorageConnection
from storage.models.scans import ScanRun


class Finding(models.Model):
    """Something a scan found that the catalog does not account for. One row per orphan, updated by re-scans."""

    class Kind(models.TextChoices):
        UNREGISTERED = "unregistered", "Unregistered data"
        MISSING = "missing", "Registered location missing"
        OWNERLESS = "ownerless", "Owner departed"
        DVC_UNREFERENCED = "dvc_unreferenced", "DVC objects no commit references"
        DVC_HISTORICAL = "dvc_historical", "DVC objects only old commits reference"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLAIMED = "claimed", "Claimed"
        ASSIGNED = "assigned", "Assigned"
        DISMISSED = "dismissed", "Dismissed"
        RESOLVED = "resolved", "Resolved"

    OPEN_STATUSES = (Status.OPEN, Status.CLAIMED, Status.ASSIGNED)

    connection = models.ForeignKey(StorageConnection, on_delete=models.CASCADE, related_name="findings")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    key = models.CharField(max_length=1200, help_text="Stable identity: the same orphan keeps the same key.")
    uri = models.CharField(max_length=1100)
    location = models.ForeignKey(
        StorageLocation, null=True, blank=True, on_delete=models.SET_NULL, related_name="findings"
    )
    dataset = models.ForeignKey(Dataset, null=True, blank=True, on_delete=models.SET_NULL, related_name="findings")
    object_count = models.BigIntegerField(default=0)
    total_bytes = models.BigIntegerField(default=0)
    oldest_modified = models.DateTimeField(null=True, blank=True)
    newest_modified = models.DateTimeField(null=True, blank=True)
    sample_keys = models.JSONField(default=list)
    storage_owner = models.CharField(max_length=200, blank=True, help_text="Owner the store reports, if any.")
    hints = models.JSONField(default=list)
    message = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    assignee = models.ForeignKey(Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    claimed_by = models.ForeignKey(Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    dismissal_reason = models.TextField(blank=True)
    resolution = models.CharField(max_length=300, blank=True)
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    last_run = models.ForeignKey(ScanRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-total_bytes", "uri"]
        constraints = [models.UniqueConstraint(fields=["connection", "key"], name="finding_unique_key")]
        indexes = [models.Index(fields=["status", "kind"], name="finding_status_kind_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.uri}"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES
