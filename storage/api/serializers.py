from typing import Any

from rest_framework import serializers

from storage.models import Finding, ScanRun, StorageConnection, TrainingRepo
from storage.selectors import connection_last_run, run_progress


class ConnectionSerializer(serializers.ModelSerializer):
    """Never carries a secret: only how the connection signs in (environment, secrets file, default chain)."""

    credentials_source = serializers.CharField(read_only=True)
    dvc_repos = serializers.SlugRelatedField[TrainingRepo](many=True, read_only=True, slug_field="name")
    last_run = serializers.SerializerMethodField()

    class Meta:
        model = StorageConnection
        fields = ["id", "name", "kind", "endpoint_url", "region", "addressing_style", "roots", "inventory_manifest",
                  "schedule_minutes", "is_dvc_remote", "dvc_repos", "enabled", "credentials_source", "created_at",
                  "last_run"]

    def get_last_run(self, connection: StorageConnection) -> dict[str, Any] | None:
        return connection_last_run(connection)


class ConnectionCreateSerializer(serializers.Serializer):
    name = serializers.SlugField(max_length=100)
    kind = serializers.ChoiceField(choices=StorageConnection.Kind.choices)
    roots = serializers.ListField(child=serializers.CharField(max_length=1024), min_length=1, max_length=100)
    endpoint_url = serializers.CharField(required=False, default="", allow_blank=True)
    region = serializers.CharField(required=False, default="", allow_blank=True)
    addressing_style = serializers.ChoiceField(choices=StorageConnection.Addressing.choices, required=False,
                                               default=StorageConnection.Addressing.AUTO)
    access_key_env = serializers.CharField(required=False, default="", allow_blank=True,
                                           help_text="Name of the environment variable, never the key itself.")
    secret_key_env = serializers.CharField(required=False, default="", allow_blank=True)
    session_token_env = serializers.CharField(required=False, default="", allow_blank=True)
    secrets_file = serializers.CharField(required=False, default="", allow_blank=True)
    secrets_file_key = serializers.CharField(required=False, default="", allow_blank=True)
    inventory_manifest = serializers.CharField(required=False, default="", allow_blank=True)
    schedule_minutes = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=5)
    is_dvc_remote = serializers.BooleanField(required=False, default=False)
    dvc_repos = serializers.SlugRelatedField(
        many=True, required=False, slug_field="name", queryset=TrainingRepo.objects.all(),
        help_text="Names of the training repositories that push to this DVC remote.",
    )


class ScanRunSerializer(serializers.ModelSerializer):
    connection = serializers.CharField(source="connection.name")
    progress = serializers.SerializerMethodField()
    retrying = serializers.SerializerMethodField()

    class Meta:
        model = ScanRun
        fields = ["id", "connection", "status", "source", "trigger", "created_at", "started_at", "finished_at",
                  "expected_objects", "progress", "retrying", "errors"]

    def get_retrying(self, run: ScanRun) -> dict[str, Any] | None:
        """Why the scan is waiting to retry (an unreachable endpoint, throttling), or null."""
        if not run.retry_message or run.is_finished:
            return None
        return {"message": run.retry_message, "attempt": run.retry_attempt, "attempts": run.retry_attempts,
                "at": run.retry_at}

    def get_progress(self, run: ScanRun) -> dict[str, Any]:
        # A list passes the progress of its whole page (one query); a single run reads its own.
        progress = self.context.get("progress", {}).get(run.pk) or run_progress(run)
        return {"objects": progress.objects, "bytes": progress.bytes, "shards": progress.shards_total,
                "shards_done": progress.shards_done, "shards_failed": progress.shards_failed,
                "objects_per_second": progress.rate_per_second, "eta_seconds": progress.eta_seconds,
                # A DVC remote's scan first reads the .dir manifests its history names (null for other scans).
                "manifests_wanted": run.manifests_wanted, "manifests_done": run.manifests_done,
                "manifests_found": run.manifests_found, "manifests_unusable": run.manifests_unusable,
                "manifests_error": run.manifests_error}


class FindingSerializer(serializers.ModelSerializer):
    connection = serializers.CharField(source="connection.name")
    assignee = serializers.StringRelatedField[Any]()
    claimed_by = serializers.StringRelatedField[Any]()
    dataset = serializers.SlugRelatedField[Any](slug_field="slug", read_only=True)

    class Meta:
        model = Finding
        fields = ["id", "connection", "kind", "uri", "status", "object_count", "total_bytes", "oldest_modified",
                  "newest_modified", "sample_keys", "storage_owner", "hints", "message", "dataset", "assignee",
                  "claimed_by", "dismissal_reason", "resolution", "first_seen_at", "last_seen_at", "closed_at"]


class ClaimSerializer(serializers.Serializer):
    name = serializers.CharField(required=False, default="", allow_blank=True, max_length=200)
    purpose = serializers.CharField(required=False, default="", allow_blank=True)
    unit = serializers.UUIDField(required=False, allow_null=True, default=None,
                                 help_text="Owning org unit; defaults to the claimer's unit.")


class AssignSerializer(serializers.Serializer):
    person = serializers.CharField(help_text="Username or external id of the assignee.")
    note = serializers.CharField(required=False, default="", allow_blank=True)


class DismissSerializer(serializers.Serializer):
    reason = serializers.CharField()
