"""The Hugging Face card and DCAT exports, read back with a real YAML parser and a real JSON-LD parser."""

import pytest
import yaml
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rdflib import RDF, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, FOAF, RDFS, XSD

from access.models import Level
from annotations.services import guideline_revise
from catalog.documentation.document import dataset_document
from catalog.documentation.formats import EXPORT_FORMATS
from catalog.documentation.hf_card import size_category
from catalog.models import Dataset
from catalog.selectors import dataset_resolve
from catalog.services import LocationSpec, dataset_update
from tests.factories import bearer, grant, make_dataset, make_version

pytestmark = pytest.mark.django_db

DCAT = Namespace("http://www.w3.org/ns/dcat#")  # rdflib's own DCAT namespace predates DCAT 3's versioning terms
ADMS = Namespace("http://www.w3.org/ns/adms#")
SPDX = Namespace("http://spdx.org/rdf/terms#")
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
STATUS = Namespace("http://purl.org/adms/status/")

HOSTILE_NAME = 'Street signs: "EU" edition #2 - yes'
HOSTILE_LICENCE = "Internal: 'no export'\n---\nlicense: mit # really"
LOCATIONS = [
    LocationSpec(uri="s3://kura-signs/v2/", note="Training copy"),
    LocationSpec(uri="file:///mnt/nas/street signs/", role="mirror"),
]
SCHEMA = {"classes": [{"name": "sign", "definition": "A traffic sign, any country."}]}


def url(path: str) -> str:
    return f"http://testserver{path}"


def page(slug: str) -> str:
    return url(reverse("frontend:dataset-detail", kwargs={"slug": slug}))


def export(api, slug: str, name: str, **params):
    return api.get(f"/api/v1/datasets/{slug}/export/{name}/", params)


@pytest.fixture
def signs(owner):
    dataset = make_dataset(owner, slug="street-signs", name=HOSTILE_NAME, tags=["signs", "yes", "1e3"],
                           locations=LOCATIONS)
    dataset_update(dataset=dataset, actor=owner, datasheet=dict(
        composition="One JPEG per sign crop; 40% are night shots.",
        sensitive_information="Faces and plates are blurred before upload.",
        collection_process="Dashcams of the EU test fleet, 2024-2025.",
        preprocessing="Crops resized to 256 px; near-duplicates removed.",
        known_biases="Few signs from Nordic countries.",
        known_limitations="Not for speed-limit reading at night.",
        licence=HOSTILE_LICENCE,
        maintenance_plan="Refreshed every quarter by the Perception team.",
    ))
    guideline_revise(dataset=dataset, body="# Signs\n\nBox every sign.\n", label_schema=SCHEMA, actor=owner)
    make_version(dataset, "v1")
    make_version(dataset, "v2", files=5)
    return Dataset.objects.get(pk=dataset.pk)


def graph_of(response) -> Graph:
    return Graph().parse(data=response.content.decode(), format="json-ld")


def front_matter(card: str) -> dict:
    assert card.startswith("---\n")
    metadata, _, _ = card[4:].partition("\n---\n")
    return yaml.safe_load(metadata)


# DCAT


def test_dcat_states_status_successor_checksum_and_locations_for_a_reader(api, owner, signs):
    successor = make_dataset(owner, slug="street-signs-2")
    dataset_update(dataset=signs, actor=owner, status=Dataset.Status.DEPRECATED, superseded_by=successor,
                   deprecation_note="Relabelled in street-signs-2.")
    api.credentials(HTTP_AUTHORIZATION=bearer(owner))

    response = export(api, "street-signs", "dcat")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/ld+json; charset=utf-8"
    assert 'filename="street-signs.dcat.jsonld"' in response["Content-Disposition"]
    assert "Deprecation" in response
    graph = graph_of(response)
    dataset = URIRef(page("street-signs"))
    assert (dataset, RDF.type, DCAT.Dataset) in graph
    assert graph.value(dataset, DCTERMS.identifier) == Literal("street-signs")
    assert graph.value(dataset, DCTERMS.title) == Literal(HOSTILE_NAME)
    assert graph.value(dataset, DCAT.landingPage) == dataset
    assert set(graph.objects(dataset, DCAT.keyword)) == {Literal("signs"), Literal("yes"), Literal("1e3")}
    assert graph.value(dataset, ADMS.status) == STATUS.Deprecated
    assert graph.value(dataset, DCTERMS.isReplacedBy) == URIRef(page("street-signs-2"))
    assert graph.value(graph.value(dataset, DCTERMS.publisher), FOAF.name) == Literal("Perception")
    contact = graph.value(dataset, DCAT.contactPoint)
    assert (contact, RDF.type, VCARD.Individual) in graph
    assert graph.value(contact, VCARD.fn) == Literal("Olivia Owner")
    assert graph.value(contact, VCARD.hasEmail) == URIRef("mailto:olivia@example.com")
    assert graph.value(dataset, DCTERMS.issued).datatype == XSD.dateTime
    assert graph.value(dataset, DCTERMS.modified).datatype == XSD.dateTime

    version = graph.value(dataset, DCAT.hasVersion)
    assert version == URIRef(url(reverse("frontend:version-detail", kwargs={"slug": "street-signs", "label": "v2"})))
    assert (version, RDF.type, DCAT.Dataset) in graph
    assert graph.value(version, DCAT.version) == Literal("v2")
    assert graph.value(version, DCAT.isVersionOf) == dataset
    version_distribution = graph.value(version, DCAT.distribution)
    checksum = graph.value(version_distribution, SPDX.checksum)
    assert graph.value(checksum, SPDX.algorithm) == SPDX.checksumAlgorithm_sha256
    value = graph.value(checksum, SPDX.checksumValue)
    assert value.datatype == XSD.hexBinary
    assert str(value) == signs.versions.get(label="v2").digest
    assert graph.value(version_distribution, DCAT.accessURL) == URIRef(
        url("/api/v1/datasets/street-signs/versions/v2/manifest/")
    )
    location_urls = {graph.value(distribution, DCAT.accessURL) for distribution in graph.objects(dataset,
                                                                                                  DCAT.distribution)}
    assert location_urls == {URIRef("s3://kura-signs/v2/"), URIRef("file:///mnt/nas/street%20signs/")}


