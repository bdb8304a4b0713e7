"""/readyz says whether the web app can do its work: the database and the task broker both answer."""

import pytest

pytestmark = pytest.mark.django_db


def test_ready_when_database_and_broker_answer(client):
    assert client.get("/readyz").json() == {"status": "ok"}


def test_not_ready_while_the_broker_is_down(client, broker_down):
    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "unavailable": ["broker"]}
