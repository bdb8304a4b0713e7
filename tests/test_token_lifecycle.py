"""What happens to API tokens when their owner leaves, comes back, or their unit is reorganised."""

import pytest

from access.leavers import person_depart, person_rejoin
from access.models import ApiToken
from tests.factories import bearer, make_dataset

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
