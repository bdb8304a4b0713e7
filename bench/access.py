"""``make bench-access``: permission-filtered lists and search at issue 3's scale, and a large unit merge.

On the shared bench database (100,000 datasets, 10,000 people, 500 units, 200,000 grants) this times, through
gunicorn and the API, the dataset list, the restricted-only list and ``?search=`` for a person holding 5,000
grants and for one holding none; measures the plain-SQL floor of the list (its statements replayed on a
bare cursor); then merges the two units that hold 20,000 grants into a third through ``access.org`` (plan_merge +
org_event_apply) inside a transaction that is rolled back, so the database stays reusable.
Prints a table with PASS/MISS per target and writes bench/results/access.json. See bench/README.md.
"""

import os
import random
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from bench import probes
from bench.config import RESULTS_DIR, BenchConfig
from bench.fixtures import HEAVY_USERNAME, MERGE_SOURCE_NAMES, MERGE_SUCCESSOR_NAME, NO_GRANT_USERNAME
from bench.latency import Latency, summarise, time_paths
from bench.prepare import start_run
from bench.report import write_payload
from bench.search import search_queries
from bench.server import running_server

CALLERS = {"5,000 grants": HEAVY_USERNAME, "no grants": NO_GRANT_USERNAME}
TARGET_P95_MS = {HEAVY_USERNAME: 100.0, NO_GRANT_USERNAME: 50.0}
MERGE_TARGET_S = 10.0


def endpoint_paths(config: BenchConfig) -> dict[str, list[str]]:
    queries = search_queries(config.access_requests, config.seed)
    return {
        "list": ["/api/v1/datasets/"] * config.access_requests,
        "restricted list": ["/api/v1/datasets/?visibility=restricted"] * config.access_requests,
        "search": ["/api/v1/datasets/?" + urlencode({"search": query}) for query in queries],
    }


@dataclass(frozen=True)
class MergeResult:
    grants_moved: int
    datasets_moved: int
    memberships_moved: int
    changes: int
    plan_s: float
    apply_s: float

    @property
    def total_s(self) -> float:
        return self.plan_s + self.apply_s


