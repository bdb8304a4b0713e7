"""The remote half of ``make bench-dvc``: classify a DVC remote of BENCH_DVC_REMOTE_OBJECTS objects.

Built from the indexed bench repository: every referenced ``.dir`` gets a manifest and three member files,
every referenced file output an object (DVC 3 layout), and the rest of the remote is unreferenced objects in
both layouts, run-cache entries and ``.tmp`` leftovers. Measured in the same run: the raw listing (a scandir
walk with one stat per file, as bench-scan's floor) and Kura's scan of the remote as a DVC remote (planning with
the ``.dir`` reads, listing, classification, checkpoints and findings). Target: at most 1.5x the raw listing.
"""

import cProfile
import hashlib
import json
import os
import pstats
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REMOTE_OBJECTS = int(os.environ.get("BENCH_DVC_REMOTE_OBJECTS", "50000"))
WORKERS = int(os.environ.get("BENCH_DVC_WORKERS", "4"))
STORES = os.environ.get("BENCH_DVC_STORES", "s3,local").split(",")  # e.g. "local" while profiling


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - content addresses, as DVC uses them


def _put(root: Path, key: str, data: bytes, made: set[Path]) -> None:
    target = root / key
    if target.parent not in made:
        target.parent.mkdir(parents=True, exist_ok=True)
        made.add(target.parent)
    target.write_bytes(data)


def build_remote(root: Path, repo_id: int) -> dict[str, int]:
    from storage.models import DvcReference

    made: set[Path] = set()
    written = 0
    references = DvcReference.objects.filter(repo_id=repo_id).values_list("md5", "is_dir").distinct()
    for md5, is_dir in references.iterator():
        if written >= REMOTE_OBJECTS * 0.7:
            break
        prefix = f"files/md5/{md5[:2]}/{md5[2:]}"
        if is_dir:
            members = [_md5(f"{md5}/{index}") for index in range(3)]
            manifest = [{"md5": member, "relpath": f"part-{index}.bin"} for index, member in enumerate(members)]
            _put(root, prefix + ".dir", json.dumps(manifest).encode(), made)
            for member in members:
                _put(root, f"files/md5/{member[:2]}/{member[2:]}", b"m" * 64, made)
            written += 4
        else:
            _put(root, prefix, b"f" * 128, made)
            written += 1
    referenced = written
    index = 0
    while written < REMOTE_OBJECTS:
        md5 = _md5(f"unreferenced-{index}")
        if index % 50 == 0:
            _put(root, f"runs/{md5[:2]}/{md5[2:]}/0/0", b"r", made)
        elif index % 97 == 0:
            _put(root, f"files/md5/{md5[:2]}/{md5[2:8]}.tmp", b"t", made)
        elif index % 3 == 0:
            _put(root, f"{md5[:2]}/{md5[2:]}", b"u" * 32, made)  # DVC 2 layout
        else:
            _put(root, f"files/md5/{md5[:2]}/{md5[2:]}", b"u" * 32, made)
        written += 1
        index += 1
    return {"objects": written, "referenced": referenced}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def measure(scratch: Path, repo: Any) -> dict[str, dict[str, float]]:
    from bench.scan_worker import raw_local

    remote = scratch / "remote"
    started = time.perf_counter()
    built = build_remote(remote, repo.pk)
    built_at = time.time()
    print(f"built a remote of {built['objects']} objects ({built['referenced']} from the index) "
          f"in {time.perf_counter() - started:.1f}s")
    figures = {}
    if "s3" in STORES:
        figures["s3"] = _measure_s3(scratch, repo, remote)
    if "local" in STORES:
        raw = min(raw_local(str(remote))["seconds"] for _ in range(3))  # warm cache, best of three
        _wait_until_settled(built_at)
        figures["local"] = {"raw": raw, **_scans(scratch, repo, kind="local", root=str(remote))}
    return figures


