"""Storage URIs a location may point at, validated before anything is written.

Accepted forms: ``s3://bucket/prefix/``, ``gs://bucket/prefix/``, ``az://container/path/``,
``file:///absolute/path`` and ``dvc://<repository>#<path inside it>``.
"""

import re
from dataclasses import dataclass
from urllib.parse import unquote

from django.core.exceptions import ValidationError

MAX_URI_LENGTH = 1024
SCHEMES = ("s3", "gs", "az", "file", "dvc")

_S3_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_GCS_BUCKET = re.compile(r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$")
_AZ_CONTAINER = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$")
_DVC_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class StorageUri:
    scheme: str
    container: str  # bucket, container, repository; "" for file://
    path: str  # key prefix, absolute path, or path inside the repository

    def __str__(self) -> str:
        if self.scheme == "file":
            return f"file://{self.path}"
        if self.scheme == "dvc":
            return f"dvc://{self.container}#{self.path}"
        return f"{self.scheme}://{self.container}/{self.path}"


def _reject_traversal(path: str, uri: str) -> None:
    if any(segment == ".." for segment in path.split("/")):
        raise ValidationError(f"'{uri}' contains a '..' segment; give the real path.", code="invalid_uri")


def parse_storage_uri(raw: str) -> StorageUri:
    uri = raw.strip()
    if not uri:
        raise ValidationError("A storage URI is required.", code="invalid_uri")
    if len(uri) > MAX_URI_LENGTH:
        raise ValidationError(f"A storage URI may be at most {MAX_URI_LENGTH} characters.", code="invalid_uri")
    if _CONTROL.search(uri):
        raise ValidationError("A storage URI may not contain control characters.", code="invalid_uri")
    scheme, sep, rest = uri.partition("://")
    if not sep or scheme.lower() not in SCHEMES:
        raise ValidationError(
            f"'{uri}' is not a supported storage URI; use one of "
            "s3://bucket/prefix/, gs://bucket/prefix/, az://container/path/, file:///path, dvc://repo#path.",
            code="invalid_uri",
        )
    scheme = scheme.lower()
    if scheme == "file":
        if not rest.startswith("/"):
            raise ValidationError(
                f"'{uri}' must be an absolute path: file:///mnt/share/dataset (three slashes).", code="invalid_uri"
            )
        path = unquote(rest)
        _reject_traversal(path, uri)
        return StorageUri("file", "", path)
    if scheme == "dvc":
        repo, hash_sep, path = rest.partition("#")
        if not hash_sep or not path.strip("/"):
            raise ValidationError(
                f"'{uri}' must name the output inside the repository: dvc://<repository>#<path>.",
                code="invalid_uri",
            )
        if not _DVC_REPO.fullmatch(repo):
            raise ValidationError(f"'{repo}' is not a valid repository name in '{uri}'.", code="invalid_uri")
        if path.startswith("/"):
            raise ValidationError(f"The path in '{uri}' must be relative to the repository root.", code="invalid_uri")
        _reject_traversal(path, uri)
        return StorageUri("dvc", repo, path)
    container, _, path = rest.partition("/")
    pattern = {"s3": _S3_BUCKET, "gs": _GCS_BUCKET, "az": _AZ_CONTAINER}[scheme]
    kind = "container" if scheme == "az" else "bucket"
    if not pattern.fullmatch(container) or ".." in container:
        raise ValidationError(
            f"'{container}' is not a valid {scheme} {kind} name in '{uri}' (lowercase letters, digits, '-', "
            "3 to 63 characters).",
            code="invalid_uri",
        )
    _reject_traversal(path, uri)
    return StorageUri(scheme, container, path)


def validate_storage_uri(value: str) -> None:
    parse_storage_uri(value)
