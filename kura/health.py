"""Liveness (no I/O, also the benchmark's bare baseline) and readiness (database and task broker reachable).

Readiness answers only which dependency is down: the driver's message (hosts, user names) goes to the log, as
the endpoint is open to anyone who can reach the server.
"""

import logging

from django.db import connection
from django.http import HttpRequest, JsonResponse

from kura.celery import app

logger = logging.getLogger(__name__)


def livez(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _database_reachable() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _broker_reachable() -> None:
    # Without it, scans, indexing and location checks queued from the web app are not sent (kura.queue).
    with app.connection_for_write() as broker:
        broker.ensure_connection(max_retries=0)


def readyz(request: HttpRequest) -> JsonResponse:
    unavailable = []
    for name, check in (("database", _database_reachable), ("broker", _broker_reachable)):
        try:
            check()
        except Exception:  # any driver error means "not ready"
            logger.exception("Readiness: the %s is unreachable", name)
            unavailable.append(name)
    if unavailable:
        return JsonResponse({"status": "unavailable", "unavailable": unavailable}, status=503)
    return JsonResponse({"status": "ok"})
