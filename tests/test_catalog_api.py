from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from access.models import Level
from catalog.services import dataset_update
from tests.factories import bearer, grant, make_dataset, make_person, make_version

pytestmark = pytest.mark.django_db


def test_version_lookup_resolves_latest_to_locations(api, owner, colleague):
    dataset = make_dataset(owner, slug="street-signs")
    make_version(dataset, "v1")
    v2 = make_version(dataset, "v2", files=5)
    grant(dataset, colleague, Level.READ)
    api.credentials(HTTP_AUTHORIZATION=bearer(colleague))

    response = api.get("/api/v1/datasets/street-signs/versions/latest/")

    assert response.status_code == 200
    body = response.json()
    assert body["label"] == "v2"
    assert body["digest"] == f"sha256:{v2.digest}"
    assert body["file_count"] == 5
    assert body["locations"][0]["uri"].startswith("s3://kura-test/")
    assert body["warnings"] == []
    assert "Deprecation" not in response


def test_version_lookup_runs_one_statement_per_step(api, owner, colleague):
    # CI's hot path: the token, then dataset, both permission answers, version and locations in one statement;
    # a query string takes the full path: token, dataset with both permission answers, version, locations.
    dataset = make_dataset(owner, slug="street-signs")
    make_version(dataset, "v1")
    grant(dataset, colleague, Level.READ)
    api.credentials(HTTP_AUTHORIZATION=bearer(colleague))
    api.get("/api/v1/datasets/street-signs/versions/latest/")  # the first use also stamps the token

    with CaptureQueriesContext(connection) as plain:
        response = api.get("/api/v1/datasets/street-signs/versions/latest/")
    assert response.status_code == 200 and response.json()["locations"]
    assert len(plain) == 2, [query["sql"][:120] for query in plain]
    assert "access_apitoken" in plain[0]["sql"]
    assert "catalog_storagelocation" in plain[1]["sql"]

    with CaptureQueriesContext(connection) as full:
        response = api.get("/api/v1/datasets/street-signs/versions/latest/?allow_archived=0")
    assert response.status_code == 200 and response.json()["locations"]
    assert len(full) == 4, [query["sql"][:120] for query in full]
    assert "catalog_datasetversion" in full[2]["sql"]
    assert "catalog_storagelocation" in full[3]["sql"]


def test_without_read_access_metadata_resolves_but_locations_and_manifest_do_not(api, owner, colleague):
    dataset = make_dataset(owner, slug="street-signs")
    make_version(dataset, "v1")
    api.credentials(HTTP_AUTHORIZATION=bearer(colleague))

    version = api.get("/api/v1/datasets/street-signs/versions/v1/")
    manifest = api.get("/api/v1/datasets/street-signs/versions/v1/manifest/")

    assert version.status_code == 200
    assert version.json()["locations"] is None
    assert manifest.status_code == 403
    assert manifest.json()["error"]["code"] == "permission_denied"


def test_missing_and_restricted_datasets_get_identical_404(api, owner, colleague):
    make_dataset(owner, slug="secret-faces", visibility="restricted")
    api.credentials(HTTP_AUTHORIZATION=bearer(colleague))

    hidden = api.get("/api/v1/datasets/secret-faces/")
    missing = api.get("/api/v1/datasets/no-such-thing/")

    assert hidden.status_code == missing.status_code == 404
    assert hidden.json() == missing.json() == {"error": {"code": "not_found", "message": "Not found."}}


def test_renamed_slug_still_resolves_with_canonical_slug(api, owner, colleague):
    dataset = make_dataset(owner, slug="old-name")
    make_version(dataset, "v1")
    dataset_update(dataset=dataset, actor=owner, slug="new-name")
    api.credentials(HTTP_AUTHORIZATION=bearer(colleague))

    response = api.get("/api/v1/datasets/old-name/")
    version = api.get("/api/v1/datasets/old-name/versions/v1/")

    assert response.status_code == 200
    assert response.json()["slug"] == "new-name"
    assert response["Content-Location"] == "/api/v1/datasets/new-name/"
    assert version.json()["dataset"] == "new-name"


def test_deprecated_dataset_answers_with_headers_and_warnings(api, owner, colleague):
    successor = make_dataset(owner, slug="signs-v2")
    dataset = make_dataset(owner, slug="signs-v1")
    make_version(dataset, "v1")
    sunset = timezone.now() + timedelta(days=30)
    dataset_update(
        dataset=dataset,
        actor=owner,
        status="deprecated",
        deprecation_note="Labels were wrong.",
        superseded_by=successor,
        sunset_at=sunset,
    )
    api.credentials(HTTP_AUTHORIZATION=bearer(colleague))

    response = api.get("/api/v1/datasets/signs-v1/versions/latest/")

    assert response.status_code == 200
    assert response["Deprecation"].startswith("@")
    assert response["Sunset"].endswith("GMT")
    assert 'rel="successor-version"' in response["Link"]
    warnings = " ".join(response.json()["warnings"])
    assert "deprecated" in warnings and "Labels were wrong." in warnings and "signs-v2" in warnings


def test_archived_dataset_is_gone_unless_allowed(api, owner, colleague):
    dataset = make_dataset(owner, slug="old-scans")
    make_version(dataset, "v1")
    dataset_update(dataset=dataset, actor=owner, status="archived")
    api.credentials(HTTP_AUTHORIZATION=bearer(colleague))

    gone = api.get("/api/v1/datasets/old-scans/versions/v1/")
    allowed = api.get("/api/v1/datasets/old-scans/versions/v1/?allow_archived=1")

    assert gone.status_code == 410
    assert gone.json()["error"]["code"] == "dataset_archived"
    assert allowed.status_code == 200
    assert allowed.json()["warnings"]


