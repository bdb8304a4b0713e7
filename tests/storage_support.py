"""Shared fixtures for the storage tests: a real moto S3 server over HTTP, a fault-injecting proxy in front
of it, and helpers that create connections and run scans through the real services."""

import csv
import gzip
import http.client
import http.server
import io
import json
import socket
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote_plus

import boto3
import pytest
from moto.server import ThreadedMotoServer

from storage.dvc.decode import ObjectClass
from storage.dvc.remote_scan import RemoteClassifier, classify_listing, dvc_shard_specs, manifests_refresh
from storage.listers import lister_for
from storage.models import DvcScanAggregate, ScanRun, StorageConnection
from storage.scanning import scan_request, scan_run_inline
from storage.services import connection_create

ACCESS_KEY = "kura-test-key"
SECRET_KEY = "kura-test-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def s3_client(endpoint: str):
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=ACCESS_KEY,
                        aws_secret_access_key=SECRET_KEY)


@pytest.fixture
def bucket(moto_endpoint) -> str:
    """A fresh, empty bucket per test."""
    name = f"kura-{uuid.uuid4().hex[:12]}"
    s3_client(moto_endpoint).create_bucket(Bucket=name)
    return name


def put_objects(endpoint: str, bucket: str, keys: list[str], body: bytes = b"x" * 10) -> None:
    client = s3_client(endpoint)
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda key: client.put_object(Bucket=bucket, Key=key, Body=body), keys))


@pytest.fixture
def storage_settings(settings, tmp_path, monkeypatch):
    settings.KURA_STORAGE_ALLOW_PRIVATE_ENDPOINTS = ["127.0.0.1/32"]
    settings.KURA_LOCAL_ROOTS = [str(tmp_path / "mnt")]
    settings.KURA_S3_MAX_ATTEMPTS = 4
    (tmp_path / "mnt").mkdir()
    monkeypatch.setenv("KURA_TEST_S3_KEY", ACCESS_KEY)
    monkeypatch.setenv("KURA_TEST_S3_SECRET", SECRET_KEY)
    return settings


