"""A person named in a request by username or external id: one lookup for grants, finding assignment and tokens."""

import pytest

from access.models import Grant
from access.selectors import person_by_handle
from tests.factories import bearer, make_dataset, make_person

pytestmark = pytest.mark.django_db


def test_a_handle_is_an_external_id_or_a_username_and_nothing_else(owner, colleague):
    assert person_by_handle(colleague.external_id) == colleague
    assert person_by_handle(colleague.user.username) == colleague
    assert person_by_handle(colleague.display_name) is None
    assert person_by_handle(colleague.user.email) is None
    assert person_by_handle("") is None


def test_granting_over_the_api_names_the_grantee_either_way(api, owner, colleague):
    dataset = make_dataset(owner, slug="street-signs", visibility="restricted")
    other = make_person("dora")
    api.credentials(HTTP_AUTHORIZATION=bearer(owner, scope="read_write"))
    url = f"/api/v1/datasets/{dataset.slug}/grants/"

    by_username = api.post(url, {"person": colleague.user.username, "level": "read", "justification": "Evaluation."},
                           format="json")
    by_external_id = api.post(url, {"person": other.external_id, "level": "view", "justification": "Review."},
                              format="json")
    unknown = api.post(url, {"person": "nobody", "level": "read", "justification": "?"}, format="json")

    assert by_username.status_code == 201 and by_external_id.status_code == 201
    assert unknown.status_code == 400 and unknown.json()["error"]["details"] == {"person": ["No such person."]}
    assert set(Grant.objects.filter(revoked_at__isnull=True).values_list("grantee_person", flat=True)) >= {
        colleague.pk, other.pk}
