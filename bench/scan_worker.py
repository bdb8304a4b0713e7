"""One measured listing or scan, in a fresh process so its peak memory is its own. Prints one JSON line.

    python -m bench.scan_worker raw-s3 <endpoint> <bucket>
    python -m bench.scan_worker raw-local <directory>
    python -m bench.scan_worker kura-s3 <endpoint> <bucket>
    python -m bench.scan_worker kura-local <directory>
"""

import json
import os
import resource
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

from bench.scan_layout import REGISTERED


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def raw_s3(endpoint: str, bucket: str) -> dict[str, Any]:
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    started = time.perf_counter()
    objects = size = 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, PaginationConfig={"PageSize": 1000}):
        for item in page.get("Contents", []):
            objects += 1
            size += item["Size"]
    return {"seconds": time.perf_counter() - started, "objects": objects, "bytes": size}


def _walk(path: str) -> Iterator[os.DirEntry[str]]:
    with os.scandir(path) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                yield from _walk(entry.path)
            elif entry.is_file(follow_symlinks=False):
                yield entry


def raw_local(directory: str) -> dict[str, Any]:
    started = time.perf_counter()
    objects = size = 0
    for entry in _walk(directory):  # size and mtime, as an S3 listing gives them
        stat = entry.stat(follow_symlinks=False)
        objects += 1
        size += stat.st_size
    return {"seconds": time.perf_counter() - started, "objects": objects, "bytes": size}


def kura(kind: str, root: str, endpoint: str = "") -> dict[str, Any]:
    import django

    os.environ["DJANGO_SETTINGS_MODULE"] = "kura.settings.base"
    django.setup()
    from access.models import Person
    from access.services import org_unit_create, person_create
    from catalog.models import Dataset
    from catalog.services import LocationSpec, dataset_create
    from storage.models import Finding
    from storage.scanning import scan_request, scan_run_inline
    from storage.services import connection_create

    person = Person.objects.filter(user__username="bench-scan").first() or person_create(
        username="bench-scan", external_id="BENCH-SCAN", display_name="Bench Scan", email="bench@example.com",
        primary_unit=org_unit_create(name="Bench"), password=uuid.uuid4().hex)
    base = f"s3://{root}/" if kind == "s3" else f"file://{root}/"
    for prefix in REGISTERED:
        slug = f"bench-{uuid.uuid5(uuid.NAMESPACE_URL, base + prefix).hex[:12]}"
        if not Dataset.objects.filter(slug=slug).exists():
            assert person.primary_unit is not None
            dataset_create(actor=person, slug=slug, name=slug, purpose="Benchmark data, registered on purpose.",
                           owner=person, owning_unit=person.primary_unit, locations=[LocationSpec(base + prefix)])
    connection = connection_create(
        actor=person, name=f"bench-{uuid.uuid4().hex[:8]}", kind=kind, roots=[root], endpoint_url=endpoint,
        region="us-east-1" if kind == "s3" else "", addressing_style="path" if kind == "s3" else "auto",
        access_key_env="AWS_ACCESS_KEY_ID" if kind == "s3" else "",
        secret_key_env="AWS_SECRET_ACCESS_KEY" if kind == "s3" else "",
    )
    started = time.perf_counter()
    run = scan_run_inline(run=scan_request(connection=connection, trigger="cli"))
    seconds = time.perf_counter() - started
    objects = sum(run.shards.values_list("objects_seen", flat=True))
    return {"seconds": seconds, "objects": objects, "status": run.status,
            "findings": Finding.objects.filter(connection=connection).count()}


def main() -> None:
    mode, *args = sys.argv[1:]
    if mode == "raw-s3":
        result = raw_s3(*args)
    elif mode == "raw-local":
        result = raw_local(*args)
    elif mode == "kura-s3":
        result = kura("s3", args[1], args[0])
    else:
        result = kura("local", args[0])
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