@pytest.fixture
def no_default_credentials(monkeypatch, tmp_path):
    """Workers with no AWS variables, profile or instance role (the metadata service is never asked here)."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_DEFAULT_PROFILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                 "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def make_s3_connection(endpoint: str, roots: list[str], name: str | None = None, **kwargs) -> StorageConnection:
    return connection_create(
        actor=None, name=name or f"s3-{uuid.uuid4().hex[:8]}", kind=StorageConnection.Kind.S3, roots=roots,
        endpoint_url=endpoint, region="us-east-1", addressing_style="path",
        access_key_env=kwargs.pop("access_key_env", "KURA_TEST_S3_KEY"),
        secret_key_env=kwargs.pop("secret_key_env", "KURA_TEST_S3_SECRET"), **kwargs,
    )


def make_local_connection(roots: list[str], name: str | None = None, **kwargs) -> StorageConnection:
    return connection_create(actor=None, name=name or f"local-{uuid.uuid4().hex[:8]}",
                             kind=StorageConnection.Kind.LOCAL, roots=roots, **kwargs)


def write_parts(directory: Path, count: int, size: int = 100) -> None:
    """Create ``directory`` (and parents) holding ``count`` files of ``size`` bytes each."""
    directory.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        (directory / f"part-{index:03d}.bin").write_bytes(b"k" * size)


def scan(connection: StorageConnection) -> ScanRun:
    run = scan_run_inline(run=scan_request(connection=connection, trigger="cli"))
    run.refresh_from_db()
    return run


@dataclass
class FaultProxy:
    """An HTTP proxy in front of moto that answers 503 SlowDown to the first ``throttle`` requests and
    403 AccessDenied to requests signed with ``deny_key``."""

    upstream_port: int
    throttle: int = 0
    deny_key: str = ""
    requests: int = 0
    throttled: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _handler(proxy: FaultProxy) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:
            pass

        def _error(self, status: int, code: str, message: str) -> None:
            body = (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message>{message}'
                    "</Message><RequestId>kura-proxy</RequestId></Error>").encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            with proxy.lock:
                proxy.requests += 1
                throttle = proxy.throttled < proxy.throttle
                if throttle:
                    proxy.throttled += 1
            if proxy.deny_key and f"Credential={proxy.deny_key}/" in self.headers.get("Authorization", ""):
                return self._error(403, "AccessDenied", "Access Denied")
            if throttle:
                return self._error(503, "SlowDown", "Please reduce your request rate.")
            upstream = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=30)
            headers = {key: value for key, value in self.headers.items() if key.lower() != "connection"}
            upstream.request(self.command, self.path, body=body, headers=headers)
            response = upstream.getresponse()
            data = response.read()
            self.send_response(response.status)
            for key, value in response.getheaders():
                if key.lower() not in {"transfer-encoding", "connection", "content-length"}:
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            upstream.close()

        do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _forward

    return Handler


@pytest.fixture
def fault_proxy(moto_endpoint) -> Iterator[tuple[str, FaultProxy]]:
    proxy = FaultProxy(upstream_port=int(moto_endpoint.rsplit(":", 1)[1]))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(proxy))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", proxy
    server.shutdown()
    server.server_close()


# --- S3 Inventory reports (manifest.json + gzip CSV) in the real format ---

SCHEMA = "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, ETag, StorageClass"


def _csv_gz(rows: list[list[str]]) -> bytes:
    text = io.StringIO()
    csv.writer(text, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(rows)
    return gzip.compress(text.getvalue().encode())


def inventory_row(bucket: str, key: str, size: int, *, latest: str = "true", deleted: str = "false") -> list[str]:
    return [bucket, quote_plus(key), "", latest, deleted, str(size), "2026-03-01T10:00:00.000Z", "etag", "STANDARD"]


def publish_inventory(
    endpoint: str, source: str, destination: str, files: list[list[list[str]]], fmt: str = "CSV"
) -> str:
    client = s3_client(endpoint)
    client.create_bucket(Bucket=destination)
    base = f"inventory/{source}/daily/2026-11-23T00-00Z"
    entries = []
    for number, rows in enumerate(files):
        key = f"inventory/{source}/daily/data/{number:04d}.csv.gz"
        body = _csv_gz(rows)
        client.put_object(Bucket=destination, Key=key, Body=body)
        entries.append({"key": key, "size": len(body), "MD5checksum": "0" * 32})
    manifest = {"sourceBucket": source, "destinationBucket": f"arn:aws:s3:::{destination}", "version": "2016-11-30",
                "creationTimestamp": "1763856000000", "fileFormat": fmt, "fileSchema": SCHEMA, "files": entries}
    client.put_object(Bucket=destination, Key=f"{base}/manifest.json", Body=json.dumps(manifest).encode())
    return f"s3://{destination}/{base}/manifest.json"


def dvc_classes_by_key(connection: StorageConnection) -> dict[str, ObjectClass]:
    """Every object of a DVC remote with the class a scan gives it, listed shard by shard as a scan lists."""
    manifests_refresh(connection)  # as a scan does before listing
    lister, classifier = lister_for(connection), RemoteClassifier(connection)
    found: dict[str, ObjectClass] = {}
    for root in connection.roots:
        for spec in dvc_shard_specs(connection, lister, root):
            for item, verdict in classify_listing(classifier, lister.iter_objects(root, spec, "")):
                assert item.key not in found, f"{item.key} listed by two shards"
                found[item.key] = verdict.object_class
    return found


def scanned_totals(run: ScanRun) -> dict[str, tuple[int, int]]:
    """A DVC remote scan's (objects, bytes) by class, as its aggregates hold them."""
    totals: dict[str, tuple[int, int]] = {}
    for row in DvcScanAggregate.objects.filter(shard__run=run):
        count, size = totals.get(row.object_class, (0, 0))
        totals[row.object_class] = (count + row.object_count, size + row.byte_count)
    return totals
