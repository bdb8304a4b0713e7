"""A dataset's documentation as DCAT 3 JSON-LD (https://www.w3.org/TR/vocab-dcat-3/).

The dataset is a ``dcat:Dataset`` identified by its catalog page. Its status maps to the ADMS status
vocabulary, a successor is ``dcterms:isReplacedBy``. The documented version is a ``dcat:Dataset`` of its own
(``dcat:hasVersion``, ``dcat:version``) whose distribution carries the manifest digest as ``spdx:checksum``
(sha256) — Kura's identity of the version's content. Access URLs (the manifest, each storage location) appear
only when the caller may read the data.
"""

from datetime import datetime
from typing import Any
from urllib.parse import quote

from catalog.documentation.document import DatasetDocument, DocumentVersion
from catalog.documentation.licences import licence_of
from catalog.models import Dataset, StorageLocation

MEDIA_TYPE = "application/ld+json"
CONTEXT = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dcterms": "http://purl.org/dc/terms/",
    "adms": "http://www.w3.org/ns/adms#",
    "spdx": "http://spdx.org/rdf/terms#",
    "vcard": "http://www.w3.org/2006/vcard/ns#",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}
ADMS_STATUS = "http://purl.org/adms/status/"
STATUS = {
    Dataset.Status.DRAFT: "UnderDevelopment",
    Dataset.Status.ACTIVE: "Completed",
    Dataset.Status.DEPRECATED: "Deprecated",
    Dataset.Status.ARCHIVED: "Withdrawn",
}
# Characters an IRI may not hold; a storage path may (a space in a folder name).
_IRI_SAFE = ":/?#[]@!$&'()*+,;=%-._~"


def dcat_document(document: DatasetDocument) -> dict[str, Any]:
    return {"@context": CONTEXT, **dcat_dataset(document)}


def dcat_dataset(document: DatasetDocument) -> dict[str, Any]:
    """The ``dcat:Dataset`` node, for a document of its own or a catalog's list."""
    dataset = document.dataset
    entry: dict[str, Any] = {
        "@id": document.page_url,
        "@type": "dcat:Dataset",
        "dcterms:identifier": dataset.slug,
        "dcterms:title": dataset.name,
        "dcterms:description": "\n\n".join(
            text for text in (dataset.purpose.strip(), dataset.description.strip()) if text
        ),
        "dcat:landingPage": {"@id": document.page_url},
        "dcterms:publisher": {"@type": "foaf:Organization", "foaf:name": dataset.owning_unit.name},
        "dcat:contactPoint": _contact(dataset),
        "dcterms:issued": _date_time(dataset.created_at),
        "dcterms:modified": _date_time(dataset.updated_at),
        "adms:status": {"@id": ADMS_STATUS + STATUS[Dataset.Status(dataset.status)]},
    }
    if document.tags:
        entry["dcat:keyword"] = document.tags
    licence = _licence(dataset.licence)
    if licence:
        entry["dcterms:license"] = licence
    if document.successor_url:
        entry["dcterms:isReplacedBy"] = {"@id": document.successor_url}
    if document.version is not None:
        entry["dcat:hasVersion"] = _version(document, document.version)
    if document.locations:
        entry["dcat:distribution"] = [_location(location) for location in document.locations]
    return entry


def _date_time(moment: datetime) -> dict[str, str]:
    return {"@value": moment.isoformat(), "@type": "xsd:dateTime"}


def _iri(uri: str) -> dict[str, str]:
    return {"@id": quote(uri, safe=_IRI_SAFE)}


def _contact(dataset: Dataset) -> dict[str, Any]:
    card: dict[str, Any] = {
        "@type": "vcard:Individual",
        "vcard:fn": dataset.owner.display_name,
        "vcard:organization-name": dataset.owning_unit.name,
    }
    if dataset.owner.email:
        card["vcard:hasEmail"] = {"@id": f"mailto:{dataset.owner.email}"}
    return card


def _licence(text: str) -> dict[str, Any] | None:
    licence = licence_of(text)
    if not licence.text:
        return None
    iri = licence.spdx_iri or licence.url
    if iri:
        return {**_iri(iri), "@type": "dcterms:LicenseDocument"}
    return {"@type": "dcterms:LicenseDocument", "rdfs:label": licence.text}


def _version(document: DatasetDocument, documented: DocumentVersion) -> dict[str, Any]:
    version = documented.version
    distribution: dict[str, Any] = {
        "@type": "dcat:Distribution",
        "dcterms:title": f"{document.dataset.slug}@{version.label}",
        "dcterms:description": (
            f"The {version.file_count} files of version {version.label}. The checksum is the sha256 of the version's "
            "canonical manifest (one 'path<TAB>size<TAB>hash' line per file, sorted by path), which identifies "
            "its content."
        ),
        "dcat:byteSize": {"@value": str(version.total_bytes), "@type": "xsd:nonNegativeInteger"},
        "spdx:checksum": {
            "@type": "spdx:Checksum",
            "spdx:algorithm": {"@id": "spdx:checksumAlgorithm_sha256"},
            "spdx:checksumValue": {"@value": version.digest, "@type": "xsd:hexBinary"},
        },
    }
    if document.can_read:
        distribution["dcat:accessURL"] = {"@id": documented.manifest_url}
    entry: dict[str, Any] = {
        "@id": documented.page_url,
        "@type": "dcat:Dataset",
        "dcterms:identifier": f"{document.dataset.slug}@{version.label}",
        "dcterms:title": f"{document.dataset.name} ({version.label})",
        "dcat:version": version.label,
        "dcat:isVersionOf": {"@id": document.page_url},
        "dcat:landingPage": {"@id": documented.page_url},
        "dcat:distribution": distribution,
    }
    if version.published_at:
        entry["dcterms:issued"] = _date_time(version.published_at)
    return entry


def _location(location: StorageLocation) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "@type": "dcat:Distribution",
        "dcterms:title": f"{location.get_role_display()} storage location",
        "dcat:accessURL": _iri(location.uri),
    }
    if location.note:
        entry["dcterms:description"] = location.note
    return entry
