"""Targets, the final table and the JSON written to bench/results/lookup.json."""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.loadgen import WrkResult
from bench.search import SearchResult

RATIO_TARGET = 0.6
LOOKUP_P99_TARGET_MS = 50.0
SEARCH_P95_TARGET_MS = 50.0


@dataclass(frozen=True)
class Verdict:
    name: str
    value: float
    target: str
    passed: bool

    @property
    def label(self) -> str:
        return "PASS" if self.passed else "MISS"


@dataclass(frozen=True)
class Figures:
    bare: WrkResult
    lookup: WrkResult
    search: SearchResult
    authed: WrkResult | None = None  # reference: token authentication and nothing else

    @property
    def ratio(self) -> float:
        return self.lookup.requests_per_s / self.bare.requests_per_s if self.bare.requests_per_s else 0.0

    def verdicts(self) -> list[Verdict]:
        return [
            Verdict("lookup/bare requests/s", self.ratio, f">= {RATIO_TARGET:.2f}", self.ratio >= RATIO_TARGET),
            Verdict(
                "lookup p99 ms",
                self.lookup.p99_ms,
                f"<= {LOOKUP_P99_TARGET_MS:.0f}",
                self.lookup.p99_ms <= LOOKUP_P99_TARGET_MS,
            ),
            Verdict(
                "search p95 ms",
                self.search.p95_ms,
                f"<= {SEARCH_P95_TARGET_MS:.0f}",
                self.search.p95_ms <= SEARCH_P95_TARGET_MS,
            ),
        ]


def _row(cells: list[str], widths: list[int]) -> str:
    return "  ".join(
        cell.ljust(width) if i == 0 else cell.rjust(width)
        for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
    )


def render(figures: Figures, context: dict[str, Any]) -> str:
    widths = [26, 12, 10, 10, 10]
    lines = [
        f"Kura lookup benchmark: {context['datasets']:,} datasets, {context['server']}, "
        f"wrk {context['wrk_threads']} threads x {context['connections']} connections, {context['duration_s']}s each",
        "",
        _row(["endpoint", "requests/s", "p50 ms", "p99 ms", "non-2xx"], widths),
    ]
    rows = [("GET /livez (bare)", figures.bare)]
    if figures.authed is not None:
        rows.append(("GET /api/v1/whoami/ (token)", figures.authed))
    rows.append(("GET .../versions/latest/", figures.lookup))
    for name, result in rows:
        lines.append(
            _row(
                [
                    name,
                    f"{result.requests_per_s:,.0f}",
                    f"{result.p50_ms:.2f}",
                    f"{result.p99_ms:.2f}",
                    str(result.non_2xx),
                ],
                widths,
            )
        )
    cpu = context.get("cpu_ms_per_request") or {}
    if cpu:
        spent = ", ".join(
            f"{label} {ms['gunicorn']:.2f} + {ms['postgres']:.2f}" for label, ms in cpu.items()
        )
        lines.append(f"CPU ms per request, gunicorn + PostgreSQL: {spent}")
    floor = context.get("sql_floor_ms")
    if floor:
        lines.append(
            _row(["lookup SQL only (floor)", "", f"{floor['p50']:.2f}", f"{floor['p99']:.2f}", ""], widths)
        )
        lines.append(f"(the lookup's {context['queries_per_lookup']} statements replayed on a bare cursor)")
    search = figures.search
    lines += [
        "",
        f"search: {search.requests} sequential requests, p50 {search.p50_ms:.1f} ms, p95 {search.p95_ms:.1f} ms, "
        f"max {search.max_ms:.1f} ms (median {search.median_hits:,.0f} hits)",
        "",
        _row(["target", "value", "goal", "", "verdict"], widths),
    ]
    for verdict in figures.verdicts():
        lines.append(_row([verdict.name, f"{verdict.value:.2f}", verdict.target, "", verdict.label], widths))
    return "\n".join(lines)


def write_json(path: Path, figures: Figures, context: dict[str, Any]) -> None:
    payload = {
        **context,
        "bare": figures.bare.as_dict(),
        "lookup": figures.lookup.as_dict(),
        "ratio": round(figures.ratio, 4),
        "authed": figures.authed.as_dict() if figures.authed is not None else None,
        "search": figures.search.as_dict(),
        "targets": {
            verdict.name: {"value": round(verdict.value, 3), "target": verdict.target, "verdict": verdict.label}
            for verdict in figures.verdicts()
        },
    }
    write_payload(path, payload)


def write_payload(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
