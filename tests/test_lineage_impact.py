"""Impact, cycles, release readiness, permissions and deprecation over the lineage graph."""

import json
import uuid

import pytest
from django.core import mail

from access.models import Level
from catalog.services import dataset_update
from lineage.models import ModelVersion, RawLineageEvent, RunInput, TrainingRun
from lineage.services import LineageCycle, consumer_depend, run_link_input, training_report
from tests.factories import bearer, grant, make_dataset, make_person, make_version

pytestmark = pytest.mark.django_db


def _train(model, version, trained_on=(), *, run_id=None, stage="", reads_models=(), actor=None):
    report = training_report(actor=actor, model=model, version=version, trained_on=list(trained_on),
                             run_id=run_id or f"run-{model}-{version}", stage=stage)
    for model_version in reads_models:
        run_link_input(run=report.run, model_version=model_version)
    return report


@pytest.fixture
def diamond(owner):
    """signs@v1 feeds runs A and B; run C reads both their models; a threshold depends on C's model."""
    dataset = make_dataset(owner, slug="street-signs")
    v1 = make_version(dataset, "v1")
    a = _train("backbone-a", "1", [v1]).model_version
    b = _train("backbone-b", "1", [v1]).model_version
    report_c = _train("ensemble", "1", reads_models=[a, b])
    consumer_depend(name="stop-sign-threshold", model_versions=[report_c.model_version], kind="threshold")
    return dataset, v1, a, b, report_c


def test_impact_of_a_diamond_lists_everything_once(api, owner, diamond):
    response = api.get("/api/v1/datasets/street-signs/versions/v1/impact", HTTP_AUTHORIZATION=bearer(owner))
    assert response.status_code == 200
    body = response.json()
    assert sorted(body["models"]) == ["backbone-a", "backbone-b", "ensemble"]
    assert sorted(run["run_id"] for run in body["runs"]) == ["run-backbone-a-1", "run-backbone-b-1", "run-ensemble-1"]
    assert [consumer["name"] for consumer in body["consumers"]] == ["stop-sign-threshold"]
    assert body["consumers"][0]["depends_on"] == ["ensemble@1"]


def test_impact_of_an_unrelated_version_is_empty(api, owner, diamond):
    dataset = diamond[0]
    make_version(dataset, "v2")
    body = api.get("/api/v1/datasets/street-signs/versions/v2/impact/", HTTP_AUTHORIZATION=bearer(owner)).json()
    assert (body["runs"], body["model_versions"], body["consumers"]) == ([], [], [])


def test_cycle_is_refused_by_the_service(diamond):
    _, _, a, _, report_c = diamond
    run_a = a.produced_by
    with pytest.raises(LineageCycle):
        run_link_input(run=run_a, model_version=report_c.model_version)
    assert not RunInput.objects.filter(run=run_a, model_version=report_c.model_version).exists()


def test_cycle_through_openlineage_answers_409_and_stores_nothing(api, owner, diamond):
    _, _, a, _, report_c = diamond
    namespace_run = a.produced_by
    event = {
        "eventType": "COMPLETE", "eventTime": "2026-11-01T10:00:00Z", "producer": "https://example.com/ci",
        "run": {"runId": str(uuid.uuid4())}, "job": {"namespace": "ci", "name": "retrain"},
        "inputs": [{"namespace": "kura-model", "name": "ensemble@1"}],
        "outputs": [{"namespace": "kura-model", "name": "ensemble@1"}],
    }
    events_before = RawLineageEvent.objects.count()
    response = api.post("/api/v1/lineage", data=json.dumps(event), content_type="application/json",
                        HTTP_AUTHORIZATION=bearer(owner, scope="read_write"))
    assert response.status_code == 409
    assert response.json()["error"]["code"] in {"lineage_cycle", "lineage_conflict"}
    assert RawLineageEvent.objects.count() == events_before
    assert not TrainingRun.objects.filter(job_name="retrain").exists()
    assert report_c.model_version.produced_by_id != namespace_run.pk


def test_self_loop_for_a_new_model_version_is_a_cycle(api, owner):
    event = {
        "eventType": "COMPLETE", "eventTime": "2026-11-01T10:00:00Z", "producer": "https://example.com/ci",
        "run": {"runId": str(uuid.uuid4())}, "job": {"namespace": "ci", "name": "loop"},
        "inputs": [{"namespace": "kura-model", "name": "looper@1"}],
        "outputs": [{"namespace": "kura-model", "name": "looper@1"}],
    }
    response = api.post("/api/v1/lineage", data=json.dumps(event), content_type="application/json",
                        HTTP_AUTHORIZATION=bearer(owner, scope="read_write"))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "lineage_cycle"
    assert not ModelVersion.objects.exists()


