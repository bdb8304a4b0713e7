"""What the findings dashboard draws: unaccounted bytes by connection, by age and by likely owner."""

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Count, QuerySet, Sum
from django.utils import timezone

from storage.models import Finding

# Age of the newest object under an orphaned prefix: data nobody touched for a year is the likeliest loss.
AGE_BANDS: list[tuple[str, int | None]] = [
    ("under 30 days", 30),
    ("1 to 6 months", 182),
    ("6 to 12 months", 365),
    ("1 to 2 years", 730),
    ("over 2 years", None),
]
OWNER_ROWS = 8


@dataclass(frozen=True)
class Bar:
    label: str
    bytes: int
    count: int
    percent: float  # of the largest bar, for drawing
    filter_value: str = ""  # the findings filter this bar stands for, when there is one


@dataclass(frozen=True)
class Breakdown:
    total_bytes: int
    total_findings: int
    by_kind: dict[str, int]
    by_connection: list[Bar]
    by_age: list[Bar]
    by_owner: list[Bar]


def findings_breakdown(findings: "QuerySet[Finding]") -> Breakdown:
    """``findings``, already limited to what the user may see and to the filters, summed three ways."""
    unregistered = findings.filter(kind=Finding.Kind.UNREGISTERED)
    totals = unregistered.aggregate(bytes=Sum("total_bytes"), count=Count("id"))
    by_kind = dict(findings.values_list("kind").annotate(n=Count("id")).order_by())
    connection_rows = (
        unregistered.values_list("connection__name").annotate(b=Sum("total_bytes"), n=Count("id")).order_by("-b")
    )
    owner_rows = list(
        unregistered.values_list("storage_owner").annotate(b=Sum("total_bytes"), n=Count("id")).order_by("-b")
    )
    return Breakdown(
        total_bytes=totals["bytes"] or 0,
        total_findings=totals["count"] or 0,
        by_kind=by_kind,
        by_connection=chart_bars([(name, size or 0, n, name) for name, size, n in connection_rows]),
        by_age=chart_bars(_age_rows(unregistered)),
        by_owner=chart_bars(_owner_rows(owner_rows)),
    )


def _age_rows(findings: "QuerySet[Finding]") -> list[tuple[str, int, int, str]]:
    now, rows, newer_than = timezone.now(), [], None
    for label, days in AGE_BANDS:
        band = findings
        if days is not None:
            band = band.filter(newest_modified__gt=now - timedelta(days=days))
        if newer_than is not None:
            band = band.filter(newest_modified__lte=now - timedelta(days=newer_than))
        totals = band.aggregate(b=Sum("total_bytes"), n=Count("id"))
        rows.append((label, totals["b"] or 0, totals["n"], ""))
        newer_than = days
    unknown = findings.filter(newest_modified__isnull=True).aggregate(b=Sum("total_bytes"), n=Count("id"))
    if unknown["n"]:
        rows.append(("age unknown", unknown["b"] or 0, unknown["n"], ""))
    return rows


def _owner_rows(rows: list[tuple[str, int | None, int]]) -> list[tuple[str, int, int, str]]:
    named = [(owner, size or 0, n, owner) for owner, size, n in rows if owner]
    unknown = [(size or 0, n) for owner, size, n in rows if not owner]
    shown = named[:OWNER_ROWS]
    rest = named[OWNER_ROWS:]
    if rest:
        shown.append((f"{len(rest)} others", sum(r[1] for r in rest), sum(r[2] for r in rest), ""))
    if unknown:
        shown.append(("nobody the store names", unknown[0][0], unknown[0][1], ""))
    return shown


def chart_bars(rows: list[tuple[str, int, int, str]]) -> list[Bar]:
    """Rows of (label, bytes, count, filter value) as bars, each sized against the largest."""
    largest = max((size for _, size, _, _ in rows), default=0)
    return [
        Bar(label, size, count, round(100.0 * size / largest, 1) if largest else 0.0, value)
        for label, size, count, value in rows
    ]
