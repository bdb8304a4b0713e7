"""Two transactions racing on PostgreSQL, made deterministic: one holds its writes uncommitted until the other
waits on a lock for them."""

import threading
import time
from collections.abc import Callable
from typing import Any

from django.db import connection, connections, transaction

WAIT_SECONDS = 20


def waiting_on_a_lock() -> int:
    """How many sessions of this test database wait on a lock right now."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return int(cursor.fetchone()[0])


def race(holder: Callable[[], Any], contender: Callable[[], Any]) -> tuple[Any, Any]:
    """Run ``holder`` in a transaction left open until ``contender``, in another thread, waits on a lock; then
    commit. Answers what each returned, or the exception it raised; fails if the contender never waited."""
    held, release = threading.Event(), threading.Event()
    outcomes: dict[str, Any] = {}

    def run(name: str, work: Callable[[], Any], *, hold: bool) -> None:
        try:
            if hold:
                with transaction.atomic():
                    outcomes[name] = work()
                    held.set()
                    release.wait(WAIT_SECONDS)
            else:
                outcomes[name] = work()
        except Exception as error:  # what each side raised is the race's result
            outcomes[name] = error
            held.set()
        finally:
            connections.close_all()

    first = threading.Thread(target=run, args=("holder", holder), kwargs={"hold": True})
    first.start()
    assert held.wait(WAIT_SECONDS)
    second = threading.Thread(target=run, args=("contender", contender), kwargs={"hold": False})
    second.start()
    deadline = time.monotonic() + WAIT_SECONDS
    while second.is_alive() and not waiting_on_a_lock() and time.monotonic() < deadline:
        time.sleep(0.05)
    waited = second.is_alive()
    release.set()
    first.join(WAIT_SECONDS)
    second.join(WAIT_SECONDS)
    # Without a lock the contender runs beside the holder and finishes first: the race was not decided by locking.
    assert waited, f"the contender did not wait for the holder: {outcomes}"
    return outcomes["holder"], outcomes["contender"]
