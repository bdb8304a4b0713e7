"""The task broker being down: the machine's real Redis client pointed at a port nothing listens on."""

from collections.abc import Iterator

import pytest

from kura.celery import app

UNREACHABLE_BROKER = "redis://127.0.0.1:1/0"  # port 1: connection refused at once


def point_celery_at(url: str) -> None:
    app.conf.broker_url = url
    app.conf.broker_write_url = url
    # Forget the pooled connections, so the next message is sent to ``url``.
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def broker_down() -> Iterator[None]:
    working = app.conf.broker_url
    point_celery_at(UNREACHABLE_BROKER)
    yield
    point_celery_at(working)
