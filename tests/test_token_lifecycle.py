"""What happens to API tokens when their owner leaves, comes back, or their unit is reorganised."""

import pytest
from django.core.exceptions import ValidationError

from access.leavers import person_depart, person_rejoin
from access.models import ApiToken, Level
from access.org import org_event_apply, org_event_preview, plan_merge, plan_retire
from access.services import token_create
from tests.factories import bearer, grant, make_dataset, make_person, make_unit, make_version

pytestmark = pytest.mark.django_db


def test_a_rejoiner_does_not_get_their_old_tokens_back(api, owner, unit):
    make_dataset(owner, slug="street-signs")
    before_leaving = bearer(owner)
    person_depart(person=owner, actor=None)
    assert ApiToken.objects.get(owner_person=owner).revoked_at is not None

    person_rejoin(person=owner, actor=None, unit=unit)

    api.credentials(HTTP_AUTHORIZATION=before_leaving)
    response = api.get("/api/v1/datasets/street-signs/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_revoked"
    api.credentials(HTTP_AUTHORIZATION=bearer(owner))  # a token issued after coming back works
    assert api.get("/api/v1/datasets/street-signs/").status_code == 200


def test_a_unit_token_follows_its_unit_into_a_merge(api, owner, unit):
    dataset = make_dataset(make_person("rita", unit=make_unit("Radar")), slug="radar-sweeps",
                           visibility="restricted")
    make_version(dataset)
    grant(dataset, unit, Level.READ)
    ci = bearer(unit=unit)
    successor = make_unit("Autonomy")

    plan = plan_merge(sources=[unit], successor=successor, actor=None)
    assert any("token" in change["description"] and "Autonomy" in change["description"]
               for change in org_event_preview(plan))
    org_event_apply(plan=plan, actor=None)

    assert ApiToken.objects.get().owner_unit == successor
    api.credentials(HTTP_AUTHORIZATION=ci)
    assert api.get("/api/v1/datasets/radar-sweeps/versions/latest/").status_code == 200


def test_a_token_of_a_retired_unit_is_refused_with_a_reason(api, owner):
    retiring = make_unit("Legacy lidar")
    make_dataset(owner, slug="street-signs")
    ci = bearer(unit=retiring)
    org_event_apply(plan=plan_retire(unit=retiring, actor=None), actor=None)

    api.credentials(HTTP_AUTHORIZATION=ci)
    response = api.get("/api/v1/datasets/street-signs/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_owner_inactive"
    assert "Legacy lidar" in response.json()["error"]["message"]


def test_tokens_are_not_issued_to_a_unit_that_is_no_longer_active(unit):
    successor = make_unit("Autonomy")
    org_event_apply(plan=plan_merge(sources=[unit], successor=successor, actor=None), actor=None)
    unit.refresh_from_db()
    with pytest.raises(ValidationError, match="Autonomy"):
        token_create(name="ci", owner_unit=unit)


def test_issuing_and_revoking_a_token_is_in_the_audit_log():
    from access.models import ApiToken, AuditEvent
    from access.services import token_create, token_revoke
    from tests.factories import make_person

    issuer, holder = make_person("ivy", staff=True), make_person("hal")
    issued = token_create(name="ci", scope=ApiToken.Scope.READ_WRITE, owner_person=holder, created_by=issuer)
    token_revoke(token=issued.token, actor=issuer)
    token_revoke(token=issued.token, actor=issuer)  # a second revocation changes nothing and says nothing

    events = list(AuditEvent.objects.filter(target_id=str(issued.token.pk)).order_by("pk"))
    assert [(event.action, event.actor) for event in events] == [("token.issued", issuer), ("token.revoked", issuer)]
    assert events[0].after["prefix"] == issued.token.prefix and events[0].after["scope"] == "read_write"
    assert issued.plaintext not in str(events[0].after) and issued.token.secret_hash not in str(events[0].after)


def test_a_departure_audits_each_token_it_revokes():
    from access.models import AuditEvent

    leaver = make_person("lea")
    issued = token_create(name="laptop", owner_person=leaver)

    person_depart(person=leaver, actor=None)

    assert AuditEvent.objects.filter(action="token.revoked", target_id=str(issued.token.pk)).count() == 1