def test_unknown_version_is_a_clear_404(api, owner, colleague):
    make_dataset(owner, slug="street-signs")
    api.credentials(HTTP_AUTHORIZATION=bearer(colleague))

    response = api.get("/api/v1/datasets/street-signs/versions/v9/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "version_not_found"


def test_manifest_is_streamed_sorted_and_matches_digest(api, owner, colleague):
    import hashlib

    dataset = make_dataset(owner, slug="street-signs")
    version = make_version(dataset, "v1", files=2500)
    grant(dataset, colleague, Level.READ)
    api.credentials(HTTP_AUTHORIZATION=bearer(colleague))

    response = api.get("/api/v1/datasets/street-signs/versions/v1/manifest/")

    assert response.status_code == 200
    assert response.streaming
    import json

    body = json.loads(b"".join(response.streaming_content))
    assert len(body["files"]) == 2500
    paths = [item["path"] for item in body["files"]]
    assert paths == sorted(paths)
    canonical = "".join(f"{f['path']}\t{f['size']}\t{f['hash']}\n" for f in body["files"])
    assert hashlib.sha256(canonical.encode()).hexdigest() == version.digest == body["digest"].split(":")[1]


def test_list_filters_by_search_status_owner_and_tag(api, owner, colleague, unit):
    make_dataset(owner, slug="street-signs", name="Street signs EU", tags=["vision"])
    make_dataset(owner, slug="speech-commands", name="Speech commands", purpose="Wake-word detection for kiosks.",
                 description="Recorded in **studios** across Bavaria.",
                 datasheet={"sensitive_information": "Voices of consenting speakers.", "licence": "CC-BY-4.0"})
    other = make_person("zoe", unit=unit)
    make_dataset(other, slug="zoe-data", name="Lidar sweeps", status="draft", purpose="Depth estimation research.")
    api.credentials(HTTP_AUTHORIZATION=bearer(colleague))

    def slugs(query):
        response = api.get(f"/api/v1/datasets/?{query}")
        assert response.status_code == 200, response.content
        return sorted(item["slug"] for item in response.json()["results"])

    assert slugs("search=street") == ["street-signs"]
    assert slugs("search=wake word") == ["speech-commands"]
    assert slugs("search=bavaria studio") == ["speech-commands"]  # the description counts too
    assert slugs("search=consenting voices") == ["speech-commands"]  # and the datasheet's answers
    assert slugs("search=cc-by") == ["speech-commands"]
    assert slugs("status=draft") == ["zoe-data"]
    assert slugs("owner=zoe") == ["zoe-data"]
    assert slugs(f"owner={owner.external_id}") == ["speech-commands", "street-signs"]
    assert slugs("tag=vision") == ["street-signs"]
    assert slugs(f"unit={unit.pk}") == ["speech-commands", "street-signs", "zoe-data"]
    assert api.get("/api/v1/datasets/").json()["count"] == 3


def test_pages_keep_the_list_order_and_carry_owner_and_unit(api, owner, colleague):
    # Pages are sliced as bare keys and loaded afterwards: the order, the joins and the count must survive.
    names = ["bravo roads", "Alpha roads", "delta roads", "Charlie roads", "echo roads"]  # each page stored reversed
    for index, name in enumerate(names):
        make_dataset(owner, slug=f"roads-{index}", name=name)
    make_dataset(owner, slug="hidden-roads", name="Aardvark roads", visibility="restricted")
    api.credentials(HTTP_AUTHORIZATION=bearer(colleague))

    pages = [api.get(f"/api/v1/datasets/?search=roads&page_size=2&page={n}").json() for n in (1, 2, 3)]

    assert [page["count"] for page in pages] == [5, 5, 5]
    listed = [item for page in pages for item in page["results"]]
    assert [item["name"] for item in listed] == sorted(names, key=str.lower)
    assert {item["owner"]["username"] for item in listed} == {owner.user.username}
    assert all(item["owning_unit"]["name"] for item in listed)


def test_restricted_datasets_are_not_counted_for_others(api, owner, colleague):
    make_dataset(owner, slug="open-one")
    make_dataset(owner, slug="closed-one", visibility="restricted")
    api.credentials(HTTP_AUTHORIZATION=bearer(colleague))
    assert api.get("/api/v1/datasets/").json()["count"] == 1
    assert api.get("/api/v1/datasets/?search=closed").json()["count"] == 0
    api.credentials(HTTP_AUTHORIZATION=bearer(owner))
    assert api.get("/api/v1/datasets/").json()["count"] == 2


def test_openapi_schema_and_docs_are_served_without_cdn(client, owner):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/datasets/{slug}/versions/{label}/" in schema.content
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "cdn.jsdelivr" not in html and "unpkg" not in html
    assert "/static/drf_spectacular_sidecar/" in html


def test_empty_filter_values_mean_no_filter(api, owner, colleague):
    make_dataset(owner, slug="street-signs", name="Street signs EU")
    api.credentials(HTTP_AUTHORIZATION=bearer(colleague))
    response = api.get("/api/v1/datasets/?status=&unit=&search=street")
    assert response.status_code == 200
    assert [item["slug"] for item in response.json()["results"]] == ["street-signs"]
