"""The OpenLineage intake stays a fixed handful of queries per event, whatever the number of inputs and outputs.

The ingest benchmark (``make bench-lineage``) depends on it; a lookup per ref or an extra read of the run
would show up here as a failure before it shows up as a slow benchmark.
"""

import json
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from catalog.services import LocationSpec, dataset_update
from lineage.models import ExternalDataset, ModelVersion, RunInput, RunOutput, TrainingRun
from lineage.services import model_version_ensure
from tests.factories import bearer, make_dataset, make_version

pytestmark = pytest.mark.django_db

# Per event, besides the token lookup and the test's savepoint pair: the run and the raw event (one upsert that
# folds the event in and inserts the raw event too), two lookups to resolve every ref (storage locations, visible
# datasets with their versions), one for external datasets (looked up and the missing ones inserted), one insert of
# input edges and, for a new model version, four more: the model and its version looked up together, each
# inserted, and the output edge. Elsewhere than on PostgreSQL, the raw event and new externals take one more each.
_ELSEWHERE = 0 if connection.vendor == "postgresql" else 2
MAX_START_QUERIES = 8 + _ELSEWHERE
MAX_COMPLETE_QUERIES = 12 + _ELSEWHERE


def _event(run_id, event_type, *, inputs, outputs=(), hour=8):
    return json.dumps({
        "eventType": event_type, "eventTime": f"2026-11-01T{hour:02d}:00:00Z", "producer": "https://example.com/ci",
        "run": {"runId": run_id, "facets": {}},
        "job": {"namespace": "ci", "name": "train", "facets": {"sourceCodeLocation": {
            "_producer": "https://example.com/ci", "type": "git", "url": "https://git.example.com/signs",
            "version": "0123abcd",
        }}},
        "inputs": list(inputs), "outputs": list(outputs),
    })


def _inputs(datasets, externals):
    return ([{"namespace": "kura", "name": f"{dataset.slug}@v1"} for dataset in datasets]
            + [{"namespace": "s3://features", "name": f"part-{index}"} for index in range(externals)])


def _queries(api, token, body):
    """Queries of one stored event; the token is used once before, so its once-a-minute bookkeeping is not counted."""
    assert api.get("/api/v1/whoami/", HTTP_AUTHORIZATION=token).status_code == 200
    with CaptureQueriesContext(connection) as captured:
        response = api.post("/api/v1/lineage", data=body, content_type="application/json", HTTP_AUTHORIZATION=token)
    assert response.status_code == 201, response.json()
    return len(captured.captured_queries)


@pytest.fixture
def datasets(owner):
    made = [make_dataset(owner, slug=f"scenes-{index:02d}") for index in range(12)]
    for dataset in made:
        make_version(dataset, "v1", files=1)
    return made


def test_queries_per_event_are_bounded(api, owner, datasets, django_assert_max_num_queries):
    token = bearer(owner, scope="read_write")
    assert api.get("/api/v1/whoami/", HTTP_AUTHORIZATION=token).status_code == 200
    run_id = str(uuid.uuid4())
    inputs = _inputs(datasets[:3], externals=1)
    with django_assert_max_num_queries(MAX_START_QUERIES):
        api.post("/api/v1/lineage", data=_event(run_id, "START", inputs=inputs), content_type="application/json",
                 HTTP_AUTHORIZATION=token)
    complete = _event(run_id, "COMPLETE", inputs=inputs, outputs=[{"namespace": "kura-model", "name": "signs@1"}],
                      hour=9)
    with django_assert_max_num_queries(MAX_COMPLETE_QUERIES):
        response = api.post("/api/v1/lineage", data=complete, content_type="application/json",
                            HTTP_AUTHORIZATION=token)
    assert response.status_code == 201
    run = TrainingRun.objects.get(external_run_id=run_id)
    assert run.status == "complete"
    assert RunInput.objects.filter(run=run, dataset_version__isnull=False).count() == 3
    assert RunOutput.objects.get(run=run).model_version.produced_by == run


