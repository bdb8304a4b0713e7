"""Notification mail, sent once the decision it reports is committed.

A mail server that is down or slow must neither undo nor hold up the decision: sending waits at most
EMAIL_TIMEOUT, and a failure is logged as an error (who was not told of what) instead of vanishing.
"""

import logging
import smtplib

from django.core.mail import send_mass_mail
from django.db import transaction

logger = logging.getLogger(__name__)

Message = tuple[str, str, str, list[str]]


def mail_after_commit(messages: list[Message]) -> None:
    if messages:
        transaction.on_commit(lambda: _send(messages))


def _send(messages: list[Message]) -> None:
    try:
        send_mass_mail(messages)
    except (OSError, smtplib.SMTPException):  # SMTPException is an OSError; named for the reader
        for subject, _body, _sender, recipients in messages:
            logger.exception("Could not send %r to %s", subject, ", ".join(recipients))
