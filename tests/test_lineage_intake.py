"""OpenLineage intake, driven by the real openlineage-python client over HTTP against a running test server."""

import gzip
import itertools
import json
import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import dataset_version_dataset, source_code_location_job
from openlineage.client.transport.http import ApiKeyTokenProvider, HttpCompression, HttpConfig, HttpTransport

from catalog.services import LocationSpec
from lineage.models import ExternalDataset, ModelVersion, RawLineageEvent, RunInput, TrainingRun
from lineage.openlineage import parse_run_event
from lineage.services import _apply_event_to_run
from tests.factories import bearer, make_dataset, make_version

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _client(url: str, authorization: str, *, gzip_body: bool = False) -> OpenLineageClient:
    config = HttpConfig(
        url=url,
        auth=ApiKeyTokenProvider({"api_key": authorization.removeprefix("Bearer ")}),
        compression=HttpCompression.GZIP if gzip_body else None,
        retry={"total": 0},
    )
    return OpenLineageClient(transport=HttpTransport(config))


def _event(state: RunState, run_id: str, *, when: datetime, inputs=(), outputs=()) -> RunEvent:
    return RunEvent(
        eventType=state,
        eventTime=when.isoformat(),
        run=Run(runId=run_id),
        job=Job(
            namespace="ci-perception",
            name="train-sign-detector",
            facets={
                "sourceCodeLocation": source_code_location_job.SourceCodeLocationJobFacet(
                    type="git", url="https://git.example.com/perception/signs", repoUrl="https://git.example.com/perception/signs.git",
                    path="train/", version=COMMIT,
                )
            },
        ),
        inputs=list(inputs),
        outputs=list(outputs),
        producer="https://example.com/ci",
    )


@pytest.fixture
def signs(owner):
    dataset = make_dataset(owner, slug="street-signs", locations=[LocationSpec(uri="s3://kura-data/signs/")])
    return dataset, make_version(dataset, "v1"), make_version(dataset, "v2")


@pytest.mark.django_db(transaction=True)
def test_real_client_events_link_inputs_and_create_model_version(live_server, owner, signs):
    _, v1, v2 = signs
    client = _client(live_server.url, bearer(owner, scope="read_write"))
    run_id = str(uuid.uuid4())
    start = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
    inputs = [
        InputDataset(namespace="kura", name="street-signs@v1"),
        InputDataset(namespace="s3://kura-data", name="signs/train/part-0000",
                     facets={"version": dataset_version_dataset.DatasetVersionDatasetFacet(datasetVersion="v2")}),
        InputDataset(namespace="postgres://warehouse:5432", name="labels.extra"),
    ]
    outputs = [OutputDataset(namespace="kura-model", name="sign-detector@1.4.0")]
    client.emit(_event(RunState.START, run_id, when=start, inputs=inputs))
    client.emit(_event(RunState.COMPLETE, run_id, when=start + timedelta(hours=2), inputs=inputs, outputs=outputs))

    run = TrainingRun.objects.get(external_run_id=run_id)
    assert (run.status, run.started_at, run.ended_at) == ("complete", start, start + timedelta(hours=2))
    assert (run.code_repository, run.code_commit, run.code_path) == (
        "https://git.example.com/perception/signs.git", COMMIT, "train/")
    linked = set(run.inputs.filter(dataset_version__isnull=False).values_list("dataset_version", flat=True))
    assert linked == {v1.pk, v2.pk}
    external = RunInput.objects.get(run=run, external_dataset__isnull=False).external_dataset
    assert (external.namespace, external.name) == ("postgres://warehouse:5432", "labels.extra")
    model_version = ModelVersion.objects.get(model__name="sign-detector", version="1.4.0")
    assert model_version.produced_by == run
    assert model_version.model.owner == owner
    assert RawLineageEvent.objects.filter(run=run).count() == 2


@pytest.mark.django_db(transaction=True)
def test_gzip_body_from_client_is_accepted(live_server, owner, signs):
    client = _client(live_server.url, bearer(owner, scope="read_write"), gzip_body=True)
    run_id = str(uuid.uuid4())
    client.emit(_event(RunState.COMPLETE, run_id, when=datetime(2026, 11, 2, tzinfo=UTC),
                       inputs=[InputDataset(namespace="kura://", name="street-signs@v2")]))
    run = TrainingRun.objects.get(external_run_id=run_id)
    assert list(run.inputs.values_list("dataset_version__label", flat=True)) == ["v2"]


def _payload(run_id: str, event_type: str, when: str, **extra) -> dict:
    return {
        "eventType": event_type, "eventTime": when, "producer": "https://example.com/ci",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": run_id, "facets": {}}, "job": {"namespace": "ci", "name": "train"},
        "inputs": [], "outputs": [], **extra,
    }


