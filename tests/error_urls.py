"""Kura's URLs plus two that fail, for the server-error tests (the handlers come from ``kura.urls``)."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from kura.urls import handler500
from kura.urls import urlpatterns as kura_urlpatterns

__all__ = ["handler500", "urlpatterns"]


def _fail(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("an unexpected bug")


urlpatterns = [path("api/v1/test-failure/", _fail), path("test-failure/", _fail), *kura_urlpatterns]
