"""Two escalation runs at once (beat firing twice, a task redelivered after a worker died): each undecided
request is escalated one tier and its approvers mailed once, not twice."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from access.approvals import access_request_create, access_requests_escalate
from access.models import AccessRequest, AuditEvent, Level
from tests.concurrency import race
from tests.factories import make_dataset


@pytest.mark.django_db(transaction=True)
def test_concurrent_escalation_runs_escalate_a_request_once(owner, colleague):
    dataset = make_dataset(owner, slug="street-signs")
    request = access_request_create(requester=colleague, target=dataset, level=Level.READ,
                                    purpose="Evaluate the night-time detector.", duration_days=30)
    AccessRequest.objects.filter(pk=request.pk).update(created_at=timezone.now() - timedelta(days=4))
    mail.outbox.clear()

    first, second = race(access_requests_escalate, access_requests_escalate)

    assert (first, second) == (1, 0)
    request.refresh_from_db()
    assert request.escalation_count == 1
    assert AuditEvent.objects.filter(action="request.escalated").count() == 1
    assert len([m for m in mail.outbox if m.subject.startswith("[Kura] Escalated")]) <= 1
