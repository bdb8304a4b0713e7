"""Notification mail against real SMTP peers: a mail server that hangs or refuses never undoes or holds up a
decision, and its failure is logged; production can name its mail server."""

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.urls import reverse

from access.approvals import access_request_create
from access.models import AccessRequest, Grant, Level
from tests.factories import make_dataset
from tests.smtp_support import silent_smtp_server, smtp_sink

BASE_DIR = Path(__file__).resolve().parent.parent


def test_sending_mail_never_waits_forever(settings):
    assert settings.EMAIL_TIMEOUT is not None and 0 < settings.EMAIL_TIMEOUT <= 30


@pytest.mark.django_db(transaction=True)  # the mail goes out when the decision commits
def test_a_hung_mail_server_neither_loses_nor_holds_up_the_decision(client, owner, colleague, settings, caplog):
    dataset = make_dataset(owner, slug="street-signs")
    access_request = access_request_create(requester=colleague, target=dataset, level=Level.READ,
                                           purpose="Evaluate the night-time detector.", duration_days=30)
    client.force_login(owner.user)

    with silent_smtp_server() as port, caplog.at_level(logging.ERROR, logger="kura.mail"):
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 1
        started = time.monotonic()
        response = client.post(reverse("frontend:access-request-decide", args=[access_request.pk]),
                               {"decision": "approve", "comment": "ok"})
        elapsed = time.monotonic() - started

    assert response.status_code == 302
    assert elapsed < 10
    access_request.refresh_from_db()
    assert access_request.status == AccessRequest.Status.APPROVED
    assert Grant.objects.filter(request=access_request, grantee_person=colleague).exists()
    assert "Your access request for" in caplog.text and colleague.email in caplog.text


def test_production_mail_goes_to_the_configured_server(tmp_path):
    with smtp_sink() as (port, received):
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "kura.settings.production",
            "KURA_SECRET_KEY": "test-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'kura.sqlite3'}",
            "KURA_DATA_DIR": str(tmp_path),
            "KURA_EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "KURA_EMAIL_HOST": "127.0.0.1",
            "KURA_EMAIL_PORT": str(port),
        }
        sent = subprocess.run([sys.executable, "manage.py", "sendtestemail", "ops@example.com"], cwd=BASE_DIR,
                              env=env, capture_output=True, text=True, timeout=60)

    assert sent.returncode == 0, sent.stderr
    assert len(received) == 1 and "ops@example.com" in received[0]
