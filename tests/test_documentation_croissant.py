"""Croissant 1.1 + RAI export, judged by mlcroissant, the format's reference validator, run as a real tool."""

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from access.models import Level
from annotations.services import guideline_revise
from catalog.documentation import document as document_module
from catalog.services import LocationSpec, dataset_update
from tests.factories import bearer, grant, make_dataset, make_person, make_version
from tests.real_tools import mlcroissant_executable
from tests.test_datasheet import ANSWERS

pytestmark = pytest.mark.django_db

RAI = "rai:"


NOT_SEMANTIC = "doesn't follow MAJOR.MINOR.PATCH"  # Kura's labels are free; Croissant recommends semantic ones
NO_VERSION = 'Property "https://schema.org/version" is recommended'
NO_LICENCE = 'Property "https://schema.org/license" is recommended'


def validate(document: dict[str, Any], tmp_path: Path, *expected_warnings: str) -> str:
    """mlcroissant's verdict; fails the test on any error, and on any warning but ``expected_warnings``."""
    path = tmp_path / "dataset.croissant.json"
    path.write_text(json.dumps(document))
    result = subprocess.run(
        [str(mlcroissant_executable()), "validate", "--jsonld", str(path)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "error(s)" not in output, output
    if expected_warnings:
        assert f"{len(expected_warnings)} warning(s)" in output, output
        assert all(warning in output for warning in expected_warnings), output
    else:
        assert "warning(s)" not in output, output
    return output


@pytest.fixture
def documented(owner):
    steward = make_person("stella", unit=owner.primary_unit, display_name="Stella Steward")
    dataset = make_dataset(
        owner,
        slug="street-signs",
        name="Street signs: EU \"fleet\" edition",
        description="Road signs seen by the **EU fleet**.",
        tags=["vision", "detection"],
        locations=[LocationSpec(uri="s3://kura-data/signs/", role="primary"),
                   LocationSpec(uri="file:///mnt/nas/signs", role="backup")],
        stewards=[steward],
        datasheet=ANSWERS,
    )
    guideline_revise(dataset=dataset, body="Box every sign, **tightly**.", label_schema={}, actor=owner)
    make_version(dataset, "v1", files=2)
    make_version(dataset, "v2", files=3)
    return dataset


def export(api: Any, slug: str, **params: str) -> Any:
    return api.get(f"/api/v1/datasets/{slug}/export/croissant/", params)


def test_a_documented_dataset_exports_valid_croissant_with_its_rai_answers_and_files(api, owner, documented, tmp_path):
    api.credentials(HTTP_AUTHORIZATION=bearer(owner))

    response = export(api, "street-signs")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/ld+json; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="street-signs.croissant.json"'
    document = json.loads(response.content)
    validate(document, tmp_path, NOT_SEMANTIC)
    assert document["conformsTo"] == ["http://mlcommons.org/croissant/1.1", "http://mlcommons.org/croissant/RAI/1.0"]
    assert document["name"] == 'Street signs: EU "fleet" edition'
    assert document["identifier"] == "kura://street-signs@v2"
    assert document["version"] == "v2"
    assert document["license"] == "http://spdx.org/licenses/CC-BY-4.0"
    assert document["keywords"] == ["detection", "vision"]
    assert document["creator"] == {"@type": "sc:Person", "name": "Olivia Owner", "email": "olivia@example.com"}
    assert document["maintainer"] == [{"@type": "sc:Person", "name": "Stella Steward", "email": "stella@example.com"}]
    assert document["publisher"]["name"] == owner.primary_unit.name
    assert document[f"{RAI}dataUseCases"] == documented.purpose
    assert document[f"{RAI}dataCollection"] == ANSWERS["collection_process"]
    assert document[f"{RAI}dataPreprocessingProtocol"] == ANSWERS["preprocessing"]
    assert document[f"{RAI}dataBiases"] == ANSWERS["known_biases"]
    assert document[f"{RAI}dataLimitations"] == ANSWERS["known_limitations"]
    assert document[f"{RAI}personalSensitiveInformation"] == ANSWERS["sensitive_information"]
    assert document[f"{RAI}dataReleaseMaintenancePlan"] == ANSWERS["maintenance_plan"]
    assert document[f"{RAI}dataAnnotationProtocol"].startswith("Box every sign, **tightly**.")
    assert "revision 1" in document[f"{RAI}dataAnnotationProtocol"]
    assert ANSWERS["composition"] in document["description"]
    version = documented.versions.get(label="v2")
    files = {file.path: file for file in version.files.all()}
    types = [entry["@type"] for entry in document["distribution"]]
    assert types == ["cr:FileSet"] * 2 + ["cr:FileObject"] * 3  # every location, then the version's files
    for entry in document["distribution"][2:]:
        file = files[entry["name"]]
        assert entry["@id"] == f"file/{file.path}"
        assert entry["contentUrl"] == f"s3://kura-data/signs/{file.path}"  # under the primary location
        assert entry["sha256"] == file.hash
        assert entry["contentSize"] == f"{file.size} B"
        assert entry["encodingFormat"] == "image/jpeg"


def test_an_older_version_is_exported_on_request_and_an_unknown_one_is_a_404(api, owner, documented, tmp_path):
    api.credentials(HTTP_AUTHORIZATION=bearer(owner))

    older = export(api, "street-signs", version="v1")
    missing = export(api, "street-signs", version="v9")

    assert older.status_code == 200
    assert json.loads(older.content)["identifier"] == "kura://street-signs@v1"
    assert len(json.loads(older.content)["distribution"]) == 2 + 2
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "version_not_found"


def test_without_read_access_the_export_has_the_documentation_but_no_locations_or_files(
    api, colleague, documented, tmp_path
):
    api.credentials(HTTP_AUTHORIZATION=bearer(colleague))

    response = export(api, "street-signs")

    assert response.status_code == 200
    document = json.loads(response.content)
    validate(document, tmp_path, NOT_SEMANTIC)
    assert "distribution" not in document
    assert "kura-data" not in response.content.decode()
    assert "images/" not in response.content.decode()
    assert document[f"{RAI}dataBiases"] == ANSWERS["known_biases"]

    grant(documented, colleague, Level.READ)
    assert len(json.loads(export(api, "street-signs").content)["distribution"]) == 2 + 3


def test_a_large_version_points_at_its_locations_and_manifest_instead_of_listing_files(
    api, owner, documented, tmp_path, monkeypatch
):
    monkeypatch.setattr(document_module, "MAX_LISTED_FILES", 2)
    api.credentials(HTTP_AUTHORIZATION=bearer(owner))

    document = json.loads(export(api, "street-signs").content)

    validate(document, tmp_path, NOT_SEMANTIC)
    entries = {entry["@id"]: entry for entry in document["distribution"]}
    assert sorted(entries) == ["location/1", "location/2"]  # no file listed
    assert entries["location/1"]["@type"] == "cr:FileSet"
    assert entries["location/1"]["includes"] == "s3://kura-data/signs/**"
    assert entries["location/1"]["description"].startswith("Primary storage location.")
    assert entries["location/2"]["includes"] == "file:///mnt/nas/signs/**"
    assert "/api/v1/datasets/street-signs/versions/v2/manifest/" in entries["location/1"]["description"]
    assert "3 files" in entries["location/1"]["description"]


def test_a_deprecated_dataset_says_so_in_its_maintenance_plan_and_headers(api, owner, documented, tmp_path):
    successor = make_dataset(owner, slug="street-signs-2026")
    dataset_update(
        dataset=documented, actor=owner, status="deprecated", deprecation_note="Relabelled.", superseded_by=successor
    )
    api.credentials(HTTP_AUTHORIZATION=bearer(owner))

    response = export(api, "street-signs")

    document = json.loads(response.content)
    validate(document, tmp_path, NOT_SEMANTIC)
    plan = document[f"{RAI}dataReleaseMaintenancePlan"]
    assert plan.startswith(ANSWERS["maintenance_plan"])
    assert "deprecated" in plan and "Relabelled." in plan
    assert plan.endswith("/datasets/street-signs-2026/")
    assert "Deprecation" in response.headers


def test_an_undocumented_dataset_without_versions_still_exports_valid_croissant(api, owner, tmp_path):
    make_dataset(owner, slug="bare", locations=[])
    api.credentials(HTTP_AUTHORIZATION=bearer(owner))

    response = export(api, "bare")

    document = json.loads(response.content)
    validate(document, tmp_path, NO_VERSION, NO_LICENCE)
    assert "identifier" not in document and "distribution" not in document and "license" not in document


def test_hidden_and_missing_datasets_answer_the_same_404(api, owner, documented):
    hidden = make_dataset(owner, slug="hidden", visibility="restricted")
    outsider = make_person("otto")
    api.credentials(HTTP_AUTHORIZATION=bearer(outsider))

    hidden_answer = export(api, hidden.slug)
    missing_answer = export(api, "no-such-dataset")
    unknown_format = api.get("/api/v1/datasets/street-signs/export/xml/")

    assert hidden_answer.status_code == missing_answer.status_code == 404
    assert hidden_answer.json() == missing_answer.json()
    assert unknown_format.status_code == 404
    assert unknown_format.json()["error"]["code"] == "export_format_unknown"


def test_a_licence_kura_cannot_name_travels_as_written(api, owner, documented, tmp_path):
    terms = "Internal use only (fleet agreement 2023-07)"
    dataset_update(dataset=documented, actor=owner, datasheet={"licence": terms})
    api.credentials(HTTP_AUTHORIZATION=bearer(owner))

    document = json.loads(export(api, "street-signs").content)

    validate(document, tmp_path, NOT_SEMANTIC)
    assert document["license"] == "Internal use only (fleet agreement 2023-07)"


def test_a_semantic_version_label_is_the_croissant_version(api, owner, tmp_path):
    dataset = make_dataset(owner, slug="semver")
    make_version(dataset, "1.2.0")
    api.credentials(HTTP_AUTHORIZATION=bearer(owner))

    document = json.loads(export(api, "semver").content)

    validate(document, tmp_path, NO_LICENCE)
    assert document["version"] == "1.2.0"
    assert document["identifier"] == "kura://semver@1.2.0"


def test_a_former_slug_exports_under_the_current_one(api, owner, documented):
    dataset_update(dataset=documented, actor=owner, slug="road-signs")
    api.credentials(HTTP_AUTHORIZATION=bearer(owner))

    response = export(api, "street-signs")

    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="road-signs.croissant.json"'
    assert json.loads(response.content)["alternateName"] == "road-signs"
