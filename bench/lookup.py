"""``make bench-lookup``: load 100,000 datasets into PostgreSQL, serve Kura with gunicorn, measure with wrk.

Compares the CI lookup ``GET /api/v1/datasets/<slug>/versions/latest/`` with the bare ``GET /livez`` on the
same server, times ``?search=`` over HTTP, prints a table with PASS/MISS per target and writes
bench/results/lookup.json. See bench/README.md.
"""

import http.client
import os
import random
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from bench import probes
from bench.config import AUTHED_SCRIPT, LUA_SCRIPT, RESULTS_DIR, BenchConfig
from bench.fixtures import BENCH_USERNAME
from bench.loadgen import WrkResult, WrkRun, ensure_wrk
from bench.prepare import start_run
from bench.report import Figures, render, write_json
from bench.search import SearchResult, percentile, search_queries, time_search
from bench.server import Server, running_server

SEARCH_INDEX = "dataset_search_gin"
EXPLAINED_QUERY = "street night"
SQL_FLOOR_RUNS = 500


def write_slugs(config: BenchConfig) -> tuple[str, str, dict[str, int]]:
    """Half the lookups hit datasets the bench person may read (locations included), half metadata-only ones."""
    readable_all, metadata_all = probes.lookup_slugs()
    rng = random.Random(config.seed)
    half = config.lookup_slugs // 2
    readable = rng.sample(readable_all, min(half, len(readable_all)))
    metadata = rng.sample(metadata_all, min(config.lookup_slugs - len(readable), len(metadata_all)))
    sample = readable + metadata
    rng.shuffle(sample)
    path = RESULTS_DIR / "lookup_slugs.txt"
    path.write_text("\n".join(sample) + "\n")
    return str(path), readable[0], {"readable": len(readable), "metadata_only": len(metadata)}


def inspect_app(token: str, slug: str) -> dict[str, Any]:
    """Count SQL per lookup and check the search query uses the GIN index."""
    profile = probes.profile_lookup(token, slug)
    plan = probes.explain_search(EXPLAINED_QUERY)
    (RESULTS_DIR / "search_explain.txt").write_text(plan + "\n")
    (RESULTS_DIR / "lookup_queries.sql").write_text(";\n\n".join(profile.statements) + ";\n")
    if profile.status != 200:
        raise RuntimeError(f"in-process lookup of {slug!r} answered {profile.status}")
    floor = probes.replay_statements(profile.statements, SQL_FLOOR_RUNS)
    facts = {
        "sql_floor_ms": {"p50": percentile(floor, 0.50), "p99": percentile(floor, 0.99), "runs": len(floor)},
        "queries_per_lookup": profile.queries,
        "search_uses_gin_index": SEARCH_INDEX in plan,
        "search_explained_query": EXPLAINED_QUERY,
    }
    print(f"-- SQL per lookup (steady state, besides the connection health check): {profile.queries}")
    print(
        f"-- plain-SQL floor of one lookup (its statements replayed on a bare cursor): "
        f"p50 {facts['sql_floor_ms']['p50']:.2f} ms, p99 {facts['sql_floor_ms']['p99']:.2f} ms"
    )
    print(f"-- EXPLAIN ?search={EXPLAINED_QUERY!r} uses {SEARCH_INDEX}: {facts['search_uses_gin_index']}")
    return facts


def check_lookup(server: Server, token: str, slug: str) -> None:
    connection = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        connection.request(
            "GET", f"/api/v1/datasets/{slug}/versions/latest/", headers={"Authorization": f"Bearer {token}"}
        )
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    if response.status != 200:
        raise RuntimeError(f"lookup of {slug!r} through gunicorn answered {response.status}: {body[:300]!r}")


CPU_MS: dict[str, dict[str, float]] = {}  # label -> CPU milliseconds per request, gunicorn and PostgreSQL


