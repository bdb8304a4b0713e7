"""What scanning a DVC remote keeps: the ``.dir`` manifests it read, per-shard totals by classification, and the
hash directories of a local remote as last listed."""

from django.db import models
from django.utils import timezone

from storage.models.connections import StorageConnection
from storage.models.repos import TrainingRepo
from storage.models.scans import ScanRun, ScanShard


class DvcDirManifest(models.Model):
    """A ``.dir`` object read from a remote. Objects are content-addressed, so one read lasts for good."""

    connection = models.ForeignKey(StorageConnection, on_delete=models.CASCADE, related_name="dvc_manifests")
    md5 = models.CharField(max_length=32, help_text="Without the '.dir' suffix.")
    layout = models.CharField(max_length=8, help_text="dvc3 (files/md5/…) or dvc2; the members use the same.")
    root = models.CharField(max_length=1024, help_text="The connection root it was read from.")
    error = models.CharField(max_length=500, blank=True, help_text="Why the object could not be read as a manifest.")
    read_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "md5", "layout"], name="dvc_manifest_unique")
        ]

    def __str__(self) -> str:
        return f"{self.md5}.dir ({self.layout})"


class DvcDirMember(models.Model):
    # No foreign key constraint (nor on DvcKeptTotals.folder): checked per row, it locks the parent row, and tens of
    # thousands of those cost a fifth of a first scan. Both kinds of row are written only with their parent's id just
    # returned, in the transaction that inserted it, and the ORM deletes them with it (on_delete).
    manifest = models.ForeignKey(DvcDirManifest, on_delete=models.CASCADE, related_name="members",
                                 db_constraint=False)
    md5 = models.CharField(max_length=32)
    relpath = models.CharField(max_length=1024)

    class Meta:
        indexes = [models.Index(fields=["md5"], name="dvc_member_md5_idx")]

    def __str__(self) -> str:
        return f"{self.relpath} = {self.md5}"


class DvcScanAggregate(models.Model):
    """Running totals of one shard for one (classification, repository, output path, storage owner).

    Written in the same transaction as the shard's checkpoint, like ScanAggregate.
    """

    shard = models.ForeignKey(ScanShard, on_delete=models.CASCADE, related_name="dvc_aggregates")
    key = models.CharField(max_length=1400)
    object_class = models.CharField(max_length=16)
    repo = models.ForeignKey(TrainingRepo, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    path = models.CharField(max_length=1024, blank=True, help_text="Output path in the repository.")
    owner = models.CharField(max_length=200, blank=True, help_text="Storage owner (unreferenced objects).")
    object_count = models.BigIntegerField(default=0)
    byte_count = models.BigIntegerField(default=0)
    oldest = models.DateTimeField(null=True, blank=True)
    newest = models.DateTimeField(null=True, blank=True)
    last_commit = models.CharField(max_length=40, blank=True)
    last_author = models.CharField(max_length=255, blank=True)
    last_authored_at = models.DateTimeField(null=True, blank=True)
    sample_keys = models.JSONField(default=list)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shard", "key"], name="dvc_aggregate_unique_key")]

    def __str__(self) -> str:
        return self.key


class DvcRemoteFolder(models.Model):
    """A hash directory of a local DVC remote as the scan that last listed it found it: what a later scan needs to
    count it again without listing it (see storage.dvc.folder_reuse)."""

    connection = models.ForeignKey(StorageConnection, on_delete=models.CASCADE, related_name="dvc_folders")
    root = models.CharField(max_length=1024, help_text="The connection root it lies under.")
    directory = models.CharField(max_length=64, help_text="'ab/' or 'files/md5/ab/', relative to the root.")
    signature = models.TextField(help_text="Device, inode, mtime and ctime of it and of each directory above it.")
    settled = models.BooleanField(help_text="Its timestamps were older than the reuse margin when it was looked at.")
    names = models.CharField(max_length=32, help_text="Digest of its entries' names, read again while unsettled.")
    token = models.CharField(max_length=32, help_text="The remote's history token its objects were classified by.")
    history = models.CharField(max_length=32, blank=True,
                               help_text="Fingerprint of its head's part of that history, if it was read.")
    run = models.ForeignKey(ScanRun, on_delete=models.CASCADE, related_name="+", help_text="The run that listed it.")
    listed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "root", "directory"], name="dvc_folder_unique")
        ]

    def __str__(self) -> str:
        return f"{self.root}/{self.directory}"


class DvcKeptTotals(models.Model):
    """What the listing of a kept hash directory counted for one totals key (a DvcScanAggregate's key): a scan
    that reuses the directory adds these up in the database rather than in Python (see dvc.kept_totals)."""

    folder = models.ForeignKey(DvcRemoteFolder, on_delete=models.CASCADE, related_name="totals",
                               db_constraint=False)  # see DvcDirMember.manifest
    object_class = models.CharField(max_length=16)
    repo_id = models.BigIntegerField(null=True, blank=True, help_text="A removed repository changes the history "
                                                                      "token, so no foreign key is needed.")
    path = models.CharField(max_length=1024, blank=True)
    owner = models.CharField(max_length=200, blank=True)
    object_count = models.BigIntegerField()
    byte_count = models.BigIntegerField()
    oldest = models.FloatField(null=True, blank=True, help_text="POSIX time, as the listing reported it.")
    newest = models.FloatField(null=True, blank=True)
    last_reference_id = models.BigIntegerField(null=True, blank=True, help_text="The latest evidence's reference.")
    last_authored_at = models.DateTimeField(null=True, blank=True)
    samples = models.TextField(blank=True, help_text="The first sample keys' names in the directory, '/'-separated.")

    def __str__(self) -> str:
        return f"{self.folder}: {self.object_class} {self.object_count}"


class DvcKeptRun(models.Model):
    """The kept totals of a run of consecutive hash directories, added up. The sum is a function of the kept rows
    alone (a directory listed again gets a new row), so a scan of an unchanged remote reads it back instead of
    adding up every directory again; one per run start, replaced when the run changes."""

    connection = models.ForeignKey(StorageConnection, on_delete=models.CASCADE, related_name="+")
    root = models.CharField(max_length=1024)
    first_directory = models.CharField(max_length=64)
    folders = models.CharField(max_length=32, help_text="Digest of the run's DvcRemoteFolder ids, in order.")
    totals = models.JSONField(help_text="A row per totals key, the directories' totals added up (dvc.kept_totals).")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "root", "first_directory"], name="dvc_kept_run_unique")
        ]

    def __str__(self) -> str:
        return f"{self.root}/{self.first_directory}…"
