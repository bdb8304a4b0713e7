"""The demo's lineage: sign detectors trained on the sign datasets, a distilled edge model, consumers of both,
and a wake-word model; the EU signs set has a newer version no staging model is trained on yet."""

import hashlib
from collections.abc import Mapping

from access.models import Person
from catalog.models import DatasetVersion
from lineage.models import Consumer, ModelVersion, TrainingRun
from lineage.services import consumer_depend, run_link_input, training_report

REPO_SIGNS = "git@git.example.com:perception/signs.git"
REPO_KWS = "https://git.example.com/speech/kws.git"


def _version(spec: str) -> DatasetVersion:
    slug, label = spec.split("@")
    return DatasetVersion.objects.get(dataset__slug=slug, label=label)


def _commit(seed: str) -> str:
    return hashlib.sha1(seed.encode(), usedforsecurity=False).hexdigest()


def lineage_story(people: Mapping[str, Person]) -> None:
    runs = [  # (owner, model, version, trained on, run, repo, stage)
        ("amara", "sign-detector", "1.0.0", ["street-signs-legacy@v1"], "signs-ci-101", REPO_SIGNS, "retired"),
        ("amara", "sign-detector", "2.0.0", ["street-signs-eu@v2", "street-signs-us@v1"], "signs-ci-140", REPO_SIGNS,
         "production"),
        ("lukas", "wake-word-kws", "3.1.0", ["wake-word-en@2026-09-15"], "kws-ci-77", REPO_KWS, "production"),
    ]
    reports = {}
    for owner, model, version, trained_on, run_id, repo, stage in runs:
        reports[(model, version)] = training_report(
            actor=people[owner], model=model, version=version, trained_on=[_version(spec) for spec in trained_on],
            run_id=run_id, namespace="demo-ci", job_name=f"train-{model}", code_repository=repo,
            code_commit=_commit(run_id), ci_job_url=f"https://ci.example.com/jobs/{run_id}", stage=stage,
            status=TrainingRun.Status.COMPLETE, parameters={"epochs": 40, "lr": 0.001},
        )
    # A smaller model distilled from the production detector, for the dashcam firmware.
    edge = training_report(
        actor=people["amara"], model="sign-detector-edge", version="1.0.0", trained_on=[_version("street-signs-eu@v2")],
        run_id="signs-ci-152", namespace="demo-ci", job_name="distill-sign-detector-edge", code_repository=REPO_SIGNS,
        code_commit=_commit("signs-ci-152"), stage=ModelVersion.Stage.STAGING,
    )
    run_link_input(run=edge.run, model_version=reports[("sign-detector", "2.0.0")].model_version)
    detector = reports[("sign-detector", "2.0.0")].model_version
    consumer_depend(name="sign-confidence-threshold", model_versions=[detector], kind=Consumer.Kind.THRESHOLD,
                    owner=people["amara"], description="Minimum confidence before the HUD shows a sign.")
    consumer_depend(name="signs-api /v2/detect", model_versions=[detector], kind=Consumer.Kind.API_ENDPOINT,
                    owner=people["amara"])
    consumer_depend(name="dashcam-firmware-edge", model_versions=[edge.model_version], kind=Consumer.Kind.OTHER,
                    owner=people["amara"])
    consumer_depend(name="kiosk wake threshold", model_versions=[reports[("wake-word-kws", "3.1.0")].model_version],
                    kind=Consumer.Kind.THRESHOLD, owner=people["lukas"])