def _post(api, authorization, body, path="/api/v1/lineage", **headers):
    return api.post(path, data=body, content_type="application/json", HTTP_AUTHORIZATION=authorization, **headers)


def test_out_of_order_and_duplicate_events_give_one_run(api, owner):
    token = bearer(owner, scope="read_write")
    run_id = str(uuid.uuid4())
    complete = json.dumps(_payload(run_id, "COMPLETE", "2026-11-01T12:00:00Z"))
    start = json.dumps(_payload(run_id, "START", "2026-11-01T10:00:00Z"))
    assert _post(api, token, complete).status_code == 201
    assert _post(api, token, start, path="/api/v1/lineage/").status_code == 201
    duplicate = _post(api, token, json.dumps(json.loads(complete), indent=2))  # same event, other whitespace
    assert duplicate.status_code == 200
    assert duplicate.json()["status"] == "duplicate"
    run = TrainingRun.objects.get()
    assert run.status == "complete"
    assert run.started_at == datetime(2026, 11, 1, 10, tzinfo=UTC)
    assert run.ended_at == datetime(2026, 11, 1, 12, tzinfo=UTC)
    assert RawLineageEvent.objects.count() == 2


def test_gzip_body_posted_directly(api, owner):
    body = gzip.compress(json.dumps(_payload(str(uuid.uuid4()), "START", "2026-11-01T10:00:00Z")).encode())
    response = _post(api, bearer(owner, scope="read_write"), body, HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 201
    corrupt = _post(api, bearer(owner, scope="read_write"), b"\x1f\x8bnot-gzip", HTTP_CONTENT_ENCODING="gzip")
    assert corrupt.status_code == 400


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda event: event.pop("eventTime"), "eventTime"),
        (lambda event: event.update(eventType="FINISHED"), "eventType"),
        (lambda event: event["run"].update(runId="not-a-uuid"), "run.runId"),
        (lambda event: event["job"].pop("namespace"), "job.namespace"),
        (lambda event: event.update(inputs=[{"namespace": "kura"}]), "inputs[0].name"),
        (lambda event: event.pop("producer"), "producer"),
        (lambda event: event.update(eventType=[]), "eventType"),
        (lambda event: event.update(eventType=""), "eventType"),
        (lambda event: event.update(inputs=[{"namespace": "kura", "name": "signs",
                                             "facets": {"version": {"datasetVersion": 3}}}]),
         "inputs[0].facets.version.datasetVersion"),
        (lambda event: event.update(outputs=[{"namespace": "kura-model", "name": "m@1",
                                              "facets": {"kura": {"stage": ["staging"]}}}]),
         "outputs[0].facets.kura.stage"),
    ],
)
def test_malformed_events_answer_400_and_store_nothing(api, owner, mutate, reason):
    event = _payload(str(uuid.uuid4()), "START", "2026-11-01T10:00:00Z")
    mutate(event)
    response = _post(api, bearer(owner, scope="read_write"), json.dumps(event))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_event"
    assert reason in response.json()["error"]["message"]
    assert not RawLineageEvent.objects.exists()
    assert not TrainingRun.objects.exists()


