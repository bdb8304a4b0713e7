"""Bring the shared bench database to the configured scale: reuse it when its fingerprint matches."""

import signal
import time
from collections.abc import Callable
from types import FrameType
from typing import Any, TypeVar

from bench import database, probes
from bench.config import RESULTS_DIR, BenchConfig, load_config
from bench.fixtures import build_catalog

T = TypeVar("T")


def step(label: str, func: Callable[[], T], timings: dict[str, float]) -> T:
    print(f"-- {label} ...", end=" ", flush=True)
    started = time.perf_counter()
    result = func()
    timings[label] = round(time.perf_counter() - started, 2)
    print(f"{timings[label]:.1f}s", flush=True)
    return result


def prepare_database(config: BenchConfig) -> dict[str, Any]:
    """Reuse or (re)build the bench database; return how it was obtained and its row counts."""
    timings: dict[str, float] = {}
    wanted = database.fingerprint(config)
    if not config.reload and database.loaded_fingerprint(config) == wanted:
        print(f"-- reusing database {config.db_name} ({wanted})", flush=True)
        step("manage.py migrate", lambda: database.migrate(config), timings)
        rows = database.table_counts(config)
        return {"reused": True, "seconds": round(sum(timings.values()), 1), "steps_s": timings, "rows": rows}
    step(f"recreate database {config.db_name}", lambda: database.recreate_database(config), timings)
    step("manage.py migrate", lambda: database.migrate(config), timings)
    dataset_type_id = database.dataset_content_type(config)
    permission_ids = database.dataset_permission_ids(config, dataset_type_id)
    catalog = step(
        f"generate {config.datasets:,} datasets, {config.grants:,} grants",
        lambda: build_catalog(
            datasets=config.datasets,
            people=config.people,
            units=config.units,
            grants=config.grants,
            heavy_grants=config.heavy_grants,
            merge_grants=config.merge_grants,
            seed=config.seed,
            dataset_type_id=dataset_type_id,
            permission_ids=permission_ids,
        ),
        timings,
    )
    rows = step("COPY into PostgreSQL", lambda: database.load_catalog(config, catalog), timings)
    step("VACUUM ANALYZE", lambda: database.analyze(config), timings)
    database.mark_loaded(config)
    return {"reused": False, "seconds": round(sum(timings.values()), 1), "steps_s": timings, "rows": rows}


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through running_server, which stops gunicorn


def start_run() -> tuple[BenchConfig, dict[str, Any]]:
    """The opening of a served benchmark: stop cleanly on SIGTERM, read the configuration, make the results
    directory, bring the database to scale and set Django up for the in-process probes."""
    signal.signal(signal.SIGTERM, _terminate)
    config = load_config()
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    load = prepare_database(config)
    probes.setup_django(config)
    return config, load
