"""Lineage pages: graph, impact list and readiness panel, models; restricted datasets stay hidden."""

import re

import pytest

from lineage.services import consumer_depend, run_link_input, training_report
from tests.factories import make_dataset, make_version

pytestmark = pytest.mark.django_db


def _train(model, version, trained_on=(), *, stage="", reads=()):
    report = training_report(actor=None, model=model, version=version, trained_on=list(trained_on),
                             run_id=f"run-{model}-{version}", stage=stage)
    for model_version in reads:
        run_link_input(run=report.run, model_version=model_version)
    return report.model_version


def test_dataset_lineage_page_shows_graph_impact_and_readiness(client, owner):
    dataset = make_dataset(owner, slug="street-signs")
    v1 = make_version(dataset, "v1")
    backbone = _train("backbone", "1", [v1], stage="production")
    ensemble = _train("ensemble", "1", reads=[backbone])
    consumer_depend(name="stop-threshold", model_versions=[ensemble], kind="threshold")
    make_version(dataset, "v2")
    client.force_login(owner.user)

    page = client.get("/datasets/street-signs/lineage/?version=v1")
    assert page.status_code == 200
    html = page.content.decode()
    svg = re.search(r"<svg class=\"lineage-graph\".*?</svg>", html, re.S).group(0)
    for label in ("street-signs@v1", "backbone@1", "ensemble@1", "stop-threshold"):
        assert label in svg
    assert svg.count("<rect") == 6  # version, two runs, two model versions, one consumer
    impact = html[html.index('id="impact"'):html.index("Lineage graph")]
    assert "backbone" in impact and "ensemble" in impact and "stop-threshold" in impact
    readiness = html[html.index('id="readiness"'):html.index('id="impact"')]
    assert "1 not ready" in readiness and "backbone" in readiness

    assert 'href="/datasets/street-signs/lineage/"' in client.get("/datasets/street-signs/").content.decode()
    models = client.get("/models/").content.decode()
    assert "backbone" in models and "ensemble" in models


def test_graph_with_fifty_nodes_stays_readable(client, owner):
    dataset = make_dataset(owner, slug="big-graph")
    version = make_version(dataset, "v1")
    for index in range(16):
        model_version = _train(f"model-{index:02d}", "1", [version])
        consumer_depend(name=f"endpoint-{index:02d}", model_versions=[model_version], kind="api_endpoint")
    client.force_login(owner.user)
    html = client.get("/datasets/big-graph/lineage/").content.decode()
    assert 'aria-label="Lineage graph with 49 nodes"' in html
    width, height = map(int, re.search(r'viewBox="0 0 (\d+) (\d+)"', html).groups())
    assert width <= 1200 and height <= 16 * 50 + 20  # four columns; one row per node in the widest column
    assert all(f"model-{index:02d}@1" in html and f"endpoint-{index:02d}" in html for index in range(16))


def test_restricted_dataset_never_appears_in_another_persons_pages(client, owner, colleague):
    secret = make_dataset(owner, slug="secret-faces", visibility="restricted")
    public = make_dataset(owner, slug="public-streets")
    _train("face-blur", "1", [make_version(secret, "v1"), make_version(public, "v1")])
    client.force_login(colleague.user)
    assert client.get("/datasets/secret-faces/lineage/").status_code == 404
    for url in ("/models/face-blur/", "/datasets/public-streets/lineage/", "/models/"):
        html = client.get(url).content.decode()
        assert "public-streets" in html or url == "/models/"
        assert "secret-faces" not in html, url
    client.force_login(owner.user)
    assert "secret-faces@v1" in client.get("/models/face-blur/").content.decode()


def test_labels_in_the_graph_are_escaped(client, owner):
    dataset = make_dataset(owner, slug="escaping")
    model_version = _train("safe-model", "1", [make_version(dataset, "v1")])
    consumer_depend(name="<script>alert(1)</script>", model_versions=[model_version])
    client.force_login(owner.user)
    html = client.get("/datasets/escaping/lineage/").content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html


def test_demo_has_a_lineage_graph_with_runs_models_and_consumers(client, tmp_path):
    from frontend.demo import load_demo
    from lineage.models import TrainingRun

    demo = load_demo(tmp_path)
    load_demo(tmp_path)  # idempotent
    assert TrainingRun.objects.count() == 4
    client.force_login(demo.user)
    html = client.get("/datasets/street-signs-eu/lineage/").content.decode()
    for label in ("street-signs-eu@v2", "train-sign-detector", "sign-detector@2.0.0", "sign-detector-edge@1.0.0",
                  "sign-confidence-threshold"):
        assert label in html
    assert "not ready" in html  # v3 is newer than anything a staging model was trained on
    legacy = client.get("/api/v1/datasets/street-signs-legacy/versions/v1/").json()
    assert any("sign-detector" in warning for warning in legacy["warnings"])
