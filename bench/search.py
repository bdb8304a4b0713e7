"""Time ``GET /api/v1/datasets/?search=`` over HTTP, one request at a time, with varied queries."""

import http.client
import json
import math
import random
import statistics
import time
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlencode

from bench.words import SEARCH_QUERIES


@dataclass(frozen=True)
class SearchResult:
    requests: int
    p50_ms: float
    p95_ms: float
    max_ms: float
    median_hits: float
    zero_hit_queries: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def search_queries(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [rng.choice(SEARCH_QUERIES) for _ in range(count)]


def _get(host: str, port: int, path: str, token: str) -> tuple[float, int, bytes]:
    connection = http.client.HTTPConnection(host, port, timeout=30)
    try:
        started = time.perf_counter()
        connection.request("GET", path, headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
        response = connection.getresponse()
        body = response.read()
        return (time.perf_counter() - started) * 1000, response.status, body
    finally:
        connection.close()


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (no interpolation), as load generators report them."""
    ordered = sorted(values)
    rank = min(len(ordered), max(1, math.ceil(fraction * len(ordered))))
    return ordered[rank - 1]


def time_search(host: str, port: int, token: str, queries: list[str]) -> SearchResult:
    timings: list[float] = []
    hits: list[int] = []
    for query in queries:
        elapsed_ms, status, body = _get(host, port, "/api/v1/datasets/?" + urlencode({"search": query}), token)
        if status != 200:
            raise RuntimeError(f"search {query!r} answered {status}: {body[:300]!r}")
        timings.append(elapsed_ms)
        hits.append(int(json.loads(body)["count"]))
    return SearchResult(
        requests=len(timings),
        p50_ms=percentile(timings, 0.50),
        p95_ms=percentile(timings, 0.95),
        max_ms=max(timings),
        median_hits=statistics.median(hits),
        zero_hit_queries=sum(1 for count in hits if count == 0),
    )
