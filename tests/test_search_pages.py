"""Search result pages: the total counted in the same statement as the page's keys, the rows loaded by key."""

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer

from catalog.api.serializers import (
    DatasetDetailSerializer,
    DatasetListSerializer,
    OrgUnitRefSerializer,
    PersonRefSerializer,
)
from catalog.models import Dataset
from catalog.services import dataset_update
from tests.factories import bearer, make_dataset

pytestmark = pytest.mark.django_db


@pytest.fixture
def radar_sets(owner, colleague):
    hidden = make_dataset(owner, slug="radar-hidden", name="Radar hidden", visibility="restricted")
    names = [f"Radar set {letter}" for letter in "edcbaGF"]  # case-insensitive order: a b c d e F G
    for name in names:
        make_dataset(owner, slug=name.lower().replace(" ", "-"), name=name)
    make_dataset(owner, slug="lidar-only", name="Lidar only")
    return hidden


def _slugs(body):
    return [item["slug"] for item in body["results"]]


def test_search_pages_count_and_order_in_name_order(api, colleague, radar_sets):
    api.credentials(HTTP_AUTHORIZATION=bearer(colleague))

    first = api.get("/api/v1/datasets/", {"search": "radar", "page_size": 3}).json()
    second = api.get("/api/v1/datasets/", {"search": "radar", "page_size": 3, "page": 2}).json()
    third = api.get("/api/v1/datasets/", {"search": "radar", "page_size": 3, "page": 3}).json()
    last = api.get("/api/v1/datasets/", {"search": "radar", "page_size": 3, "page": "last"}).json()

    assert first["count"] == second["count"] == third["count"] == 7  # the restricted one is not counted
    assert _slugs(first) == ["radar-set-a", "radar-set-b", "radar-set-c"]
    assert _slugs(second) == ["radar-set-d", "radar-set-e", "radar-set-f"]
    assert _slugs(third) == _slugs(last) == ["radar-set-g"]
    assert first["previous"] is None and "page=2" in first["next"]
    assert third["next"] is None and third["previous"]
    assert first["results"][0]["owner"]["username"] == "olivia"  # list data loaded with the rows


def test_search_page_counts_along_with_its_keys(api, colleague, radar_sets):
    api.credentials(HTTP_AUTHORIZATION=bearer(colleague))
    api.get("/api/v1/datasets/", {"search": "radar"})  # the token's first use also stamps it

    with CaptureQueriesContext(connection) as captured:
        body = api.get("/api/v1/datasets/", {"search": "radar"}).json()

    statements = [query["sql"] for query in captured]
    assert body["count"] == 7
    assert not any("COUNT(*) AS" in sql for sql in statements), statements
    assert sum("COUNT(*) OVER ()" in sql for sql in statements) == 1
    page_rows = [sql for sql in statements if 'd."purpose"' in sql]
    assert page_rows and "to_tsvector" not in page_rows[0]  # loaded by key, the search not run again


def test_search_without_matches_and_bad_pages(api, colleague, radar_sets):
    api.credentials(HTTP_AUTHORIZATION=bearer(colleague))

    empty = api.get("/api/v1/datasets/", {"search": "sonar"})
    beyond = api.get("/api/v1/datasets/", {"search": "radar", "page": 9})
    no_terms = api.get("/api/v1/datasets/", {"search": "!!!"})

    assert empty.status_code == 200 and empty.json()["count"] == 0 and empty.json()["results"] == []
    assert beyond.status_code == 404 and beyond.json()["error"]["message"] == "Invalid page."  # "no more pages"
    for search in ("radar", ""):  # counted along the search, or by the plain paginator
        for page in ("two", "0", "-1", "²"):
            answer = api.get("/api/v1/datasets/", {"search": search, "page": page})
            assert answer.status_code == 400, (search, page)
            assert answer.json()["error"]["code"] == "invalid_page"
    assert api.get("/api/v1/datasets/", {"search": "radar", "page": "last"}).status_code == 200
    assert no_terms.status_code == 200 and no_terms.json()["count"] == 8  # every visible dataset


