import pytest

from access.models import AuditEvent, Person
from tests.factories import bearer, make_dataset, make_person, make_version

pytestmark = pytest.mark.django_db


def test_request_inbox_decision_and_grant_revoke_over_api(api, owner, colleague):
    dataset = make_dataset(owner, slug="street-signs", visibility="restricted")
    make_version(dataset, "v1")
    internal = make_dataset(owner, slug="open-signs")
    asker = bearer(colleague, scope="read_write")
    approver = bearer(owner, scope="read_write")

    api.credentials(HTTP_AUTHORIZATION=asker)
    hidden = api.post("/api/v1/access-requests/", {"dataset": "street-signs", "level": "read",
                                                    "purpose": "Night-time evaluation.", "duration_days": 7},
                      format="json")
    assert hidden.status_code == 404  # cannot ask for what you cannot see
    created = api.post("/api/v1/access-requests/", {"dataset": "open-signs", "level": "read",
                                                     "purpose": "Night-time evaluation.", "duration_days": 7},
                       format="json")
    assert created.status_code == 201, created.content
    request_id = created.json()["id"]
    assert created.json()["approver"] == str(owner)
    assert api.get("/api/v1/datasets/open-signs/versions/").status_code == 200

    api.credentials(HTTP_AUTHORIZATION=approver)
    inbox = api.get("/api/v1/access-requests/inbox/").json()
    assert [item["id"] for item in inbox] == [request_id]
    decided = api.post(f"/api/v1/access-requests/{request_id}/decision/", {"approve": True, "comment": "ok"},
                       format="json")
    assert decided.json()["status"] == "approved"
    grants = api.get("/api/v1/datasets/open-signs/grants/").json()
    assert [g["grantee"] for g in grants] == [str(colleague)]

    revoked = api.post(f"/api/v1/grants/{grants[0]['id']}/revoke/", {"reason": "project over"}, format="json")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    twice = api.post(f"/api/v1/grants/{grants[0]['id']}/revoke/", {"reason": "again"}, format="json")
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "grant_revoked"
    assert internal.pk
    assert AuditEvent.objects.filter(action__in=["request.created", "request.approved", "grant.created",
                                                 "grant.revoked"]).count() == 4


def test_decision_errors_are_clear(api, owner, colleague):
    make_dataset(owner, slug="open-signs")
    api.credentials(HTTP_AUTHORIZATION=bearer(colleague, scope="read_write"))
    request_id = api.post("/api/v1/access-requests/", {"dataset": "open-signs", "level": "read",
                                                        "purpose": "Night-time evaluation.", "duration_days": 7},
                          format="json").json()["id"]
    self_decision = api.post(f"/api/v1/access-requests/{request_id}/decision/", {"approve": True}, format="json")
    assert self_decision.status_code == 403
    again = api.post("/api/v1/access-requests/", {"dataset": "open-signs", "level": "read",
                                                   "purpose": "Night-time evaluation.", "duration_days": 7},
                     format="json")
    assert again.status_code == 400 and "already have a pending" in str(again.json())
    api.credentials(HTTP_AUTHORIZATION=bearer(owner, scope="read_write"))
    deny = api.post(f"/api/v1/access-requests/{request_id}/decision/", {"approve": False}, format="json")
    assert deny.status_code == 400 and "comment" in deny.json()["error"]["details"]


def test_staff_records_a_departure_over_api(api, owner, unit):
    staff = make_person("hr", unit=unit, staff=True)
    owners_token = bearer(owner)
    api.credentials(HTTP_AUTHORIZATION=bearer(owner, scope="read_write"))
    assert api.post(f"/api/v1/people/{owner.external_id}/depart/", {}, format="json").status_code == 403
    api.credentials(HTTP_AUTHORIZATION=bearer(staff, scope="read_write"))
    response = api.post(f"/api/v1/people/{owner.external_id}/depart/", {"reason": "resigned"}, format="json")
    assert response.json()["status"] == "departed"
    assert Person.objects.get(pk=owner.pk).status == "departed"
    api.credentials(HTTP_AUTHORIZATION=owners_token)
    assert api.get("/api/v1/datasets/").status_code == 401


def test_audit_since_that_is_no_real_moment_is_a_clear_400(api, owner):
    governor = make_person("gov", staff=True)
    api.credentials(HTTP_AUTHORIZATION=bearer(governor))
    for since in ("2026-01-01T25:00:00", "2026-02-30T10:00:00", "yesterday"):
        response = api.get("/api/v1/audit/", {"since": since})
        assert response.status_code == 400, since
        assert response.json()["error"]["details"] == {"since": ["Use an ISO 8601 date-time."]}
    assert api.get("/api/v1/audit/", {"since": "2026-01-01T10:00:00Z"}).status_code == 200
