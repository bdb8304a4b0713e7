"""Every knob of the benchmarks, with defaults that match the issues; override through BENCH_* variables.

Both benchmarks share one database (issue 3's scale is a superset of issue 2's).
"""

import os
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
LUA_SCRIPT = BENCH_DIR / "lookup.lua"
AUTHED_SCRIPT = BENCH_DIR / "authed.lua"


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def _env_str(name: str, default: str) -> str:
    return os.environ.get(name, "").strip() or default


@dataclass(frozen=True)
class BenchConfig:
    pg_admin_url: str  # a database to connect to while (re)creating the bench database
    pg_url: str  # the bench database itself, in DATABASE_URL form
    db_name: str
    datasets: int
    people: int
    units: int
    grants: int
    heavy_grants: int
    merge_grants: int
    seed: int
    workers: int
    worker_class: str
    threads: int
    duration_s: int
    warmup_s: int
    connections: int
    wrk_threads: int
    lookup_slugs: int
    search_requests: int
    access_requests: int
    reload: bool  # rebuild the database even when it already holds this configuration

    @property
    def gunicorn_label(self) -> str:
        if self.worker_class == "gthread":
            return f"{self.workers} gthread workers x {self.threads} threads"
        return f"{self.workers} {self.worker_class} workers"


def load_config() -> BenchConfig:
    db_name = _env_str("BENCH_DB_NAME", "kura_bench")
    server = _env_str("BENCH_PG_SERVER", "postgres://postgres@127.0.0.1:5432")
    return BenchConfig(
        pg_admin_url=f"{server}/postgres",
        pg_url=f"{server}/{db_name}",
        db_name=db_name,
        datasets=_env_int("BENCH_DATASETS", 100_000),
        people=_env_int("BENCH_PEOPLE", 10_000),
        units=_env_int("BENCH_UNITS", 500),
        grants=_env_int("BENCH_GRANTS", 200_000),
        heavy_grants=_env_int("BENCH_HEAVY_GRANTS", 5_000),
        merge_grants=_env_int("BENCH_MERGE_GRANTS", 20_000),
        seed=_env_int("BENCH_SEED", 20261123),
        workers=_env_int("BENCH_WORKERS", 4),
        worker_class=_env_str("BENCH_WORKER_CLASS", "sync"),
        threads=_env_int("BENCH_THREADS", 1),
        duration_s=_env_int("BENCH_DURATION", 15),
        warmup_s=_env_int("BENCH_WARMUP", 3),
        connections=_env_int("BENCH_CONNECTIONS", 16),
        wrk_threads=_env_int("BENCH_WRK_THREADS", 2),
        lookup_slugs=_env_int("BENCH_LOOKUP_SLUGS", 20_000),
        search_requests=_env_int("BENCH_SEARCH_REQUESTS", 200),
        access_requests=_env_int("BENCH_ACCESS_REQUESTS", 200),
        reload=os.environ.get("BENCH_RELOAD", "").strip() not in {"", "0", "false", "no"},
    )