def sql_floor(username: str, requests: int) -> Latency:
    """The list endpoint's statements, captured from one in-process request, replayed on a bare cursor."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(headers={"authorization": f"Bearer {probes.issue_token(username)}"})
    client.get("/api/v1/datasets/")  # the first use also stamps the token
    with CaptureQueriesContext(connection) as captured:
        client.get("/api/v1/datasets/")
    statements = [query["sql"] for query in captured.captured_queries]
    timings: list[float] = []
    counts: list[int] = []
    with connection.cursor() as cursor:
        for attempt in range(requests + 5):
            started = time.perf_counter()
            shown = 0
            for statement in statements:
                cursor.execute(statement)
                rows = cursor.fetchall()
                if statement.startswith("SELECT COUNT(*)"):  # the list counts in halves; "shown" is their sum
                    shown += rows[0][0]
            if attempt >= 5:  # the first few warm the caches
                timings.append((time.perf_counter() - started) * 1000)
                counts.append(shown)
    return summarise(timings, counts)


def time_merge() -> MergeResult:
    """Merge the two grant-heavy units through the real services, then roll everything back."""
    from django.db import transaction

    from access.models import Grant, Membership, OrgUnit
    from access.org import org_event_apply, plan_merge
    from catalog.models import Dataset

    sources = [OrgUnit.objects.get(name=name) for name in MERGE_SOURCE_NAMES]
    successor = OrgUnit.objects.get(name=MERGE_SUCCESSOR_NAME)
    grants = Grant.objects.active().filter(grantee_unit__in=sources).count()
    datasets = Dataset.objects.filter(owning_unit__in=sources).count()
    memberships = Membership.objects.current().filter(unit__in=sources).count()
    with transaction.atomic():
        started = time.perf_counter()
        plan = plan_merge(sources=sources, successor=successor, actor=None)
        planned = time.perf_counter()
        org_event_apply(plan=plan, actor=None, reason="bench: merge two grant-heavy units")
        applied = time.perf_counter()
        moved = Grant.objects.active().filter(grantee_unit=successor, basis=Grant.Basis.REORG).count()
        if moved != grants or Grant.objects.active().filter(grantee_unit__in=sources).exists():
            raise RuntimeError(f"merge moved {moved} of {grants} grants")
        transaction.set_rollback(True)
    return MergeResult(
        grants_moved=grants,
        datasets_moved=datasets,
        memberships_moved=memberships,
        changes=len(plan.changes),
        plan_s=planned - started,
        apply_s=applied - planned,
    )


def verdicts(api: dict[str, dict[str, Latency]], merge: MergeResult) -> list[dict[str, Any]]:
    rows = []
    for caller, username in CALLERS.items():
        target = TARGET_P95_MS[username]
        for endpoint in ("list", "search"):
            value = api[caller][endpoint].p95_ms
            rows.append(
                {
                    "name": f"{endpoint} p95 ms, {caller}",
                    "value": value,
                    "target": f"<= {target:.0f}",
                    "passed": value <= target,
                }
            )
    rows.append(
        {
            "name": "merge of 20,000 grants, s",
            "value": merge.total_s,
            "target": f"<= {MERGE_TARGET_S:.0f}",
            "passed": merge.total_s <= MERGE_TARGET_S,
        }
    )
    return rows


def render(
    api: dict[str, dict[str, Latency]], floors: dict[str, Latency], merge: MergeResult, context: dict[str, Any]
) -> str:
    lines = [
        f"Kura access benchmark: {context['datasets']:,} datasets, {context['people']:,} people, "
        f"{context['units']} units, {context['grants']:,} grants; {context['requests']} sequential requests each",
        "",
        f"{'caller':<14}{'endpoint':<18}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'shown':>9}",
    ]
    for caller in CALLERS:
        for endpoint, result in [*api[caller].items(), ("list, plain SQL", floors[caller])]:
            lines.append(
                f"{caller:<14}{endpoint:<18}{result.p50_ms:>9.1f}{result.p95_ms:>9.1f}"
                f"{result.max_ms:>9.1f}{result.median_count:>9,.0f}"
            )
    lines += [
        "",
        f"merge: {merge.grants_moved:,} unit grants, {merge.datasets_moved} datasets, {merge.memberships_moved} "
        f"memberships ({merge.changes:,} planned changes): plan {merge.plan_s:.1f}s + apply {merge.apply_s:.1f}s "
        f"= {merge.total_s:.1f}s (rolled back)",
        "",
        f"{'target':<34}{'value':>9}  {'goal':<8}verdict",
    ]
    for row in verdicts(api, merge):
        lines.append(f"{row['name']:<34}{row['value']:>9.2f}  {row['target']:<8}{'PASS' if row['passed'] else 'MISS'}")
    return "\n".join(lines)


def main() -> int:
    config, load = start_run()
    try:
        tokens = {caller: probes.issue_token(username) for caller, username in CALLERS.items()}
        floors = {}
        for caller, username in CALLERS.items():
            print(f"-- plain SQL list floor, {caller}: {config.access_requests} runs ...", end=" ", flush=True)
            floors[caller] = sql_floor(username, config.access_requests)
            print(f"p95 {floors[caller].p95_ms:.1f} ms", flush=True)
    finally:
        probes.close_connections()
    paths = endpoint_paths(config)
    api: dict[str, dict[str, Latency]] = {}
    print(f"-- gunicorn: {config.gunicorn_label}, production settings", flush=True)
    with running_server(config, RESULTS_DIR / "gunicorn-access.log") as server:
        for caller in CALLERS:
            api[caller] = {}
            for endpoint, endpoint_paths_ in paths.items():
                print(f"-- {endpoint}, {caller}: {len(endpoint_paths_)} requests ...", end=" ", flush=True)
                shuffled = random.Random(config.seed).sample(endpoint_paths_, len(endpoint_paths_))
                api[caller][endpoint] = time_paths(server.host, server.port, tokens[caller], shuffled)
                print(f"p95 {api[caller][endpoint].p95_ms:.1f} ms", flush=True)
    print("-- merge two units holding the grants (plan_merge + org_event_apply, rolled back) ...", flush=True)
    merge = time_merge()
    probes.close_connections()
    context: dict[str, Any] = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),  # the machine may be shared
        "datasets": config.datasets,
        "people": config.people,
        "units": config.units,
        "grants": config.grants,
        "requests": config.access_requests,
        "server": config.gunicorn_label,
        "load": load,
    }
    print()
    print(render(api, floors, merge, context))
    payload = {
        **context,
        "api": {
            caller: {name: result.as_dict() for name, result in results.items()} for caller, results in api.items()
        },
        "sql_floor": {caller: result.as_dict() for caller, result in floors.items()},
        "merge": {**merge.__dict__, "total_s": merge.total_s},
        "targets": verdicts(api, merge),
    }
    write_payload(RESULTS_DIR / "access.json", payload)
    print(f"\nFigures written to {RESULTS_DIR / 'access.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