def test_dcat_gives_no_access_url_to_a_viewer_without_read_access(api, colleague, signs):
    api.credentials(HTTP_AUTHORIZATION=bearer(colleague))

    graph = graph_of(export(api, "street-signs", "dcat"))

    assert not list(graph.triples((None, DCAT.accessURL, None)))
    assert "kura-signs" not in graph.serialize(format="nt")
    dataset = URIRef(page("street-signs"))
    assert graph.value(dataset, ADMS.status) == STATUS.Completed
    checksums = list(graph.objects(None, SPDX.checksumValue))
    assert [str(checksum) for checksum in checksums] == [signs.versions.get(label="v2").digest]


def test_dcat_gives_access_urls_once_read_is_granted(api, colleague, signs):
    grant(signs, colleague, Level.READ)
    api.credentials(HTTP_AUTHORIZATION=bearer(colleague))

    graph = graph_of(export(api, "street-signs", "dcat", version="v1"))

    access_urls = set(graph.objects(None, DCAT.accessURL))
    assert URIRef("s3://kura-signs/v2/") in access_urls
    assert URIRef(url("/api/v1/datasets/street-signs/versions/v1/manifest/")) in access_urls
    version = graph.value(URIRef(page("street-signs")), DCAT.hasVersion)
    assert graph.value(version, DCAT.version) == Literal("v1")


@pytest.mark.parametrize(
    ("status", "adms"),
    [("draft", "UnderDevelopment"), ("active", "Completed"), ("deprecated", "Deprecated"), ("archived", "Withdrawn")],
)
def test_dcat_maps_each_status_to_the_adms_vocabulary(api, owner, status, adms):
    make_dataset(owner, slug="mapped", status=status)
    api.credentials(HTTP_AUTHORIZATION=bearer(owner))

    graph = graph_of(export(api, "mapped", "dcat"))

    assert graph.value(URIRef(page("mapped")), ADMS.status) == STATUS[adms]


@pytest.mark.parametrize(
    ("licence", "iri"),
    [
        ("CC-BY-4.0", "http://spdx.org/licenses/CC-BY-4.0"),
        ("gpl-3.0-or-later", "http://spdx.org/licenses/GPL-3.0-or-later"),
        ("https://example.com/terms/acme-data", "https://example.com/terms/acme-data"),
        (HOSTILE_LICENCE, None),
    ],
)
def test_dcat_licence_is_the_spdx_licence_the_given_address_or_the_text(api, owner, licence, iri):
    dataset = make_dataset(owner, slug="licensed")
    dataset_update(dataset=dataset, actor=owner, datasheet={"licence": licence})
    api.credentials(HTTP_AUTHORIZATION=bearer(owner))

    graph = graph_of(export(api, "licensed", "dcat"))

    node = graph.value(URIRef(page("licensed")), DCTERMS.license)
    assert (node, RDF.type, DCTERMS.LicenseDocument) in graph
    if iri:
        assert node == URIRef(iri)
    else:
        assert graph.value(node, RDFS.label) == Literal(HOSTILE_LICENCE)


# Hugging Face card


