"""In-process Django helpers: the bench token, queries per lookup, and the plan of the search query.

``setup_django`` points this process at the bench database; call it once, after the database is loaded.
"""

import os
from dataclasses import dataclass

from bench.config import BenchConfig
from bench.fixtures import BENCH_USERNAME


@dataclass(frozen=True)
class QueryProfile:
    status: int
    queries: int
    statements: list[str]


def setup_django(config: BenchConfig) -> None:
    os.environ["DATABASE_URL"] = config.pg_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "kura.settings.base"
    import django

    django.setup()


def issue_token(username: str) -> str:
    from access.models import Person
    from access.services import token_create

    person = Person.objects.get(user__username=username)
    return token_create(name="bench", owner_person=person, expires_in_days=1).plaintext


def lookup_slugs() -> tuple[list[str], list[str]]:
    """Slugs whose ``versions/latest/`` answers 200 for the bench person: with locations, and metadata only.

    Asked of ``restrict`` itself, so the split is whatever the permission path decides.
    """
    from django.contrib.auth import get_user_model

    from catalog.models import Dataset, DatasetVersion

    user = get_user_model().objects.get(username=BENCH_USERNAME)
    answerable = Dataset.objects.filter(
        status__in=[Dataset.Status.ACTIVE, Dataset.Status.DEPRECATED],
        versions__status=DatasetVersion.Status.PUBLISHED,
    ).distinct()
    readable = set(answerable.filter(pk__in=Dataset.objects.restrict(user, "read").values("pk")).values_list(
        "slug", flat=True
    ))
    visible = set(answerable.filter(pk__in=Dataset.objects.restrict(user, "view").values("pk")).values_list(
        "slug", flat=True
    ))
    return sorted(readable), sorted(visible - readable)


def profile_lookup(token: str, slug: str) -> QueryProfile:
    """SQL per lookup in steady state (the second request: the first may also stamp last_used_at).

    Not counted: the ``SELECT 1`` Django's CONN_HEALTH_CHECKS sends once per request on a reused connection.
    """
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(headers={"authorization": f"Bearer {token}"})
    url = f"/api/v1/datasets/{slug}/versions/latest/"
    client.get(url)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    return QueryProfile(
        status=response.status_code,
        queries=len(captured.captured_queries),
        statements=[query["sql"] for query in captured.captured_queries],
    )


def replay_statements(statements: list[str], runs: int) -> list[float]:
    """Milliseconds per replay of ``statements`` (as Django sent them) through a bare cursor: the SQL floor."""
    import time

    from django.db import connection

    timings = []
    with connection.cursor() as cursor:
        for attempt in range(runs + 20):
            started = time.perf_counter()
            for statement in statements:
                cursor.execute(statement)
                cursor.fetchall()
            if attempt >= 20:  # warm-up
                timings.append((time.perf_counter() - started) * 1000)
    return timings


def explain_search(query: str) -> str:
    """EXPLAIN of the page query ``GET /api/v1/datasets/?search=<query>`` runs for the bench person."""
    from django.contrib.auth import get_user_model

    from catalog.search import search_datasets
    from catalog.selectors import dataset_list

    user = get_user_model().objects.get(username=BENCH_USERNAME)
    page = search_datasets(dataset_list(user=user), query)[:50]
    return page.explain(analyze=True)


def close_connections() -> None:
    from django.db import connections

    connections.close_all()
