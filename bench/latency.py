"""Sequential GETs through the API, timed one at a time: latency without queueing behind other requests."""

import json
import statistics
from dataclasses import asdict, dataclass
from typing import Any

from bench.search import _get, percentile


@dataclass(frozen=True)
class Latency:
    requests: int
    p50_ms: float
    p95_ms: float
    max_ms: float
    median_count: float  # the list's "count": how many datasets the caller was shown in total

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarise(timings: list[float], counts: list[int]) -> Latency:
    return Latency(
        requests=len(timings),
        p50_ms=percentile(timings, 0.50),
        p95_ms=percentile(timings, 0.95),
        max_ms=max(timings),
        median_count=statistics.median(counts) if counts else 0.0,
    )


def time_paths(host: str, port: int, token: str, paths: list[str], warmup: int = 5) -> Latency:
    for path in paths[:warmup]:
        _get(host, port, path, token)
    timings: list[float] = []
    counts: list[int] = []
    for path in paths:
        elapsed_ms, status, body = _get(host, port, path, token)
        if status != 200:
            raise RuntimeError(f"GET {path} answered {status}: {body[:300]!r}")
        timings.append(elapsed_ms)
        counts.append(int(json.loads(body)["count"]))
    return summarise(timings, counts)