def test_readiness_after_a_new_version_is_published(api, owner):
    dataset = make_dataset(owner, slug="lidar-scenes")
    v1 = make_version(dataset, "v1")
    _train("depth-net", "1", [v1], stage="production")
    _train("segmenter", "1", [v1], stage="staging")
    url = "/api/v1/datasets/lidar-scenes/readiness"
    before = api.get(url, HTTP_AUTHORIZATION=bearer(owner)).json()
    assert before["ready"] is True

    v2 = make_version(dataset, "v2")
    after = api.get(url, HTTP_AUTHORIZATION=bearer(owner)).json()
    assert after["newest_version"] == "v2"
    assert after["ready"] is False
    assert {entry["model"]: entry["ready"] for entry in after["models"]} == {"depth-net": False, "segmenter": False}

    _train("depth-net", "2", [v2], stage="development")
    dev_only = api.get(url, HTTP_AUTHORIZATION=bearer(owner)).json()
    assert {entry["model"]: entry["ready"] for entry in dev_only["models"]} == {"depth-net": False, "segmenter": False}

    _train("depth-net", "2", [v2], stage="staging")  # the same run reports the promotion
    promoted = api.get(url, HTTP_AUTHORIZATION=bearer(owner)).json()
    assert {entry["model"]: entry["ready"] for entry in promoted["models"]} == {"depth-net": True, "segmenter": False}
    depth = next(entry for entry in promoted["models"] if entry["model"] == "depth-net")
    assert depth["trained_on"] == ["v1", "v2"]


def test_a_model_from_a_failed_or_aborted_run_is_not_ready(api, owner):
    dataset = make_dataset(owner, slug="lidar-scenes")
    v1 = make_version(dataset, "v1")
    for model, status in (("depth-net", "failed"), ("segmenter", "aborted"), ("detector", "complete")):
        training_report(actor=None, model=model, version="1", trained_on=[v1], run_id=f"run-{model}",
                        stage="production", status=status)

    body = api.get("/api/v1/datasets/lidar-scenes/readiness", HTTP_AUTHORIZATION=bearer(owner)).json()

    assert {entry["model"]: entry["ready"] for entry in body["models"]} == {
        "depth-net": False, "segmenter": False, "detector": True,
    }


def test_restricted_dataset_never_appears_for_another_person(api, owner, colleague):
    secret = make_dataset(owner, slug="secret-faces", visibility="restricted")
    public = make_dataset(owner, slug="public-streets")
    _train("face-blur", "1", [make_version(secret, "v1"), make_version(public, "v1")])

    other = bearer(colleague)
    assert api.get("/api/v1/datasets/secret-faces/versions/v1/impact", HTTP_AUTHORIZATION=other).status_code == 404
    assert api.get("/api/v1/datasets/secret-faces/readiness", HTTP_AUTHORIZATION=other).status_code == 404
    seen = api.get("/api/v1/models/face-blur", HTTP_AUTHORIZATION=other).json()
    assert seen["versions"][0]["trained_on"] == ["kura://public-streets@v1"]
    assert "secret-faces" not in json.dumps(seen)
    assert "secret-faces" not in api.get("/api/v1/models/", HTTP_AUTHORIZATION=other).content.decode()

    own = api.get("/api/v1/models/face-blur", HTTP_AUTHORIZATION=bearer(owner)).json()
    assert sorted(own["versions"][0]["trained_on"]) == ["kura://public-streets@v1", "kura://secret-faces@v1"]


def test_deprecation_lists_affected_models_and_emails_their_owners(
    api, owner, diamond, django_capture_on_commit_callbacks
):
    dataset, _, a, _, report_c = diamond
    model_owner = make_person("mona")
    for model_version in (a, report_c.model_version):
        model_version.model.owner = model_owner
        model_version.model.save()
    with django_capture_on_commit_callbacks(execute=True):
        dataset_update(dataset=dataset, actor=owner, status="deprecated", deprecation_note="Use signs-2027.")
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["mona@example.com"]
    assert "backbone-a" in mail.outbox[0].body
    assert "ensemble" in mail.outbox[0].body

    response = api.get("/api/v1/datasets/street-signs/versions/v1/", HTTP_AUTHORIZATION=bearer(owner))
    assert response.status_code == 200
    warnings = response.json()["warnings"]
    expected = "backbone-a (owner Mona), backbone-b, ensemble (owner Mona)"
    assert any(expected in warning for warning in warnings), warnings


def _owners_one_of_whom_sees(restricted, seen_by_ines, not_by_olga):
    """Model ``seen_by_ines`` gets owner Ines, who may view ``restricted``; ``not_by_olga`` gets Olga, who may not."""
    insider, outsider = make_person("ines"), make_person("olga")
    grant(restricted, insider, Level.VIEW)
    for model_version, model_owner in ((seen_by_ines, insider), (not_by_olga, outsider)):
        model_version.model.owner = model_owner
        model_version.model.save()