def test_hf_card_round_trips_hostile_text_and_shows_locations_to_the_owner(api, owner, signs):
    api.force_login(owner.user)  # the browser's session

    response = export(api, "street-signs", "hf-card")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert 'filename="street-signs.README.md"' in response["Content-Disposition"]
    card = response.content.decode()
    metadata = front_matter(card)
    assert metadata["pretty_name"] == HOSTILE_NAME
    assert metadata["license"] == "other"
    assert metadata["license_details"] == HOSTILE_LICENCE
    assert metadata["license_name"] == "internal-no-export-license-mit-really"
    assert metadata["license_link"] == page("street-signs")
    assert metadata["tags"] == ["1e3", "signs", "yes"]
    assert metadata["size_categories"] == ["n<1K"]
    assert metadata["viewer"] is False
    # The Hub reads YAML 1.2, where a plain 1e3 is a number (PyYAML, a 1.1 reader, would not notice).
    assert '\n- "1e3"\n' in card
    body = card.split("\n---\n", 1)[1]
    for heading in (
        "# Dataset Card for Street signs: \"EU\" edition \\#2 - yes", "## Dataset Details", "### Dataset Description",
        "## Uses", "### Direct Use", "### Out-of-Scope Use", "## Dataset Structure", "## Dataset Creation",
        "### Curation Rationale", "### Source Data", "#### Data Collection and Processing", "### Annotations",
        "#### Annotation process", "### Personal and Sensitive Information", "## Bias, Risks, and Limitations",
        "## More Information", "### Maintenance", "## Dataset Card Contact",
    ):
        assert f"\n{heading}\n" in f"\n{body}", heading
    for answer in ("One JPEG per sign crop", "Faces and plates are blurred", "Dashcams of the EU test fleet",
                   "Crops resized to 256 px", "Few signs from Nordic countries", "Not for speed-limit reading",
                   "Refreshed every quarter", "Training the street-sign detector", "**sign**: A traffic sign"):
        assert answer in body, answer
    assert url(reverse("frontend:guideline", kwargs={"slug": "street-signs"})) in body
    assert f"`sha256:{signs.versions.get(label='v2').digest}`" in body
    assert "[Olivia Owner](mailto:olivia@example.com)" in body
    assert "### Storage Locations" in body
    assert "`s3://kura-signs/v2/` (Primary): Training copy" in body
    assert "`file:///mnt/nas/street signs/` (Mirror)" in body
    assert url("/api/v1/datasets/street-signs/versions/v2/manifest/") in body


def test_hf_card_for_a_metadata_only_viewer_leaves_out_locations_and_manifest(api, colleague, signs):
    api.credentials(HTTP_AUTHORIZATION=bearer(colleague))

    card = export(api, "street-signs", "hf-card").content.decode()

    assert front_matter(card)["pretty_name"] == HOSTILE_NAME
    assert f"sha256:{signs.versions.get(label='v2').digest}" in card
    assert "## Dataset Structure" in card
    assert "Storage Locations" not in card
    assert "kura-signs" not in card and "/mnt/nas" not in card
    assert "/manifest/" not in card


@pytest.mark.parametrize(
    ("licence", "expected"),
    [
        ("CC-BY-4.0", {"license": "cc-by-4.0"}),
        ("GPL-3.0-or-later", {"license": "gpl-3.0"}),
        ("odbl", {"license": "odbl"}),
        ("", {"license": "unknown"}),
        ("https://example.com/terms/acme-data-1.0", {
            "license": "other", "license_name": "acme-data-1.0",
            "license_link": "https://example.com/terms/acme-data-1.0",
        }),
    ],
)
def test_hf_card_licence_uses_the_hub_identifier_when_there_is_one(api, owner, licence, expected):
    dataset = make_dataset(owner, slug="licensed")
    dataset_update(dataset=dataset, actor=owner, datasheet={"licence": licence})
    api.credentials(HTTP_AUTHORIZATION=bearer(owner))

    metadata = front_matter(export(api, "licensed", "hf-card").content.decode())

    assert {key: metadata.get(key) for key in expected} == expected
    if expected["license"] != "other":
        assert "license_name" not in metadata and "license_link" not in metadata


def test_size_categories_follow_the_hub_bounds():
    assert [size_category(count) for count in (0, 999, 1000, 99_999, 100_000, 10**12)] == [
        "n<1K", "n<1K", "1K<n<10K", "10K<n<100K", "100K<n<1M", "n>1T",
    ]


# Formats in general


def test_formats_render_from_the_document_without_queries(owner, signs):
    dataset = dataset_resolve(user=owner.user, slug="street-signs").dataset
    document = dataset_document(user=owner.user, dataset=dataset, absolute=url)

    for name in ("hf-card", "dcat"):
        with CaptureQueriesContext(connection) as queries:
            EXPORT_FORMATS[name].render(document)
        assert len(queries) == 0, (name, [query["sql"][:80] for query in queries])


def test_unknown_format_is_a_json_404_with_a_stable_code(api, owner, signs):
    api.credentials(HTTP_AUTHORIZATION=bearer(owner))

    response = export(api, "street-signs", "rdf-xml")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "export_format_unknown"
    assert "hf-card" in response.json()["error"]["message"] and "dcat" in response.json()["error"]["message"]


@pytest.mark.parametrize("name", ["hf-card", "dcat"])
def test_a_hidden_dataset_is_exported_as_missing(api, owner, colleague, name):
    make_dataset(owner, slug="secret-faces", visibility="restricted")
    api.credentials(HTTP_AUTHORIZATION=bearer(colleague))

    hidden = export(api, "secret-faces", name)
    missing = export(api, "no-such-thing", name)

    assert hidden.status_code == missing.status_code == 404
    assert hidden.json() == missing.json() == {"error": {"code": "not_found", "message": "Not found."}}