def measure(config: BenchConfig, server: Server, run: WrkRun, label: str) -> WrkResult:
    print(f"-- {label}: warm-up {config.warmup_s}s, then {config.duration_s}s ...", end=" ", flush=True)
    run.run(config.warmup_s)
    gunicorn_before, postgres_before = server.cpu_seconds(), server.postgres_cpu_seconds()
    result, output = run.run(config.duration_s)
    requests = max(1.0, result.requests_per_s * config.duration_s)
    CPU_MS[label] = {
        "gunicorn": 1000 * (server.cpu_seconds() - gunicorn_before) / requests,
        "postgres": 1000 * (server.postgres_cpu_seconds() - postgres_before) / requests,
    }
    (RESULTS_DIR / f"wrk_{label}.txt").write_text(output)
    print(
        f"{result.requests_per_s:,.0f} req/s, p99 {result.p99_ms:.1f} ms; CPU per request: gunicorn "
        f"{CPU_MS[label]['gunicorn']:.2f} ms, PostgreSQL {CPU_MS[label]['postgres']:.2f} ms",
        flush=True,
    )
    return result


def benchmark(config: BenchConfig, token: str, slugs_file: str, first_slug: str) -> Figures:
    wrk = ensure_wrk()
    print(f"-- gunicorn: {config.gunicorn_label}, production settings", flush=True)
    with running_server(config, RESULTS_DIR / "gunicorn.log") as server:
        check_lookup(server, token, first_slug)
        common = {"wrk": wrk, "connections": config.connections, "threads": config.wrk_threads}
        bare = measure(config, server, WrkRun(url=f"{server.base_url}/livez", **common), "bare")
        lookup_run = WrkRun(
            url=f"{server.base_url}/",
            script=LUA_SCRIPT,
            env={"BENCH_SLUGS_FILE": slugs_file, "BENCH_TOKEN": token},
            **common,
        )
        # Between the two: an API call that authenticates the token and reads nothing else, so the gap from bare
        # to lookup splits into "any authenticated DRF call" and "the lookup's own work".
        authed_run = WrkRun(
            url=f"{server.base_url}/api/v1/whoami/", script=AUTHED_SCRIPT, env={"BENCH_TOKEN": token}, **common
        )
        authed = measure(config, server, authed_run, "authed")
        lookup = measure(config, server, lookup_run, "lookup")
        search = time_search_step(config, server, token)
    return Figures(bare=bare, lookup=lookup, search=search, authed=authed)


def time_search_step(config: BenchConfig, server: Server, token: str) -> SearchResult:
    queries = search_queries(config.search_requests, config.seed)
    print(f"-- search: {len(queries)} sequential requests ...", end=" ", flush=True)
    time_search(server.host, server.port, token, queries[:10])  # warm-up, not counted
    result = time_search(server.host, server.port, token, queries)
    print(f"p95 {result.p95_ms:.1f} ms", flush=True)
    return result


def main() -> int:
    config, load = start_run()
    try:
        slugs_file, first, slug_mix = write_slugs(config)
        print(
            f"-- wrk spreads lookups over {slug_mix['readable']:,} readable and "
            f"{slug_mix['metadata_only']:,} metadata-only datasets"
        )
        token = probes.issue_token(BENCH_USERNAME)
        facts = inspect_app(token, first)
    finally:
        probes.close_connections()
    figures = benchmark(config, token, slugs_file, first)
    context: dict[str, Any] = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),  # the machine may be shared
        "datasets": config.datasets,
        "server": config.gunicorn_label,
        "connections": config.connections,
        "wrk_threads": config.wrk_threads,
        "duration_s": config.duration_s,
        "config": {key: value for key, value in asdict(config).items() if "url" not in key},
        "load": load,
        "lookup_slugs": slug_mix,
        "cpu_ms_per_request": CPU_MS,
        **facts,
    }
    print()
    print(render(figures, context))
    write_json(RESULTS_DIR / "lookup.json", figures, context)
    print(f"\nFigures written to {RESULTS_DIR / 'lookup.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