def test_browser_search_pages(client, colleague, radar_sets, settings):
    client.force_login(colleague.user)
    url = reverse("frontend:dataset-list")

    first = client.get(url, {"search": "radar"})
    beyond = client.get(url, {"search": "radar", "page": 40})
    garbled = client.get(url, {"search": "radar", "page": "x"})

    assert [dataset.slug for dataset in first.context["datasets"]][:2] == ["radar-set-a", "radar-set-b"]
    assert first.context["page"].paginator.count == 7
    assert beyond.context["page"].number == 1  # the last page of one
    assert [dataset.slug for dataset in garbled.context["datasets"]] == [
        dataset.slug for dataset in first.context["datasets"]
    ]
    assert "radar-hidden" not in first.content.decode()


def test_list_payload_equals_the_field_by_field_rendering_and_the_schema(api, owner, colleague, client):
    make_dataset(owner, slug="tagged-radar", name="Tagged radar", tags=["night", "eu"],
                 training_repo_url="https://git.example.com/radar.git", training_repo_path="data/radar.dvc")
    api.credentials(HTTP_AUTHORIZATION=bearer(colleague))

    listed = api.get("/api/v1/datasets/", {"search": "radar"}).json()["results"]
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()["components"]["schemas"]

    for item in listed:
        dataset = Dataset.objects.with_list_data().get(slug=item["slug"])
        by_fields = serializers.ModelSerializer.to_representation(DatasetListSerializer(), dataset)
        assert item == dict(by_fields), item["slug"]
        assert set(schema["DatasetList"]["properties"]) == set(item)
    assert next(item for item in listed if item["slug"] == "tagged-radar")["tags"] == ["eu", "night"]


def test_detail_and_reference_payloads_equal_the_field_by_field_rendering(api, owner, colleague, client):
    # The payload functions stand in for DRF's fields; rendered field by field (ModelSerializer's own
    # to_representation), the same objects must give the same JSON, and the schema must name the same keys.
    dataset = make_dataset(owner, slug="radar-detail", name="Radar detail", tags=["night"])
    dataset_update(dataset=dataset, actor=owner, status="deprecated", deprecation_note="Old.",
                   sunset_at=timezone.now() + timedelta(days=9))
    api.credentials(HTTP_AUTHORIZATION=bearer(owner))

    body = api.get("/api/v1/datasets/radar-detail/").json()
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()["components"]["schemas"]

    loaded = Dataset.objects.with_list_data().prefetch_related("stewards__user", "aliases").get(pk=dataset.pk)
    context = {"can_read_data": True, "latest_label": None, "warnings": body["warnings"]}
    by_fields = serializers.ModelSerializer.to_representation(DatasetDetailSerializer(context=context), loaded)
    as_json = json.loads(JSONRenderer().render(by_fields))
    as_json["owner"] = serializers.ModelSerializer.to_representation(PersonRefSerializer(), loaded.owner)
    as_json["owning_unit"] = serializers.ModelSerializer.to_representation(OrgUnitRefSerializer(),
                                                                            loaded.owning_unit)
    assert body == json.loads(JSONRenderer().render(as_json))
    assert set(schema["DatasetDetail"]["properties"]) == set(body)
    assert body["deprecation"]["sunset_at"].endswith("Z")


def _queries(call):
    with CaptureQueriesContext(connection) as captured:
        response = call()
    assert response.status_code == 200
    return len(captured)


def test_list_pages_load_their_rows_in_the_same_queries_for_two_datasets_or_seven(api, client, owner, colleague):
    # The rows carry only the fields a list shows (the others deferred): a page touching one more field would
    # cost a query per row, and the second count would grow.
    api.credentials(HTTP_AUTHORIZATION=bearer(colleague))
    client.force_login(colleague.user)
    url = reverse("frontend:dataset-list")
    counts = []
    for total in (2, 7):
        for number in range(len(Dataset.objects.all()), total):
            make_dataset(owner, slug=f"radar-{number}", name=f"Radar {number}", tags=["night", f"t{number}"])
        api.get("/api/v1/datasets/", {"search": "radar"})  # the token's first use also stamps it
        counts.append((
            _queries(lambda: api.get("/api/v1/datasets/", {"search": "radar"})),
            _queries(lambda: api.get("/api/v1/datasets/")),
            _queries(lambda: client.get(url, {"search": "radar"})),
            _queries(lambda: client.get(url)),
        ))
    assert counts[0] == counts[1], counts
    listed = api.get("/api/v1/datasets/", {"search": "radar"}).json()["results"]
    assert len(listed) == 7 and listed[0]["tags"] == ["night", "t0"]
    page = client.get(url, {"search": "radar"}).content.decode()
    assert '<span class="tag">t6</span>' in page and "Radar 6" in page