def test_retirement_mail_names_a_successor_only_to_those_who_may_see_it(
    owner, diamond, django_capture_on_commit_callbacks
):
    dataset, _, a, b, _ = diamond
    successor = make_dataset(owner, slug="faces-restricted", name="Faces of the fleet", visibility="restricted")
    _owners_one_of_whom_sees(successor, a, b)

    with django_capture_on_commit_callbacks(execute=True):
        dataset_update(dataset=dataset, actor=owner, status="deprecated", superseded_by=successor)

    bodies = {message.to[0]: message.body for message in mail.outbox}
    assert set(bodies) == {"ines@example.com", "olga@example.com"}  # both are told it is deprecated
    assert "Use 'faces-restricted' instead." in bodies["ines@example.com"]
    assert "faces-restricted" not in bodies["olga@example.com"]
    assert "Faces of the fleet" not in bodies["olga@example.com"]


def test_models_list_and_detail(api, owner, diamond):
    names = [model["name"] for model in api.get("/api/v1/models/", HTTP_AUTHORIZATION=bearer(owner)).json()["results"]]
    assert names == ["backbone-a", "backbone-b", "ensemble"]
    detail = api.get("/api/v1/models/ensemble", HTTP_AUTHORIZATION=bearer(owner)).json()
    assert detail["versions"][0]["consumers"] == ["stop-sign-threshold"]
    assert sorted(detail["versions"][0]["trained_on"]) == ["kura-model://backbone-a@1", "kura-model://backbone-b@1"]
    assert api.get("/api/v1/models/nothing-here", HTTP_AUTHORIZATION=bearer(owner)).status_code == 404


def test_declaring_a_consumer_through_the_api(api, owner, colleague, diamond):
    _, _, a, _, _ = diamond
    body = {"name": "signs-api", "kind": "api_endpoint", "depends_on": ["backbone-a@1", "ensemble@1"]}
    response = api.post("/api/v1/consumers/", data=body, format="json",
                        HTTP_AUTHORIZATION=bearer(owner, scope="read_write"))
    assert response.status_code == 201, response.json()
    assert response.json()["depends_on"] == ["backbone-a@1", "ensemble@1"]
    impact = api.get("/api/v1/datasets/street-signs/versions/v1/impact", HTTP_AUTHORIZATION=bearer(owner)).json()
    assert sorted(consumer["name"] for consumer in impact["consumers"]) == ["signs-api", "stop-sign-threshold"]

    taken = api.post("/api/v1/consumers/", data={**body, "depends_on": ["backbone-b@1"]}, format="json",
                     HTTP_AUTHORIZATION=bearer(colleague, scope="read_write"))
    assert taken.status_code == 403
    unknown = api.post("/api/v1/consumers/", data={**body, "depends_on": ["nope@9"]}, format="json",
                       HTTP_AUTHORIZATION=bearer(owner, scope="read_write"))
    assert unknown.status_code == 400
    assert a.dependencies.count() == 1


def test_every_model_version_one_run_produced_lists_what_the_run_read(api, owner):
    dataset = make_dataset(owner, slug="street-signs")
    v1 = make_version(dataset, "v1")
    run = str(uuid.uuid4())
    event = {
        "eventType": "COMPLETE", "eventTime": "2026-05-01T10:00:00Z", "producer": "https://ci.example.com",
        "run": {"runId": run}, "job": {"namespace": "ci", "name": "train-and-quantise"},
        "inputs": [{"namespace": "kura", "name": "street-signs@v1"}],
        "outputs": [{"namespace": "kura-model", "name": "detector@2.0"},
                    {"namespace": "kura-model", "name": "detector@2.0-int8"}],
    }
    posted = api.post("/api/v1/lineage", data=json.dumps(event), content_type="application/json",
                      HTTP_AUTHORIZATION=bearer(owner, scope="read_write"))
    assert posted.status_code == 201, posted.json()

    detail = api.get("/api/v1/models/detector/", HTTP_AUTHORIZATION=bearer(owner)).json()

    assert {version["version"]: version["trained_on"] for version in detail["versions"]} == {
        "2.0": [f"kura://{v1}"], "2.0-int8": [f"kura://{v1}"],
    }


def test_retirement_mail_does_not_name_a_restricted_dataset_to_an_owner_who_may_not_see_it(
    owner, diamond, django_capture_on_commit_callbacks
):
    dataset, _, a, b, _ = diamond
    dataset_update(dataset=dataset, actor=owner, visibility="restricted")
    _owners_one_of_whom_sees(dataset, a, b)

    with django_capture_on_commit_callbacks(execute=True):
        dataset_update(dataset=dataset, actor=owner, status="deprecated", deprecation_note="Boxes were off.")

    told = {message.to[0]: message for message in mail.outbox}
    assert set(told) == {"ines@example.com", "olga@example.com"}  # both learn their models are affected
    assert "street-signs" in told["ines@example.com"].body and "Boxes were off." in told["ines@example.com"].body
    hidden = told["olga@example.com"]
    assert "backbone-b" in hidden.body and "may not see" in hidden.body
    assert all(word not in hidden.subject + hidden.body for word in ("street-signs", dataset.name, "Boxes were off"))
