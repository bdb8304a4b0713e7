"""``make bench-lineage``: a lineage graph of 10,000 dataset versions, 2,000 models and 20,000 edges in PostgreSQL,
Kura under gunicorn, then

* the transitive impact answer ``GET /api/v1/datasets/<slug>/versions/<label>/impact`` (p50/p95, target p95 ≤ 100 ms)
  next to a trivial authenticated ``GET /api/v1/whoami/`` on the same server, and the selector alone in-process;
* 1,000 OpenLineage run events POSTed to ``/api/v1/lineage`` by concurrent senders (target ≥ 200 events/s), each
  sender reporting whole runs (START, then COMPLETE) as a CI job does, next to the same senders' rate for a
  trivial authenticated GET and for a malformed POST to the intake (400): the floor under any request. The CPU
  time per request of gunicorn, of the bench database's PostgreSQL backends and of the senders is printed too, as
  it depends far less than the rates on whatever else runs on the machine (the load average is printed with it).

Knobs (BENCH_* variables) are those of bench/config.py plus BENCH_LINEAGE_* below; the database is
``kura_bench_lineage`` unless BENCH_LINEAGE_DB_NAME says otherwise.
"""

import http.client
import json
import os
import random
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from bench import database, probes
from bench.config import RESULTS_DIR, BenchConfig, load_config
from bench.server import Server, running_server

DATASET_VERSIONS = int(os.environ.get("BENCH_LINEAGE_VERSIONS", "10000"))
MODELS = int(os.environ.get("BENCH_LINEAGE_MODELS", "2000"))
EDGES = int(os.environ.get("BENCH_LINEAGE_EDGES", "20000"))
EVENTS = int(os.environ.get("BENCH_LINEAGE_EVENTS", "1000"))
IMPACT_REQUESTS = int(os.environ.get("BENCH_LINEAGE_IMPACT_REQUESTS", "500"))
CLIENTS = int(os.environ.get("BENCH_LINEAGE_CLIENTS", "8"))
VERSIONS_PER_DATASET = 5
VERSIONS_PER_MODEL = 2
IMPACT_P95_TARGET_MS = 100.0
EVENTS_PER_S_TARGET = 200.0


@dataclass(frozen=True)
class Graph:
    token: str
    impact_paths: list[str]
    version_refs: list[str]  # "slug@label" for event inputs
    edges: int