def test_queries_do_not_grow_with_the_number_of_refs(api, owner, datasets):
    token = bearer(owner, scope="read_write")
    model_input = {"namespace": "kura-model", "name": "backbone@1"}
    model_version_ensure(name="backbone", version="1")
    small = _queries(api, token, _event(str(uuid.uuid4()), "COMPLETE", inputs=[*_inputs(datasets[:1], 1), model_input],
                                        outputs=[{"namespace": "kura-model", "name": "small@1"},
                                                 {"namespace": "s3://exports", "name": "small"}]))
    large = _queries(api, token, _event(str(uuid.uuid4()), "COMPLETE", inputs=[*_inputs(datasets, 8), model_input],
                                        outputs=[{"namespace": "kura-model", "name": "large@1"},
                                                 {"namespace": "s3://exports", "name": "large"},
                                                 {"namespace": "s3://exports", "name": "large-report"}]))
    assert large == small
    assert RunInput.objects.filter(dataset_version__isnull=False).count() == 13
    assert RunInput.objects.filter(model_version__isnull=False).count() == 2
    assert ExternalDataset.objects.count() == 11


def test_a_repeated_model_input_skips_the_cycle_check(api, owner):
    """The edge exists already, so it cannot close a cycle: the repeat costs no graph walk."""
    token = bearer(owner, scope="read_write")
    model_version_ensure(name="backbone", version="1")
    run_id = str(uuid.uuid4())
    inputs = [{"namespace": "kura-model", "name": "backbone@1"}]
    first = _queries(api, token, _event(run_id, "START", inputs=inputs))
    repeat = _queries(api, token, _event(run_id, "RUNNING", inputs=inputs, hour=9))
    assert repeat < first
    assert RunInput.objects.get().model_version == ModelVersion.objects.get()


def test_latest_and_unlabelled_refs_bind_the_newest_published_version(api, owner, datasets):
    older, newer = datasets[0], datasets[1]
    v2 = make_version(older, "v2", files=1)
    make_version(newer, "v2", files=1)
    newest = make_version(newer, "v3", files=1)
    v2.published_at, newest.published_at = timezone.now() + timedelta(hours=1), timezone.now() + timedelta(hours=2)
    v2.save(update_fields=["published_at"])
    newest.save(update_fields=["published_at"])
    inputs = [{"namespace": "kura", "name": f"{older.slug}@latest"}, {"namespace": "kura", "name": newer.slug},
              {"namespace": "kura", "name": f"{newer.slug}@v1"}]
    body = _event(str(uuid.uuid4()), "START", inputs=inputs)
    assert _queries(api, bearer(owner, scope="read_write"), body) <= MAX_START_QUERIES
    bound = set(RunInput.objects.values_list("dataset_version__dataset__slug", "dataset_version__label"))
    assert bound == {(older.slug, "v2"), (newer.slug, "v3"), (newer.slug, "v1")}


def test_storage_uris_resolve_in_the_same_batch(api, owner):
    make_version(make_dataset(owner, slug="street-signs", locations=[LocationSpec(uri="s3://kura-data/signs/")]),
                 "v1", files=1)
    body = _event(str(uuid.uuid4()), "START", inputs=[
        {"namespace": "s3://kura-data", "name": f"signs/part-{index}", "facets": {"version": {
            "_producer": "https://example.com/ci", "datasetVersion": "v1"}}} for index in range(5)
    ])
    assert _queries(api, bearer(owner, scope="read_write"), body) <= MAX_START_QUERIES
    assert RunInput.objects.filter(dataset_version__label="v1").count() == 1


def test_old_slugs_resolve_through_aliases_for_those_who_may_see_the_dataset(api, owner, colleague):
    renamed = make_dataset(owner, slug="street-signs-old")
    version = make_version(renamed, "v1", files=1)
    dataset_update(dataset=renamed, actor=owner, slug="street-signs")
    hidden = make_dataset(owner, slug="faces-old", visibility="restricted")
    make_version(hidden, "v1", files=1)
    dataset_update(dataset=hidden, actor=owner, slug="faces")
    inputs = [{"namespace": "kura", "name": "street-signs-old@v1"}, {"namespace": "kura", "name": "faces-old@v1"}]
    body = _event(str(uuid.uuid4()), "START", inputs=inputs)
    # Aliases: current slugs, aliases, which aliased datasets are visible, their versions (and no storage lookup).
    assert _queries(api, bearer(colleague, scope="read_write"), body) <= MAX_START_QUERIES + 3
    assert RunInput.objects.get(dataset_version__isnull=False).dataset_version == version
    assert RunInput.objects.get(external_dataset__isnull=False).external_dataset.name == "faces-old@v1"
