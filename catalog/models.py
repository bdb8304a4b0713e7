import uuid
from functools import cached_property

from django.db import models
from django.utils import timezone
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from access.models import OrgUnit, Person
from catalog.datasheet import LICENCE_MAX_LENGTH
from catalog.querysets import DatasetQuerySet
from catalog.uris import validate_storage_uri
from catalog.validators import (
    validate_dataset_slug,
    validate_git_commit,
    validate_git_repository_url,
    validate_version_label,
)


class Tag(models.Model):
    name = models.SlugField(max_length=50, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class DatasetVisibility(models.TextChoices):
    INTERNAL = "internal", "Internal: everyone signed in sees the metadata"
    RESTRICTED = "restricted", "Restricted: only people with access see it exists"


class Dataset(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        DEPRECATED = "deprecated", "Deprecated"
        ARCHIVED = "archived", "Archived"

    Visibility = DatasetVisibility

    class Classification(models.TextChoices):
        PUBLIC = "public", "Public"
        INTERNAL = "internal", "Internal"
        CONFIDENTIAL = "confidential", "Confidential"
        PERSONAL = "personal", "Personal data"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    slug = models.CharField(max_length=100, unique=True, validators=[validate_dataset_slug])
    name = models.CharField(max_length=200)
    purpose = models.TextField(help_text="What problem this dataset serves and what it may be used for.")
    description = models.TextField(blank=True, help_text="Markdown.")
    owner = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="owned_datasets")
    owning_unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="datasets")
    stewards = models.ManyToManyField(Person, blank=True, related_name="stewarded_datasets")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    deprecation_note = models.TextField(blank=True)
    superseded_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="supersedes"
    )
    deprecated_at = models.DateTimeField(null=True, blank=True)
    sunset_at = models.DateTimeField(null=True, blank=True, help_text="When the dataset stops being served.")
    archived_at = models.DateTimeField(null=True, blank=True)
    visibility = models.CharField(max_length=16, choices=Visibility.choices, default=Visibility.INTERNAL)
    classification = models.CharField(max_length=16, choices=Classification.choices, default=Classification.INTERNAL)
    tags = models.ManyToManyField(Tag, blank=True, related_name="datasets")
    training_repo_url = models.CharField(
        max_length=500, blank=True, validators=[validate_git_repository_url], help_text="Git URL of the training code."
    )
    training_repo_path = models.CharField(max_length=500, blank=True, help_text="Path inside that repository.")
    # The datasheet (catalog.datasheet names, explains and maps each field).
    composition = models.TextField(blank=True)
    sensitive_information = models.TextField(blank=True)
    collection_process = models.TextField(blank=True)
    preprocessing = models.TextField(blank=True)
    known_biases = models.TextField(blank=True)
    known_limitations = models.TextField(blank=True)
    licence = models.CharField(max_length=LICENCE_MAX_LENGTH, blank=True)
    maintenance_plan = models.TextField(blank=True)
    created_by = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="created_datasets"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = DatasetQuerySet.as_manager()

    class Meta:
        ordering = ["name", "slug"]
        permissions = [("read_dataset_data", "Can read the dataset's storage locations and manifests")]
        indexes = [
            models.Index(fields=["status"], name="dataset_status_idx"),
            models.Index(fields=["visibility"], name="dataset_visibility_idx"),
            # Lists are sorted by name: with this index a page is read in order instead of sorting every
            # visible dataset first.
            models.Index(fields=["name", "slug"], name="dataset_name_slug_idx"),
        ]
        constraints = [
            # The permission filter counts "internal" and "every other value" apart (catalog.access_condition).
            models.CheckConstraint(
                condition=models.Q(visibility__in=DatasetVisibility.values), name="dataset_visibility_known"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @cached_property
    def tag_names(self) -> list[str]:
        """Its tags' names in order; list pages load them along instead (``catalog.list_statements``)."""
        return [tag.name for tag in self.tags.all()]


class SlugAlias(models.Model):
    """A slug a dataset used to have; old links and CI configs keep resolving through it."""

    slug = models.CharField(max_length=100, unique=True)
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="aliases")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "slug aliases"

    def __str__(self) -> str:
        return f"{self.slug} → {self.dataset.slug}"


class StorageLocation(models.Model):
    class Role(models.TextChoices):
        PRIMARY = "primary", "Primary"
        MIRROR = "mirror", "Mirror"
        RAW = "raw", "Raw"
        BACKUP = "backup", "Backup"

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="locations")
    uri = models.CharField(max_length=1024, validators=[validate_storage_uri])
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.PRIMARY)
    note = models.CharField(max_length=300, blank=True)
    last_verified_at = models.DateTimeField(null=True, blank=True)
    last_verification_ok = models.BooleanField(null=True, blank=True)
    last_verification_message = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["role", "uri"]
        constraints = [models.UniqueConstraint(fields=["dataset", "uri"], name="location_unique_per_dataset")]

    def __str__(self) -> str:
        return self.uri


class DatasetVersion(models.Model):
    """A labelled state of a dataset. Once published, nothing about it changes.

    ``digest`` is the sha256 of the canonical manifest: one ``path\\tsize\\thash\\n`` line per file,
    files sorted by the UTF-8 bytes of their path.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"

    class Source(models.TextChoices):
        MANUAL = "manual", "Manual"
        API = "api", "API"
        DVC = "dvc", "DVC commit"
        SCAN = "scan", "Storage scan"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="versions")
    label = models.CharField(max_length=64, validators=[validate_version_label])
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    digest = models.CharField(max_length=64, blank=True)
    total_bytes = models.BigIntegerField(default=0)
    file_count = models.IntegerField(default=0)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.MANUAL)
    git_commit = models.CharField(max_length=64, blank=True, validators=[validate_git_commit])
    guideline_revision = models.PositiveIntegerField(
        null=True, blank=True, help_text="Revision of the annotation guideline the data was labelled under."
    )
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-published_at", "-created_at"]
        constraints = [models.UniqueConstraint(fields=["dataset", "label"], name="version_label_unique")]
        indexes = [models.Index(fields=["dataset", "status", "-published_at"], name="version_latest_idx")]

    def __str__(self) -> str:
        return f"{self.dataset.slug}@{self.label}"

    @property
    def is_published(self) -> bool:
        return self.status == self.Status.PUBLISHED


class ManifestFile(models.Model):
    version = models.ForeignKey(DatasetVersion, on_delete=models.CASCADE, related_name="files")
    path = models.CharField(max_length=1024)
    size = models.BigIntegerField()
    hash = models.CharField(max_length=140, help_text="Content hash, e.g. a sha256 or md5 hex digest.")

    class Meta:
        ordering = ["path"]
        constraints = [models.UniqueConstraint(fields=["version", "path"], name="manifest_path_unique")]

    def __str__(self) -> str:
        return self.path


class DatasetUserObjectPermission(UserObjectPermissionBase):
    """Guardian's direct-FK table for people; rows are derived from active grants by the grant services."""

    content_object = models.ForeignKey(Dataset, on_delete=models.CASCADE)


class DatasetGroupObjectPermission(GroupObjectPermissionBase):
    """Guardian's direct-FK table for org units (through their groups); derived from active unit grants."""

    content_object = models.ForeignKey(Dataset, on_delete=models.CASCADE)
