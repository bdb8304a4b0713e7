"""Training repositories linked to datasets and what their git history says about DVC data."""

from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from catalog.models import Dataset

# The same shape catalog.uris accepts for dvc://<repository>#<path>, so a location can name the repository.
validate_repo_name = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}\Z",  # \Z: "$" would let a final newline in
    "A repository name is letters, digits, '.', '_', '-' and '/' (e.g. 'vision/detector'); "
    "locations name it as dvc://<name>#<path>.",
    code="invalid_repo_name",
)



def validate_repo_url(value: str) -> None:
    # git would read a leading '-' as an option (e.g. --upload-pack=…), whatever the caller meant.
    if value.strip().startswith("-"):
        raise ValidationError("A repository URL or path may not start with '-'.", code="invalid_repo_url")


class TrainingRepo(models.Model):
    class Status(models.TextChoices):
        NEW = "new", "Not indexed yet"
        INDEXING = "indexing", "Indexing"
        READY = "ready", "Indexed"
        FAILED = "failed", "Indexing failed"

    name = models.CharField(max_length=200, unique=True, validators=[validate_repo_name])
    url = models.CharField(
        max_length=1000, validators=[validate_repo_url], help_text="Git URL reachable from the server, or a local path."
    )
    datasets = models.ManyToManyField(Dataset, blank=True, related_name="training_repos")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NEW)
    last_error = models.TextField(blank=True)
    # ref name → commit at the last completed run; the next run walks only commits not reachable from these.
    indexed_heads = models.JSONField(default=dict, blank=True)
    default_branch = models.CharField(max_length=255, blank=True)
    commits_indexed = models.PositiveIntegerField(default=0, help_text="Commits with DVC changes read so far.")
    last_run_commits = models.PositiveIntegerField(default=0, help_text="Commits read by the last run.")
    last_indexed_at = models.DateTimeField(null=True, blank=True)
    indexing_started_at = models.DateTimeField(null=True, blank=True, help_text="Set while a run holds the mirror.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def mirror_path(self) -> Path:
        return Path(settings.KURA_REPO_MIRROR_ROOT) / f"repo-{self.pk}.git"

    @property
    def tags_by_commit(self) -> dict[str, list[str]]:
        tags: dict[str, list[str]] = {}
        for ref, commit in sorted(self.indexed_heads.items()):
            if ref.startswith("refs/tags/"):
                tags.setdefault(commit, []).append(ref.removeprefix("refs/tags/"))
        return tags


class DvcReference(models.Model):
    """An output hash introduced at a commit: new relative to every parent of that commit."""

    repo = models.ForeignKey(TrainingRepo, on_delete=models.CASCADE, related_name="references")
    md5 = models.CharField(max_length=32, help_text="Without the '.dir' suffix.")
    is_dir = models.BooleanField(default=False)
    hash_name = models.CharField(max_length=8, blank=True, help_text="'md5' for DVC 3 outputs, empty for DVC 2.")
    size = models.BigIntegerField(null=True, blank=True)
    nfiles = models.PositiveIntegerField(null=True, blank=True)
    path = models.CharField(max_length=1024, help_text="Output path relative to the repository root.")
    stage = models.CharField(max_length=255, blank=True, help_text="dvc.lock stage that produced the output.")
    cache = models.BooleanField(default=True, help_text="False for 'cache: false' outputs, which are never pushed.")
    remote = models.CharField(max_length=255, blank=True, help_text="Per-output 'remote:' if set.")
    source_path = models.CharField(max_length=1024, help_text="The .dvc file or dvc.lock that names the output.")
    commit = models.CharField(max_length=40)
    author_name = models.CharField(max_length=255, blank=True)
    author_email = models.CharField(max_length=255, blank=True)
    authored_at = models.DateTimeField()
    live_refs = models.JSONField(default=list, blank=True, help_text="Branch and tag heads where it is current.")
    is_live = models.BooleanField(default=False)
    reachable = models.BooleanField(default=True, help_text="False once no ref reaches the commit any more.")

    class Meta:
        ordering = ["authored_at", "commit", "source_path", "path"]
        constraints = [
            models.UniqueConstraint(
                fields=["repo", "commit", "source_path", "stage", "path", "md5", "is_dir", "hash_name"],
                name="dvcref_unique_per_commit",
            )
        ]
        indexes = [
            models.Index(fields=["md5"], name="dvcref_md5_idx"),
            models.Index(fields=["repo", "path"], name="dvcref_repo_path_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.repo}:{self.path}@{self.commit[:8]}"

    @property
    def layout(self) -> str:
        return "dvc3" if self.hash_name == "md5" else "dvc2"

    @property
    def hash_text(self) -> str:
        return self.md5 + (".dir" if self.is_dir else "")


class DvcImport(models.Model):
    """A ``dvc import`` output: its data comes from another repository."""

    repo = models.ForeignKey(TrainingRepo, on_delete=models.CASCADE, related_name="imports")
    commit = models.CharField(max_length=40)
    source_path = models.CharField(max_length=1024, help_text="The .dvc file holding the import.")
    path = models.CharField(max_length=1024, help_text="Output path in this repository.")
    imported_path = models.CharField(max_length=1024, help_text="Path inside the source repository.")
    source_url = models.CharField(max_length=1000)
    rev = models.CharField(max_length=255, blank=True)
    rev_lock = models.CharField(max_length=64, blank=True)
    md5 = models.CharField(max_length=32, blank=True)

    class Meta:
        ordering = ["repo", "path", "commit"]
        constraints = [
            models.UniqueConstraint(fields=["repo", "commit", "source_path", "path"], name="dvcimport_unique")
        ]

    def __str__(self) -> str:
        return f"{self.path} ← {self.source_url}"


class DvcRemoteConfig(models.Model):
    """A remote named in ``.dvc/config`` at some commit."""

    repo = models.ForeignKey(TrainingRepo, on_delete=models.CASCADE, related_name="remotes")
    name = models.CharField(max_length=255)
    url = models.CharField(max_length=1000)
    is_default = models.BooleanField(default=False, help_text="core.remote on the default branch.")
    is_current = models.BooleanField(default=False, help_text="Configured on the default branch's head.")
    first_commit = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["repo", "name"]
        constraints = [models.UniqueConstraint(fields=["repo", "name", "url"], name="dvcremote_unique")]

    def __str__(self) -> str:
        return f"{self.name} = {self.url}"


class IndexingWarning(models.Model):
    repo = models.ForeignKey(TrainingRepo, on_delete=models.CASCADE, related_name="warnings")
    commit = models.CharField(max_length=40)
    path = models.CharField(max_length=1024)
    message = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["repo", "-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["repo", "commit", "path", "message"], name="indexing_warning_unique")
        ]

    def __str__(self) -> str:
        return f"{self.commit[:8]} {self.path}: {self.message}"
