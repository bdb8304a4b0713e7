"""S3 Inventory reports as scan input, for buckets too large to list.

Reads ``manifest.json`` and its gzip CSV data files (streamed, never loaded whole) from the configured
location with the connection's own endpoint and credentials. Each data file is one shard; the
checkpoint is the number of rows already counted. Parquet and ORC reports are refused with a clear
message: reading them needs pyarrow, which Kura does not ship.
"""

import csv
import gzip
import io
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import unquote_plus

from botocore.exceptions import ClientError

from storage.listers.base import ListedObject, ListingError, RetryHook, ShardSpec
from storage.listers.s3 import S3Lister, describe_client_error, split_root
from storage.models import StorageConnection

REQUIRED_COLUMNS = ("Bucket", "Key", "Size")


def _parse_time(raw: str) -> float | None:
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp() if raw else None
    except ValueError:
        return None


class InventoryLister(S3Lister):
    def __init__(self, connection: StorageConnection, *, on_retry: RetryHook | None = None) -> None:
        super().__init__(connection, on_retry=on_retry)
        bucket, _, key = connection.inventory_manifest.removeprefix("s3://").partition("/")
        self.manifest_bucket, self.manifest_key = bucket, key
        self._manifest: dict[str, Any] | None = None

    def _get(self, key: str) -> Any:
        try:
            return self.client.get_object(Bucket=self.manifest_bucket, Key=key)["Body"]
        except ClientError as error:
            raise describe_client_error(error, f"s3://{self.manifest_bucket}/{key}") from error

    def manifest(self) -> dict[str, Any]:
        if self._manifest is None:
            try:
                manifest = json.loads(self._get(self.manifest_key).read())
            except ValueError as error:
                raise ListingError("The inventory manifest is not valid JSON.", code="inventory_invalid",
                                   permanent=True) from error
            if str(manifest.get("fileFormat", "")).upper() != "CSV":
                raise ListingError(
                    f"The inventory report is {manifest.get('fileFormat')!r}; Kura reads CSV inventory reports "
                    "(Parquet/ORC need pyarrow, which is not installed).", code="inventory_format", permanent=True)
            columns = [column.strip() for column in str(manifest.get("fileSchema", "")).split(",")]
            if any(column not in columns for column in REQUIRED_COLUMNS):
                raise ListingError("The inventory schema lacks Bucket, Key or Size.", code="inventory_invalid",
                                   permanent=True)
            manifest["columns"] = columns
            self._manifest = manifest
        return self._manifest

    def shards(self, root: str) -> list[ShardSpec]:
        bucket, _ = split_root(root)
        manifest = self.manifest()
        if manifest.get("sourceBucket") not in (None, bucket):
            raise ListingError(f"The inventory report describes bucket '{manifest.get('sourceBucket')}', not "
                               f"'{bucket}'.", code="inventory_invalid", permanent=True)
        return [ShardSpec(str(entry["key"])) for entry in manifest.get("files", [])]

    def iter_objects(self, root: str, shard: ShardSpec, start_after: str) -> Iterator[ListedObject]:
        bucket, prefix = split_root(root)
        columns = self.manifest()["columns"]
        index = {name: columns.index(name) for name in columns}
        done = int(start_after) if start_after else 0
        body = self._get(shard.prefix)
        with gzip.GzipFile(fileobj=body) as unzipped:
            rows = csv.reader(io.TextIOWrapper(unzipped, encoding="utf-8", newline=""))
            for number, row in enumerate(rows, start=1):
                if number <= done:
                    continue
                yield from self._object(row, index, bucket, prefix, number)

    def _object(self, row: list[str], index: dict[str, int], bucket: str, prefix: str,
                number: int) -> Iterator[ListedObject]:
        position = f"{number:012d}"
        value = lambda name: row[index[name]] if name in index and index[name] < len(row) else ""  # noqa: E731
        key = unquote_plus(value("Key"))
        skipped = (value("Bucket") != bucket or not key.startswith(prefix) or key.endswith("/")
                   or value("IsLatest").lower() == "false" or value("IsDeleteMarker").lower() == "true")
        if skipped:
            # Still moves the checkpoint on, as an object of no size that belongs nowhere.
            yield ListedObject("", 0, None, position=position)
            return
        yield ListedObject(key[len(prefix):], int(value("Size") or 0), _parse_time(value("LastModifiedDate")),
                           value("ObjectOwner"), position=position)