def build_graph(seed: int) -> Graph:
    """Fill the bench database through the ORM (bulk inserts); edges only point from older to newer models."""
    from access.models import ApiToken
    from access.services import org_unit_create, person_create, token_create
    from catalog.models import Dataset, DatasetVersion
    from lineage.models import Consumer, ConsumerDependency, Model, ModelVersion, RunInput, RunOutput, TrainingRun

    rng = random.Random(seed)
    unit = org_unit_create(name="Bench lineage")
    person = person_create(username="bench-lineage", external_id="BENCH-L", display_name="Bench", primary_unit=unit)
    datasets = Dataset.objects.bulk_create(
        Dataset(slug=f"bench-data-{index:05d}", name=f"Bench data {index}", purpose="Lineage benchmark data.",
                owner=person, owning_unit=unit)
        for index in range(DATASET_VERSIONS // VERSIONS_PER_DATASET)
    )
    versions = DatasetVersion.objects.bulk_create(
        DatasetVersion(dataset=dataset, label=f"v{number}", status=DatasetVersion.Status.PUBLISHED,
                       digest=uuid.uuid4().hex * 2, published_at=dataset.created_at)
        for dataset in datasets for number in range(1, VERSIONS_PER_DATASET + 1)
    )
    models = Model.objects.bulk_create(Model(name=f"bench-model-{index:04d}", owner=person) for index in range(MODELS))
    runs = TrainingRun.objects.bulk_create(
        TrainingRun(external_run_id=str(uuid.uuid4()), job_namespace="bench", job_name=f"train-{index}",
                    status=TrainingRun.Status.COMPLETE)
        for index in range(MODELS * VERSIONS_PER_MODEL)
    )
    model_versions = ModelVersion.objects.bulk_create(
        ModelVersion(model=models[index // VERSIONS_PER_MODEL], version=str(index % VERSIONS_PER_MODEL + 1),
                     produced_by=runs[index], stage=rng.choice(ModelVersion.Stage.values))
        for index in range(len(runs))
    )
    outputs = [RunOutput(run=run, model_version=mv) for run, mv in zip(runs, model_versions, strict=True)]
    chain_edges = EDGES // 10
    consumer_edges = EDGES // 10
    input_edges = EDGES - len(outputs) - chain_edges - consumer_edges
    dataset_inputs = {(rng.randrange(len(runs)), rng.randrange(len(versions))) for _ in range(input_edges)}
    chain: set[tuple[int, int]] = set()
    while len(chain) < chain_edges:
        reader = rng.randrange(VERSIONS_PER_MODEL, len(runs))
        source = rng.randrange(0, reader - reader % VERSIONS_PER_MODEL)  # a version of an older model: no cycle
        chain.add((reader, source))
    RunOutput.objects.bulk_create(outputs, batch_size=5000)
    RunInput.objects.bulk_create(
        [RunInput(run=runs[run], dataset_version=versions[version]) for run, version in dataset_inputs]
        + [RunInput(run=runs[run], model_version=model_versions[source]) for run, source in chain],
        batch_size=5000,
    )
    consumers = Consumer.objects.bulk_create(
        Consumer(name=f"bench-consumer-{index:04d}", kind=Consumer.Kind.THRESHOLD) for index in range(consumer_edges)
    )
    ConsumerDependency.objects.bulk_create(
        ConsumerDependency(consumer=consumer, model_version=rng.choice(model_versions)) for consumer in consumers
    )
    token = token_create(name="bench lineage", scope=ApiToken.Scope.READ_WRITE, owner_person=person,
                         expires_in_days=1).plaintext
    read_versions = sorted({version for _, version in dataset_inputs})
    sample = [versions[index] for index in rng.sample(read_versions, min(IMPACT_REQUESTS, len(read_versions)))]
    slugs = {dataset.pk: dataset.slug for dataset in datasets}
    return Graph(
        token=token,
        impact_paths=[f"/api/v1/datasets/{slugs[v.dataset_id]}/versions/{v.label}/impact" for v in sample],
        version_refs=[f"{slugs[v.dataset_id]}@{v.label}" for v in rng.sample(versions, 200)],
        edges=len(outputs) + len(dataset_inputs) + len(chain) + consumer_edges,
    )


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def time_gets(server: Server, token: str, paths: list[str]) -> list[float]:
    """Sequential GETs on one keep-alive connection; milliseconds each. Every answer must be a 200."""
    connection = http.client.HTTPConnection(server.host, server.port, timeout=30)
    headers = {"Authorization": f"Bearer {token}"}
    timings: list[float] = []
    try:
        for path in paths:
            started = time.perf_counter()
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            response.read()
            timings.append((time.perf_counter() - started) * 1000)
            if response.status != 200:
                raise RuntimeError(f"GET {path} answered {response.status}")
    finally:
        connection.close()
    return timings


def _event(run_id: str, event_type: str, hour: int, inputs: list[str], model: str) -> bytes:
    event = {
        "eventType": event_type,
        "eventTime": f"2026-11-01T{hour:02d}:00:00Z",
        "producer": "https://example.com/bench",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": run_id, "facets": {}},
        "job": {"namespace": "bench-ci", "name": f"train-{model}", "facets": {"sourceCodeLocation": {
            "_producer": "https://example.com/bench", "type": "git", "url": "https://git.example.com/bench",
            "version": uuid.uuid4().hex[:12],
        }}},
        "inputs": [{"namespace": "kura", "name": ref} for ref in inputs]
        + [{"namespace": "s3://bench-external", "name": f"features/{model}"}],
        "outputs": [{"namespace": "kura-model", "name": f"{model}@1"}] if event_type == "COMPLETE" else [],
    }
    return json.dumps(event).encode()


def make_runs(graph: Graph, count: int, seed: int) -> list[list[bytes]]:
    """count/2 runs of a START and a COMPLETE event, each reading three Kura versions and producing a model."""
    rng = random.Random(seed)
    runs: list[list[bytes]] = []
    for index in range(count // 2):
        run_id, inputs, model = str(uuid.uuid4()), rng.sample(graph.version_refs, 3), f"ingest-{seed}-{index:04d}"
        runs.append([_event(run_id, "START", 8, inputs, model), _event(run_id, "COMPLETE", 9, inputs, model)])
    return runs


@dataclass(frozen=True)
class Burst:
    """Requests sent by CLIENTS concurrent senders: the rate over the wall clock and each request's latency."""

    per_s: float
    latencies_ms: list[float]
    statuses: list[int]
    server_cpu_ms: float  # gunicorn's CPU time per request: less sensitive than per_s to what else runs here
    postgres_cpu_ms: float  # the bench database's PostgreSQL backends, per request
    sender_cpu_ms: float  # this process (the senders), per request

    @property
    def total_cpu_ms(self) -> float:
        return self.server_cpu_ms + self.postgres_cpu_ms + self.sender_cpu_ms


def burst(server: Server, token: str, method: str, path: str, sequences: list[list[bytes | None]]) -> Burst:
    """Send every request with CLIENTS concurrent senders, each on its own keep-alive connection.

    A sequence is sent in order by one sender, as one CI job reports one run (START, then COMPLETE).
    """
    local = threading.local()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def send(body: bytes | None) -> tuple[int, float]:
        if not hasattr(local, "connection"):
            local.connection = http.client.HTTPConnection(server.host, server.port, timeout=30)
        started = time.perf_counter()
        local.connection.request(method, path, body=body, headers=headers)
        response = local.connection.getresponse()
        response.read()  # to the end, so the connection can carry the next request
        return response.status, (time.perf_counter() - started) * 1000

    def send_all(sequence: list[bytes | None]) -> list[tuple[int, float]]:
        return [send(body) for body in sequence]

    cpu_before, postgres_before = server.cpu_seconds(), server.postgres_cpu_seconds()
    sender_before, started = time.process_time(), time.perf_counter()
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        answers = [answer for answered in pool.map(send_all, sequences) for answer in answered]
    elapsed, sender = time.perf_counter() - started, time.process_time() - sender_before
    cpu, postgres = server.cpu_seconds() - cpu_before, server.postgres_cpu_seconds() - postgres_before
    per_request = 1000 / len(answers)
    return Burst(per_s=len(answers) / elapsed, latencies_ms=[ms for _, ms in answers],
                 statuses=[status for status, _ in answers], server_cpu_ms=cpu * per_request,
                 postgres_cpu_ms=postgres * per_request, sender_cpu_ms=sender * per_request)


def ingest(server: Server, token: str, runs: list[list[bytes]]) -> Burst:
    """POST every event, a run's events in order by one sender; each must be stored (201)."""
    result = burst(server, token, "POST", "/api/v1/lineage", [list(events) for events in runs])
    refused = [status for status in result.statuses if status != 201]
    if refused:
        raise RuntimeError(f"{len(refused)} events were not stored (statuses {sorted(set(refused))})")
    return result


def ingest_baselines(server: Server, token: str, count: int) -> dict[str, Burst]:
    """The floor under ingestion, same senders and server: a trivial authenticated GET, and an authenticated
    POST to the intake that is refused as malformed (parsed, answered 400, nothing stored)."""
    whoami = burst(server, token, "GET", "/api/v1/whoami/", [[None]] * count)
    malformed = burst(server, token, "POST", "/api/v1/lineage", [[b'{"eventType": "START"}']] * count)
    for name, result, expected in (("whoami", whoami, 200), ("malformed POST", malformed, 400)):
        if set(result.statuses) != {expected}:
            raise RuntimeError(f"{name} answered {sorted(set(result.statuses))}, expected {expected}")
    return {"GET /api/v1/whoami/": whoami, "POST /api/v1/lineage (malformed, 400)": malformed}


def time_selector(paths: list[str]) -> list[float]:
    from catalog.models import DatasetVersion
    from lineage.selectors import impact_of_version

    timings: list[float] = []
    for path in paths:
        slug, label = path.split("/")[4], path.split("/")[6]
        version = DatasetVersion.objects.get(dataset__slug=slug, label=label)
        started = time.perf_counter()
        impact_of_version(version=version)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def _step(label: str, func: Callable[[], object]) -> object:
    print(f"-- {label} ...", end=" ", flush=True)
    started = time.perf_counter()
    result = func()
    print(f"{time.perf_counter() - started:.1f}s", flush=True)
    return result


def _row(name: str, timings: list[float]) -> str:
    return (f"{name:<38} {len(timings):>6} {statistics.median(timings):>9.1f} {_percentile(timings, 0.95):>9.1f} "
            f"{max(timings):>9.1f}")


def main() -> int:
    config: BenchConfig = replace(load_config(), db_name=os.environ.get("BENCH_LINEAGE_DB_NAME", "kura_bench_lineage"))
    server_url = config.pg_admin_url.rsplit("/", 1)[0]
    config = replace(config, pg_url=f"{server_url}/{config.db_name}")
    _step(f"recreate database {config.db_name}", lambda: database.recreate_database(config))
    _step("manage.py migrate", lambda: database.migrate(config))
    probes.setup_django(config)
    graph = _step("build graph", lambda: build_graph(config.seed))
    assert isinstance(graph, Graph)
    _step("VACUUM ANALYZE", lambda: database.analyze(config))
    selector_ms = time_selector(graph.impact_paths)
    runs = make_runs(graph, EVENTS, config.seed)
    events = [event for run in runs for event in run]
    probes.close_connections()
    log = RESULTS_DIR / "lineage-gunicorn.log"
    with running_server(config, log) as server:
        time_gets(server, graph.token, ["/api/v1/whoami/"] * 20 + graph.impact_paths[:20])  # warm every worker
        baseline_ms = time_gets(server, graph.token, ["/api/v1/whoami/"] * len(graph.impact_paths))
        impact_ms = time_gets(server, graph.token, graph.impact_paths)
        baselines = ingest_baselines(server, graph.token, len(events))
        ingested = ingest(server, graph.token, runs)
    rate = ingested.per_s
    p95 = _percentile(impact_ms, 0.95)
    print()
    print(f"graph: {DATASET_VERSIONS:,} dataset versions, {MODELS:,} models, {graph.edges:,} edges; "
          f"gunicorn {config.gunicorn_label}; {CLIENTS} ingest clients")
    print(f"{'request (ms)':<38} {'n':>6} {'p50':>9} {'p95':>9} {'max':>9}")
    print(_row("baseline GET /api/v1/whoami/", baseline_ms))
    print(_row("GET …/impact (HTTP)", impact_ms))
    print(_row("impact_of_version (in-process)", selector_ms))
    print()
    print(f"{'concurrent requests (' + str(CLIENTS) + ' senders)':<40} {'n':>5} {'req/s':>6} {'p50 ms':>7} "
          f"{'p95 ms':>7} {'CPU ms':>7} {'PG ms':>6} {'send ms':>7} {'rate ratio':>10} {'CPU ratio':>9}")
    for name, result in [*baselines.items(), ("POST /api/v1/lineage (events, 201)", ingested)]:
        latencies = result.latencies_ms
        print(f"{name:<40} {len(latencies):>5} {result.per_s:>6.0f} {statistics.median(latencies):>7.1f} "
              f"{_percentile(latencies, 0.95):>7.1f} {result.server_cpu_ms:>7.2f} {result.postgres_cpu_ms:>6.2f} "
              f"{result.sender_cpu_ms:>7.2f} {rate / result.per_s:>10.2f} "
              f"{ingested.server_cpu_ms / result.server_cpu_ms:>9.2f}")
    cores = os.cpu_count() or 1
    print(f"(CPU time per request: CPU ms gunicorn's, PG ms the database's backends, send ms the senders'; ratios: "
          f"ingest over that row, CPU of gunicorn; {cores} cores allow at most "
          f"{cores * 1000 / ingested.server_cpu_ms:.0f} events/s at gunicorn's CPU cost alone, "
          f"{cores * 1000 / ingested.total_cpu_ms:.0f} with PostgreSQL and the senders, "
          f"before anything else running here; load average {os.getloadavg()[0]:.1f} at the end)")
    verdict_impact = "PASS" if p95 <= IMPACT_P95_TARGET_MS else "MISS"
    verdict_ingest = "PASS" if rate >= EVENTS_PER_S_TARGET else "MISS"
    print(f"impact p95 {p95:.1f} ms (target ≤ {IMPACT_P95_TARGET_MS:.0f} ms): {verdict_impact}")
    print(f"OpenLineage ingest {len(events):,} events at {rate:.0f} events/s "
          f"(target ≥ {EVENTS_PER_S_TARGET:.0f}): {verdict_ingest}")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    Path(RESULTS_DIR / "lineage.json").write_text(json.dumps({
        "baseline_ms": {"p50": statistics.median(baseline_ms), "p95": _percentile(baseline_ms, 0.95)},
        "impact_ms": {"p50": statistics.median(impact_ms), "p95": p95},
        "selector_ms": {"p50": statistics.median(selector_ms), "p95": _percentile(selector_ms, 0.95)},
        "ingest_events_per_s": rate,
        "ingest_ms": {"p50": statistics.median(ingested.latencies_ms), "p95": _percentile(ingested.latencies_ms, 0.95)},
        "ingest_server_cpu_ms": ingested.server_cpu_ms,
        "ingest_postgres_cpu_ms": ingested.postgres_cpu_ms,
        "ingest_sender_cpu_ms": ingested.sender_cpu_ms,
        "ingest_baselines": {name: {"per_s": result.per_s, "server_cpu_ms": result.server_cpu_ms,
                                    "postgres_cpu_ms": result.postgres_cpu_ms, "sender_cpu_ms": result.sender_cpu_ms}
                             for name, result in baselines.items()},
        "load_average": os.getloadavg()[0],
        "clients": CLIENTS,
        "gunicorn": config.gunicorn_label,
        "edges": graph.edges,
    }, indent=2))
    return 0 if verdict_impact == verdict_ingest == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
