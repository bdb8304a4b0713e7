"""Handing work to the Celery workers without letting a broker outage fail the caller.

The caller has already committed what the task will act on (a queued scan, a repository to index); the broker
being down must not turn that into a server error. The periodic resumers find the work again once it is back.
"""

import logging
from typing import Any

from celery import Task
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)


def enqueue(task: Task, *args: Any) -> bool:
    """Send ``task`` with ``args``; False (and an error in the log) when the broker cannot be reached."""
    try:
        task.delay(*args)
    except OperationalError:
        logger.exception("Could not queue %s%r: the broker is unreachable", task.name, args)
        return False
    return True
