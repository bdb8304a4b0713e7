from django.db import models
from django.utils import timezone

from access.models import Person
from storage.models.connections import StorageConnection


class ScanRun(models.Model):
    """One pass over a connection's roots; the work is split into shards that workers take in turn."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        PARTIAL = "partial", "Finished with errors"
        FAILED = "failed", "Failed"

    class Source(models.TextChoices):
        LISTING = "listing", "Listing"
        INVENTORY = "inventory", "S3 Inventory report"

    connection = models.ForeignKey(StorageConnection, on_delete=models.CASCADE, related_name="runs")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.LISTING)
    trigger = models.CharField(max_length=16, default="manual", help_text="manual, schedule, api or cli.")
    requested_by = models.ForeignKey(Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expected_objects = models.BigIntegerField(
        null=True, blank=True, help_text="Objects the previous complete scan saw; the basis of the ETA."
    )
    errors = models.JSONField(default=list)
    # A DVC remote's scan reads the .dir manifests its history names before any shard: minutes on a large remote.
    manifests_wanted = models.IntegerField(
        null=True, blank=True, help_text="DVC remotes: .dir manifests this scan had to read before listing."
    )
    manifests_done = models.IntegerField(default=0, help_text="Of those, how many were read so far.")
    manifests_found = models.IntegerField(default=0, help_text="Of those, how many were there and usable.")
    manifests_unusable = models.IntegerField(
        default=0, help_text="Of those, how many could not be read or were no manifest (their files look unreferenced)."
    )
    manifests_error = models.TextField(blank=True, help_text="Why reading the manifests failed, so nothing was listed.")
    # Planning a DVC remote reads its manifests first (minutes): the planner beats so it is not taken for dead.
    planning_heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="When the planner last said it was alive; a stale one is planned again."
    )
    # A transient failure (an unreachable endpoint, throttling) being waited out, so the page says why nothing moves.
    retry_message = models.TextField(blank=True, help_text="Why the scan waits to retry; empty when it does not.")
    retry_attempt = models.PositiveIntegerField(default=0, help_text="Which retry comes next…")
    retry_attempts = models.PositiveIntegerField(default=0, help_text="…of how many at most.")
    retry_at = models.DateTimeField(null=True, blank=True, help_text="When that retry is made.")

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["connection", "-created_at"], name="scanrun_connection_idx")]

    def __str__(self) -> str:
        return f"{self.connection} scan {self.pk}"

    @property
    def is_finished(self) -> bool:
        return self.status in {self.Status.SUCCEEDED, self.Status.PARTIAL, self.Status.FAILED}

    @property
    def manifests_missing(self) -> int:
        """Manifests looked for that the remote does not hold (yet): the next scan looks again."""
        return max(0, (self.manifests_wanted or 0) - self.manifests_found - self.manifests_unusable)


class ScanShard(models.Model):
    """A prefix of one root, listed by one worker at a time; ``last_key`` is its checkpoint."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    run = models.ForeignKey(ScanRun, on_delete=models.CASCADE, related_name="shards")
    root = models.CharField(max_length=1024, help_text="The connection root this shard belongs to.")
    prefix = models.CharField(max_length=1024, help_text="Key prefix or directory below the root.")
    top_level_only = models.BooleanField(default=False, help_text="Only the objects directly in the root.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    last_key = models.CharField(max_length=2048, blank=True, help_text="Everything up to this key is counted.")
    objects_seen = models.BigIntegerField(default=0)
    bytes_seen = models.BigIntegerField(default=0)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    lease_token = models.CharField(max_length=32, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "root", "prefix"]
        constraints = [
            models.UniqueConstraint(fields=["run", "root", "prefix", "top_level_only"], name="shard_unique_prefix")
        ]

    def __str__(self) -> str:
        return self.display_path

    @property
    def display_path(self) -> str:
        """Root and prefix as one path (roots are stored without a trailing slash)."""
        if not self.prefix:
            return self.root
        return f"{self.root.rstrip('/')}/{self.prefix.lstrip('/')}"


class ScanAggregate(models.Model):
    """Running totals of one shard for one directory (unregistered data) or one registered location.

    Written in the same transaction as the shard's checkpoint, so a resumed shard neither loses nor
    double-counts objects.
    """

    shard = models.ForeignKey(ScanShard, on_delete=models.CASCADE, related_name="aggregates")
    key = models.CharField(max_length=1100, help_text="'dir:<uri>' or 'loc:<location id>'.")
    uri = models.CharField(max_length=1100)
    location_id = models.BigIntegerField(null=True, blank=True)
    object_count = models.BigIntegerField(default=0)
    byte_count = models.BigIntegerField(default=0)
    oldest = models.DateTimeField(null=True, blank=True)
    newest = models.DateTimeField(null=True, blank=True)
    newest_owner = models.CharField(max_length=200, blank=True)
    owners = models.JSONField(default=dict)
    sample_keys = models.JSONField(default=list)
    dvc_like = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shard", "key"], name="aggregate_unique_key")]

    def __str__(self) -> str:
        return self.uri