def _wait_until_settled(written_at: float) -> None:
    """Scan the local remote once its last writes are older than KURA_SCAN_DVC_REUSE_MARGIN_SECONDS, as a remote
    between pushes is: a scan lists again, at its next scan, the hash directories written within that margin of its
    look at them (their timestamps may not show a change made just after), so a first scan done sooner would make
    the "again" figures those of a remote just pushed to, not of an unchanged one."""
    from django.conf import settings

    time.sleep(max(0.0, written_at + settings.KURA_SCAN_DVC_REUSE_MARGIN_SECONDS + 0.1 - time.time()))


def _measure_s3(scratch: Path, repo: Any, remote: Path) -> dict[str, float]:
    from bench.scan_worker import raw_s3

    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}
    store = subprocess.Popen([sys.executable, "-m", "bench.dvc_remote_store", str(port), "bench-dvc", str(remote)],
                             env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert store.stdout is not None and store.stdout.readline().strip() == "ready"
        os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench")
        raw = raw_s3(endpoint, "bench-dvc")["seconds"]
        return {"raw": raw, **_scans(scratch, repo, kind="s3", root="bench-dvc", endpoint=endpoint)}
    finally:
        store.terminate()
        store.wait(timeout=30)


def _parallel_scan(run: Any, workers: int) -> Any:
    """What several Celery workers do: plan once, then take shards side by side (one DB connection each)."""
    from django.db import connections

    from storage.scanning import scan_complete_if_done, scan_plan, shard_process

    def work(shard_id: int) -> None:
        try:
            shard_process(shard_id=shard_id)
        finally:
            connections.close_all()

    shard_ids = scan_plan(run=run)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(work, shard_ids))
    return scan_complete_if_done(run_id=run.pk)


def _scans(scratch: Path, repo: Any, *, kind: str, root: str, endpoint: str = "") -> dict[str, float]:
    from django.test.utils import override_settings

    from storage.models import DvcScanAggregate, ScanRun
    from storage.scanning import scan_request, scan_run_inline
    from storage.services import connection_create, connection_set_dvc_repos

    timings: dict[str, float] = {}
    with override_settings(KURA_LOCAL_ROOTS=[str(scratch)], KURA_STORAGE_ALLOW_PRIVATE_ENDPOINTS=["127.0.0.1/32"]):
        connection = connection_create(actor=None, name=f"bench-remote-{kind}", kind=kind, roots=[root],
                                       endpoint_url=endpoint, region="us-east-1" if endpoint else "",
                                       addressing_style="path" if endpoint else "auto", is_dvc_remote=True)
        connection_set_dvc_repos(connection=connection, repos=[repo], actor=None)
        # The first scan also reads every .dir manifest; later ones reuse them.
        for label in ("first", "again", f"again, {WORKERS} workers"):
            profiler = cProfile.Profile() if os.environ.get("BENCH_PROFILE") else None
            started = time.perf_counter()
            if profiler is not None:
                profiler.enable()
            run = scan_request(connection=connection, trigger="cli")
            run = _parallel_scan(run, WORKERS) if "workers" in label else scan_run_inline(run=run)
            timings[label] = time.perf_counter() - started
            if profiler is not None:
                profiler.disable()
                print(f"--- profile of the scan ({label})")
                pstats.Stats(profiler).sort_stats(os.environ["BENCH_PROFILE"]).print_stats(25)
            run.refresh_from_db()
            assert run.status == ScanRun.Status.SUCCEEDED, run.errors
    totals: dict[str, int] = {}
    for row in DvcScanAggregate.objects.filter(shard__run=run):
        totals[row.object_class] = totals.get(row.object_class, 0) + row.object_count
    print(f"{kind}: classified " + ", ".join(f"{name} {count}" for name, count in sorted(totals.items())))
    return timings


def report(figures: dict[str, dict[str, float]]) -> None:
    for store, numbers in figures.items():
        raw = numbers.pop("raw")
        print(f"{store}: raw listing of the remote: {raw:.2f}s")
        for label, seconds in numbers.items():
            print(f"{store}: Kura scan + classification ({label}): {seconds:.2f}s = {seconds / raw:.2f}x raw "
                  f"[{'PASS' if seconds <= 1.5 * raw else 'MISS'} ≤ 1.5x]")
