from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from access.models import ApiToken, Person
from access.services import token_create, token_revoke
from tests.factories import bearer, make_dataset

pytestmark = pytest.mark.django_db


def test_token_is_stored_hashed_and_authenticates(api, owner):
    issued = token_create(name="ci", owner_person=owner)
    stored = ApiToken.objects.get(pk=issued.token.pk)
    assert issued.plaintext not in (stored.secret_hash, stored.prefix)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.plaintext}")
    response = api.get("/api/v1/whoami/")
    assert response.status_code == 200
    assert response.json()["username"] == "olivia"


@pytest.mark.parametrize(
    ("header", "code"),
    [
        ("Bearer nonsense", "token_malformed"),
        ("Bearer kura_0123456789ab_" + "x" * 43, "token_invalid"),
        ("Bearer a b", "token_malformed"),
    ],
)
def test_bad_tokens_get_401_with_code(api, owner, header, code):
    api.credentials(HTTP_AUTHORIZATION=header)
    response = api.get("/api/v1/datasets/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == code
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_expired_and_revoked_tokens_are_refused(api, owner):
    expired = token_create(name="old", owner_person=owner)
    ApiToken.objects.filter(pk=expired.token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    revoked = token_create(name="gone", owner_person=owner)
    token_revoke(token=revoked.token)

    api.credentials(HTTP_AUTHORIZATION=f"Bearer {expired.plaintext}")
    assert api.get("/api/v1/datasets/").json()["error"]["code"] == "token_expired"
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {revoked.plaintext}")
    assert api.get("/api/v1/datasets/").json()["error"]["code"] == "token_revoked"


def test_departed_owner_token_stops_working_but_unit_token_survives(api, owner, unit):
    make_dataset(owner, slug="street-signs")
    personal = bearer(owner)
    unit_token = bearer(unit=unit)
    Person.objects.filter(pk=owner.pk).update(status=Person.Status.DEPARTED)

    api.credentials(HTTP_AUTHORIZATION=personal)
    assert api.get("/api/v1/datasets/street-signs/").status_code == 401
    api.credentials(HTTP_AUTHORIZATION=unit_token)
    assert api.get("/api/v1/datasets/street-signs/").status_code == 200


def test_read_only_token_cannot_write(api, owner):
    make_dataset(owner, slug="street-signs")
    api.credentials(HTTP_AUTHORIZATION=bearer(owner, scope="read"))
    response = api.post("/api/v1/datasets/street-signs/versions/", {"label": "v1", "files": []}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "token_read_only"


def test_no_credentials_is_401(api):
    response = api.get("/api/v1/datasets/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_management_command_prints_a_working_token(api, owner, capsys):
    call_command("create_token", "--name", "training CI", "--person", owner.external_id, "--days", "7")
    plaintext = capsys.readouterr().out.strip().splitlines()[-1]
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    assert api.get("/api/v1/whoami/").json()["token_name"] == "training CI"
