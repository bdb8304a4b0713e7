from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.urls import reverse
from rest_framework import serializers

from catalog.models import Dataset
from storage.dvc.decode import ContainingDirectory, Decoded, DecodedReference
from storage.dvc.layout import object_key
from storage.models import DvcRemoteConfig, TrainingRepo


def redact_url(url: str) -> str:
    """Drop credentials a git or remote URL may embed (https://user:token@host/…)."""
    parts = urlsplit(url)
    if parts.scheme and "@" in parts.netloc:
        return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
    return url


class DatasetLinkSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = Dataset
        fields = ["slug", "name", "url"]

    def get_url(self, dataset: Dataset) -> str:
        return reverse("api-dataset-detail", kwargs={"slug": dataset.slug})


class RemoteSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = DvcRemoteConfig
        fields = ["name", "url", "is_default", "is_current"]

    def get_url(self, remote: DvcRemoteConfig) -> str:
        return redact_url(remote.url)


class TrainingRepoSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    datasets = DatasetLinkSerializer(many=True, source="visible_datasets")
    remotes = RemoteSerializer(many=True)
    warnings = serializers.IntegerField(source="warning_count")

    class Meta:
        model = TrainingRepo
        fields = [
            "id", "name", "url", "status", "last_error", "default_branch", "commits_indexed", "last_indexed_at",
            "datasets", "remotes", "warnings",
        ]  # fmt: skip

    def get_url(self, repo: TrainingRepo) -> str:
        return redact_url(repo.url)


class AuthorSerializer(serializers.Serializer):
    name = serializers.CharField(source="author_name")
    email = serializers.CharField(source="author_email")


class DecodedReferenceSerializer(serializers.Serializer):
    repo = serializers.SerializerMethodField()
    path = serializers.CharField()
    stage = serializers.CharField()
    source_path = serializers.CharField()
    commit = serializers.CharField()
    author = AuthorSerializer(source="*")
    authored_at = serializers.DateTimeField()
    size = serializers.IntegerField(allow_null=True)
    nfiles = serializers.IntegerField(allow_null=True)
    layout = serializers.CharField()
    cache = serializers.BooleanField()
    remote = serializers.CharField()
    live_refs = serializers.ListField(child=serializers.CharField())
    reachable = serializers.BooleanField()

    def get_repo(self, reference: DecodedReference) -> dict[str, Any]:
        return {"id": reference.repo_id, "name": reference.repo_name}


class ContainingDirectorySerializer(serializers.Serializer):
    md5 = serializers.CharField(source="directory.hash_text", help_text="The directory's hash, with '.dir'.")
    key = serializers.SerializerMethodField()
    relpath = serializers.CharField(help_text="The file's path inside the directory; empty without read access.")
    references = DecodedReferenceSerializer(many=True)

    def get_key(self, found: ContainingDirectory) -> str:
        return found.directory.key()


class DecodedSerializer(serializers.Serializer):
    md5 = serializers.CharField(source="object.md5")
    is_dir = serializers.BooleanField(source="object.is_dir")
    keys = serializers.ListField(child=serializers.CharField())
    classification = serializers.CharField()
    references = DecodedReferenceSerializer(many=True)
    datasets = DatasetLinkSerializer(many=True)
    files = serializers.SerializerMethodField()
    containing = ContainingDirectorySerializer(
        many=True, help_text="For a file inside directory outputs: the directories that list it, as scans read them.")
    notes = serializers.ListField(child=serializers.CharField())

    def get_files(self, decoded: Decoded) -> list[dict[str, str]] | None:
        if decoded.files is None or decoded.files_layout is None:
            return None
        layout = decoded.files_layout
        return [
            {"relpath": entry.relpath, "md5": entry.md5, "key": object_key(entry.md5, is_dir=False, layout=layout)}
            for entry in decoded.files
        ]
