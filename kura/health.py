"""Liveness (no I/O, also the benchmark's bare baseline) and readiness (database reachable)."""

from django.db import connection
from django.http import HttpRequest, JsonResponse


def livez(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> JsonResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any driver error means "not ready"
        return JsonResponse({"status": "unavailable", "reason": str(exc)}, status=503)
    return JsonResponse({"status": "ok"})