@pytest.mark.parametrize(
    "when",
    ["2026-13-01T10:00:00Z", "2026-02-30T10:00:00Z", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"],
)
def test_an_event_time_that_does_not_exist_answers_400_not_a_retried_500(api, owner, when):
    response = _post(api, bearer(owner, scope="read_write"), json.dumps(_payload(str(uuid.uuid4()), "START", when)))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_event"
    assert "eventTime" in response.json()["error"]["message"]
    assert not RawLineageEvent.objects.exists()
    assert not TrainingRun.objects.exists()


def test_invalid_model_output_rolls_back_everything(api, owner):
    event = _payload(str(uuid.uuid4()), "COMPLETE", "2026-11-01T10:00:00Z",
                     inputs=[{"namespace": "mysql://db", "name": "t"}],
                     outputs=[{"namespace": "kura-model", "name": "bad name@1"}])
    response = _post(api, bearer(owner, scope="read_write"), json.dumps(event))
    assert response.status_code == 400
    assert not RawLineageEvent.objects.exists()
    assert not TrainingRun.objects.exists()
    assert not ExternalDataset.objects.exists()


def test_auth_scope_and_media_type(api, owner):
    body = json.dumps(_payload(str(uuid.uuid4()), "START", "2026-11-01T10:00:00Z"))
    assert api.post("/api/v1/lineage", data=body, content_type="application/json").status_code == 401
    assert _post(api, bearer(owner, scope="read"), body).status_code == 403
    text = api.post("/api/v1/lineage", data="hello", content_type="text/plain",
                    HTTP_AUTHORIZATION=bearer(owner, scope="read_write"))
    assert text.status_code == 415


def test_restricted_dataset_named_by_outsider_is_kept_external(api, owner, colleague):
    make_version(make_dataset(owner, slug="secret-faces", visibility="restricted"), "v1")
    event = _payload(str(uuid.uuid4()), "COMPLETE", "2026-11-01T10:00:00Z",
                     inputs=[{"namespace": "kura", "name": "secret-faces@v1"}])
    assert _post(api, bearer(colleague, scope="read_write"), json.dumps(event)).status_code == 201
    run_input = RunInput.objects.get()
    assert run_input.dataset_version is None
    assert run_input.external_dataset.name == "secret-faces@v1"


def test_ci_training_report(api, owner, signs):
    _, v1, v2 = signs
    response = api.post("/api/v1/lineage/trainings", data={
        "model": "sign-detector", "version": "2.0.0", "trained_on": ["street-signs@v1", "kura://street-signs@v2"],
        "run_id": "pipeline-881", "code_repository": "https://git.example.com/signs.git", "code_commit": COMMIT,
        "ci_job_url": "https://ci.example.com/jobs/881", "stage": "staging",
    }, format="json", HTTP_AUTHORIZATION=bearer(owner, scope="read_write"))
    assert response.status_code == 201, response.json()
    model_version = ModelVersion.objects.get(model__name="sign-detector", version="2.0.0")
    assert model_version.stage == "staging"
    assert set(model_version.produced_by.inputs.values_list("dataset_version", flat=True)) == {v1.pk, v2.pk}
    assert model_version.produced_by.ci_job_url == "https://ci.example.com/jobs/881"

    unknown = api.post("/api/v1/lineage/trainings", data={
        "model": "sign-detector", "version": "2.0.1", "trained_on": ["street-signs@v9"], "run_id": "pipeline-882",
    }, format="json", HTTP_AUTHORIZATION=bearer(owner, scope="read_write"))
    assert unknown.status_code == 400
    assert "street-signs@v9" in str(unknown.json()["error"]["details"])
    assert not ModelVersion.objects.filter(version="2.0.1").exists()


def test_storage_uri_binds_by_longest_prefix_and_digest_facet(api, owner):
    lake = make_dataset(owner, slug="lake-everything", locations=[LocationSpec(uri="s3://kura-lake/")])
    signs = make_dataset(owner, slug="lake-signs", locations=[LocationSpec(uri="s3://kura-lake/signs/")])
    make_version(lake, "v1")
    first = make_version(signs, "v1")
    make_version(signs, "v2", files=5)
    event = _payload(str(uuid.uuid4()), "COMPLETE", "2026-11-01T10:00:00Z", inputs=[
        {"namespace": "s3://kura-lake", "name": "signs/train",
         "facets": {"version": {"datasetVersion": f"sha256:{first.digest}"}}},
        {"namespace": "s3://kura-lake", "name": "other/thing"},
    ])
    assert _post(api, bearer(owner, scope="read_write"), json.dumps(event)).status_code == 201
    inputs = RunInput.objects.select_related("dataset_version__dataset")
    bound = {str(run_input.dataset_version) for run_input in inputs}
    assert bound == {"lake-signs@v1", "lake-everything@v1"}


def test_run_facets_fold_across_events_and_a_second_producer_is_refused(api, owner):
    token = bearer(owner, scope="read_write")
    run_id = str(uuid.uuid4())
    facets = {"kura": {"ciJobUrl": "https://ci.example.com/jobs/7", "parameters": {"lr": 0.1, "epochs": 3}}}
    start = _payload(run_id, "START", "2026-11-01T10:00:00Z", run={"runId": run_id, "facets": facets})
    running = _payload(run_id, "RUNNING", "2026-11-01T11:00:00Z",
                       run={"runId": run_id, "facets": {"kura": {"parameters": {"epochs": 5, "seed": None}}}})
    output = {"namespace": "kura-model", "name": "signs@2.0", "facets": {"kura": {"stage": "staging"}}}
    complete = _payload(run_id, "COMPLETE", "2026-11-01T12:00:00Z", outputs=[output])
    for event in (start, running, complete):
        response = _post(api, token, json.dumps(event))
        assert response.status_code == 201, response.json()
    assert response.json()["run_status"] == "complete"
    run = TrainingRun.objects.get()
    assert run.parameters == {"lr": 0.1, "epochs": 5, "seed": None}
    assert run.ci_job_url == "https://ci.example.com/jobs/7"
    assert run.started_at == datetime(2026, 11, 1, 10, tzinfo=UTC)
    assert run.ended_at == datetime(2026, 11, 1, 12, tzinfo=UTC)
    model_version = ModelVersion.objects.get(model__name="signs", version="2.0")
    assert (model_version.produced_by, model_version.stage, model_version.model.owner) == (run, "staging", owner)

    other_run = str(uuid.uuid4())
    refused = _post(api, token, json.dumps(_payload(other_run, "COMPLETE", "2026-11-02T12:00:00Z", outputs=[output])))
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "lineage_conflict"
    assert not TrainingRun.objects.filter(external_run_id=other_run).exists()
    assert RawLineageEvent.objects.count() == 3


_FOLDED = [
    ("START", "2026-11-01T10:00:00Z", "train", {"kura": {"parameters": {"lr": 0.1, "epochs": 3}}},
     {"sourceCodeLocation": {"type": "git", "url": "https://git.example.com/a", "version": "AAAA1111"}}),
    ("RUNNING", "2026-11-01T11:00:00Z", "train-v2",
     {"kura": {"parameters": {"epochs": 5}, "ciJobUrl": "https://ci.example.com/jobs/1"}}, {}),
    ("FAIL", "2026-11-01T12:00:00Z", "train", {},
     {"sourceCodeLocation": {"type": "git", "url": "https://git.example.com/b", "path": "train/"}}),
    ("COMPLETE", "2026-11-01T13:00:00Z", "train", {"kura": {"parameters": {"lr": 0.2}}},
     {"sourceCodeLocation": {"type": "git", "url": "https://git.example.com/b", "version": "bbbb2222"}}),
    ("ABORT", "2026-11-01T11:30:00Z", "train", {}, {}),
]
_ORDERS = random.Random(20261123).sample(list(itertools.permutations(range(len(_FOLDED)))), 12)


@pytest.mark.parametrize("order", _ORDERS)
def test_events_of_a_stored_run_fold_as_the_python_fold_does(api, owner, order):
    """The first event creates the run; later ones are folded in by the upsert's SQL: the same result as
    ``_apply_event_to_run`` applying the events in the same order."""
    token = bearer(owner, scope="read_write")
    run_id = str(uuid.uuid4())
    expected = TrainingRun(job_namespace="ci", external_run_id=run_id, job_name="train")
    for index in order:
        event_type, when, job_name, run_facets, job_facets = _FOLDED[index]
        payload = _payload(run_id, event_type, when, run={"runId": run_id, "facets": run_facets},
                           job={"namespace": "ci", "name": job_name, "facets": job_facets})
        assert _post(api, token, json.dumps(payload)).status_code == 201
        _apply_event_to_run(expected, parse_run_event(payload))
    run = TrainingRun.objects.get()
    fields = ["status", "started_at", "status_event_time", "ended_at", "job_name", "code_repository", "code_path",
              "code_commit", "ci_job_url", "parameters"]
    assert {name: getattr(run, name) for name in fields} == {name: getattr(expected, name) for name in fields}


@pytest.mark.parametrize("name", ["team/../detector", "team/./detector", "team//detector", "team/detector/", "team/.."])
def test_a_model_name_its_page_address_could_not_hold_is_refused(api, owner, signs, name):
    token = bearer(owner, scope="read_write")
    report = api.post("/api/v1/lineage/trainings", data={
        "model": name, "version": "1.0", "trained_on": ["street-signs@v1"], "run_id": "pipeline-9",
    }, format="json", HTTP_AUTHORIZATION=token)
    event = _payload(str(uuid.uuid4()), "COMPLETE", "2026-11-01T10:00:00Z",
                     outputs=[{"namespace": "kura-model", "name": f"{name}@1.0"}])
    posted = _post(api, token, json.dumps(event))

    assert report.status_code == 400
    assert "in parts separated by single '/'" in str(report.json()["error"]["details"]["model"])
    assert posted.status_code == 400
    assert not ModelVersion.objects.exists() and not RawLineageEvent.objects.exists()


def test_a_model_name_ending_in_a_newline_is_refused(api, owner):
    event = _payload(str(uuid.uuid4()), "COMPLETE", "2026-11-01T10:00:00Z",
                     outputs=[{"namespace": "kura-model", "name": "detector\n@1.0"}])

    assert _post(api, bearer(owner, scope="read_write"), json.dumps(event)).status_code == 400
    assert not ModelVersion.objects.exists()


def test_a_model_named_with_slashes_has_a_page_and_an_api_address(client, api, owner, signs):
    token = bearer(owner, scope="read_write")
    report = api.post("/api/v1/lineage/trainings", data={
        "model": "perception/signs/detector.v2", "version": "1.0", "trained_on": ["street-signs@v1"],
        "run_id": "pipeline-10",
    }, format="json", HTTP_AUTHORIZATION=token)
    client.force_login(owner.user)

    assert report.status_code == 201, report.json()
    assert client.get("/models/perception/signs/detector.v2/").context["model"].name == "perception/signs/detector.v2"
    assert api.get("/api/v1/models/perception/signs/detector.v2/", HTTP_AUTHORIZATION=token).status_code == 200
