from django.db import models
from django.utils import timezone

from access.models import Person


class StorageConnection(models.Model):
    """Where a scanner may look, and how it signs in. Secrets are referenced, never stored.

    ``roots`` are ``bucket`` or ``bucket/prefix/`` entries for S3 and absolute directories (inside
    KURA_LOCAL_ROOTS) for local connections.
    """

    class Kind(models.TextChoices):
        S3 = "s3", "S3 or S3-compatible"
        LOCAL = "local", "Local or NFS directory"

    class Addressing(models.TextChoices):
        AUTO = "auto", "Automatic"
        PATH = "path", "Path style (endpoint/bucket/key)"
        VIRTUAL = "virtual", "Virtual hosted (bucket.endpoint/key)"

    name = models.SlugField(max_length=100, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    endpoint_url = models.CharField(max_length=500, blank=True, help_text="Empty for AWS itself.")
    region = models.CharField(max_length=64, blank=True)
    addressing_style = models.CharField(max_length=16, choices=Addressing.choices, default=Addressing.AUTO)
    access_key_env = models.CharField(
        max_length=128, blank=True, help_text="Name of the environment variable holding the access key id."
    )
    secret_key_env = models.CharField(
        max_length=128, blank=True, help_text="Name of the environment variable holding the secret key."
    )
    session_token_env = models.CharField(max_length=128, blank=True)
    secrets_file = models.CharField(
        max_length=500, blank=True,
        help_text="Path of a JSON file or an AWS-style credentials file readable by the workers.",
    )
    secrets_file_key = models.CharField(
        max_length=128, blank=True, help_text="Entry (JSON key or credentials-file profile) inside the secrets file."
    )
    roots = models.JSONField(default=list, help_text="Buckets/prefixes or directories to scan.")
    inventory_manifest = models.CharField(
        max_length=1024, blank=True,
        help_text="s3://bucket/path/manifest.json of an S3 Inventory report to read instead of listing.",
    )
    schedule_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="Scan every N minutes; empty means on demand only."
    )
    is_dvc_remote = models.BooleanField(default=False, help_text="The roots hold a DVC remote.")
    # Several repositories may push to one remote; only their indexed history can explain its objects.
    dvc_repos = models.ManyToManyField(
        "storage.TrainingRepo", blank=True, related_name="dvc_remote_connections",
        help_text="Training repositories that push to this DVC remote.",
    )
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def credentials_source(self) -> str:
        """How the connection signs in, safe to show: never the secret itself."""
        if self.access_key_env:
            return "environment"
        if self.secrets_file:
            return "secrets_file"
        return "none" if self.kind == self.Kind.LOCAL else "default_chain"
