"""``make bench-scan``: 200,000 objects in a moto S3 server and 200,000 files on disk, each listed raw and
scanned by Kura (findings written to PostgreSQL) in the same run.

Targets (issue 4): scan time <= 1.5x the raw listing; the scan's peak memory at 200,000 objects <= 1.3x its
peak at 20,000. Each measurement runs in its own process, so its peak RSS is its own; the raw local walk
stats every file, as an S3 listing reports size and date. Writes bench/results/scan.json. Knobs:
BENCH_SCAN_OBJECTS (200000), BENCH_SCAN_SMALL (20000), BENCH_SCAN_STORES (s3,local),
BENCH_SCAN_LOCAL_REPEAT (3: best of three for the local runs, which take seconds on a shared machine).
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import database
from bench.config import PROJECT_DIR, RESULTS_DIR, load_config
from bench.scan_layout import object_keys

TIME_TARGET = 1.5
MEMORY_TARGET = 1.3


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _write_files(directory: Path, count: int) -> None:
    for key, size in object_keys(count):
        path = directory / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"k" * size)


def _measure(env: dict[str, str], *args: str, repeat: int = 1) -> dict[str, Any]:
    """The fastest of ``repeat`` runs (the machine is shared; the minimum is the least disturbed figure)."""
    runs: list[dict[str, Any]] = []
    for attempt in range(repeat):
        print(f"-- {args[0]} {args[-1]} ({attempt + 1}/{repeat}) ...", end=" ", flush=True)
        done = subprocess.run([sys.executable, "-m", "bench.scan_worker", *args], cwd=PROJECT_DIR, env=env,
                              check=True, capture_output=True, text=True)
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{result['seconds']:.2f}s, {result['objects']:,} objects, peak {result['peak_rss_mb']} MB", flush=True)
        runs.append(result)
    best = min(runs, key=lambda run: run["seconds"])
    return {**best, "all_seconds": [round(run["seconds"], 3) for run in runs]}


def main() -> int:
    os.environ.setdefault("BENCH_DB_NAME", "kura_bench_scan")
    config = load_config()
    big = int(os.environ.get("BENCH_SCAN_OBJECTS", "200000"))
    small = int(os.environ.get("BENCH_SCAN_SMALL", "20000"))
    stores = os.environ.get("BENCH_SCAN_STORES", "s3,local").split(",")
    local_repeat = int(os.environ.get("BENCH_SCAN_LOCAL_REPEAT", "3"))  # seconds each; S3 runs take minutes
    print(f"-- recreate and migrate {config.db_name}", flush=True)
    database.recreate_database(config)
    database.migrate(config)
    work = Path(tempfile.mkdtemp(prefix="kura-bench-scan-"))
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    env = database.django_env(config, KURA_LOCAL_ROOTS=str(work), KURA_STORAGE_ALLOW_PRIVATE_ENDPOINTS="127.0.0.1",
                              AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
                              CELERY_BROKER_URL="memory://", KURA_LOG_LEVEL="WARNING")
    print(f"-- fill moto with {big:,} + {small:,} objects and write as many files", flush=True)
    buckets = [f"bench-big={big}", f"bench-small={small}"] if "s3" in stores else []
    store = subprocess.Popen([sys.executable, "-m", "bench.scan_store", str(port), *buckets], cwd=PROJECT_DIR,
                             env=env, stdout=subprocess.PIPE, text=True)
    try:
        _write_files(work / "big", big)
        _write_files(work / "small", small)
        assert store.stdout is not None and store.stdout.readline().strip() == "ready"
        results = {}
        if "s3" in stores:
            results["s3"] = {
                "raw": _measure(env, "raw-s3", endpoint, "bench-big"),
                "kura": _measure(env, "kura-s3", endpoint, "bench-big"),
                "kura_small": _measure(env, "kura-s3", endpoint, "bench-small"),
            }
        if "local" in stores:
            results["local"] = {
                "raw": _measure(env, "raw-local", str(work / "big"), repeat=local_repeat),
                "kura": _measure(env, "kura-local", str(work / "big"), repeat=local_repeat),
                "kura_small": _measure(env, "kura-local", str(work / "small")),
            }
    finally:
        store.terminate()
        store.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
    return report(results, big, small)


def report(results: dict[str, dict[str, dict[str, Any]]], big: int, small: int) -> int:
    print(f"\n{'store':<7}{'raw listing':>13}{'Kura scan':>11}{'ratio':>8}{'target':>8}"
          f"{'peak ' + f'{small // 1000}k':>11}{'peak ' + f'{big // 1000}k':>11}{'ratio':>8}{'target':>8}")
    passed = True
    summary: dict[str, Any] = {"objects": big, "small": small, "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                                           time.gmtime())}
    for store, runs in results.items():
        time_ratio = runs["kura"]["seconds"] / runs["raw"]["seconds"]
        memory_ratio = runs["kura"]["peak_rss_mb"] / runs["kura_small"]["peak_rss_mb"]
        ok_time, ok_memory = time_ratio <= TIME_TARGET, memory_ratio <= MEMORY_TARGET
        passed = passed and ok_time and ok_memory
        print(f"{store:<7}{runs['raw']['seconds']:>12.1f}s{runs['kura']['seconds']:>10.1f}s{time_ratio:>8.2f}"
              f"{'PASS' if ok_time else 'MISS':>8}{runs['kura_small']['peak_rss_mb']:>8.0f} MB"
              f"{runs['kura']['peak_rss_mb']:>8.0f} MB{memory_ratio:>8.2f}{'PASS' if ok_memory else 'MISS':>8}")
        summary[store] = {**runs, "time_ratio": round(time_ratio, 3), "memory_ratio": round(memory_ratio, 3)}
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / "scan.json").write_text(json.dumps(summary, indent=2))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
