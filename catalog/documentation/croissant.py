"""A dataset's documentation as Croissant 1.1 JSON-LD with the Responsible AI vocabulary (RAI 1.0).

Mapping (DESIGN §6): purpose → ``rai:dataUseCases``, annotation rules → ``rai:dataAnnotationProtocol``,
deprecation and the maintenance plan → ``rai:dataReleaseMaintenancePlan``, the datasheet's other answers to
the RAI property ``catalog.datasheet`` names, the version's manifest → ``cr:FileObject`` with
``sha256``/``md5`` and ``contentSize``. ``conformsTo`` always names both specifications.
"""

import mimetypes
import re
from typing import Any

from catalog.datasheet import FIELDS as DATASHEET_FIELDS
from catalog.documentation.document import DatasetDocument, DocumentVersion
from catalog.documentation.licences import licence_of
from catalog.models import ManifestFile, StorageLocation

CROISSANT_1_1 = "http://mlcommons.org/croissant/1.1"
RAI_1_0 = "http://mlcommons.org/croissant/RAI/1.0"
MEDIA_TYPE = "application/ld+json"

# Croissant 1.1's published @context, as its reference implementation (mlcroissant) writes it.
CONTEXT: dict[str, Any] = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "arrayShape": "cr:arrayShape",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "containedIn": "cr:containedIn",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "description": {"@container": "@language"},
    "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isArray": "cr:isArray",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "name": {"@container": "@language"},
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}

_HEX = re.compile(r"[0-9a-f]+")
# Two id spaces, so no manifest path can take a location's id.
FILE_ID_PREFIX = "file/"
LOCATION_ID_PREFIX = "location/"


def croissant_document(document: DatasetDocument) -> dict[str, Any]:
    dataset = document.dataset
    version = document.version
    metadata: dict[str, Any] = {
        "@context": CONTEXT,
        "@type": "sc:Dataset",
        "conformsTo": [CROISSANT_1_1, RAI_1_0],
        "name": dataset.name,
        "alternateName": dataset.slug,
        "description": _description(document),
        "url": document.page_url,
        "sameAs": document.api_url,
        "creator": _person(dataset.owner),
        "publisher": {"@type": "sc:Organization", "name": dataset.owning_unit.name},
        "dateCreated": dataset.created_at.isoformat(),
        "dateModified": dataset.updated_at.isoformat(),
        "citeAs": _citation(document),
        "isLiveDataset": False,
    }
    if document.stewards:
        metadata["maintainer"] = [_person(steward) for steward in document.stewards]
    if dataset.licence:
        licence = licence_of(dataset.licence)
        # A known licence as its SPDX page, which indexers recognise; anything else as written.
        metadata["license"] = licence.spdx_iri or dataset.licence
    if document.tags:
        metadata["keywords"] = document.tags
    if version is not None:
        # Croissant recommends a semantic version and warns about others; Kura's labels are free (v3,
        # 2026-11-01) and stay as they are: the label is what CI resolves, also through this identifier.
        metadata["version"] = version.version.label
        metadata["identifier"] = f"kura://{dataset.slug}@{version.version.label}"
    published = version.version.published_at if version is not None else None
    metadata["datePublished"] = (published or dataset.created_at).isoformat()
    metadata.update(_rai(document))
    distribution = _distribution(document)
    if distribution:
        metadata["distribution"] = distribution
    return metadata


def _description(document: DatasetDocument) -> str:
    dataset = document.dataset
    parts = [dataset.description.strip() or dataset.purpose.strip()]
    if dataset.composition:
        parts.append(f"Composition: {dataset.composition.strip()}")
    return "\n\n".join(parts)


def _person(person: Any) -> dict[str, Any]:
    entry = {"@type": "sc:Person", "name": person.display_name}
    if person.email:
        entry["email"] = person.email
    return entry


def _citation(document: DatasetDocument) -> str:
    dataset = document.dataset
    year = (document.version.version.published_at if document.version else None) or dataset.created_at
    note = f", version {{{document.version.version.label}}}" if document.version else ""
    return (
        f"@misc{{{dataset.slug}, title = {{{dataset.name}}}, author = {{{dataset.owner.display_name}}}, "
        f"year = {{{year:%Y}}}, howpublished = {{\\url{{{document.page_url}}}}}{note}}}"
    )


def _rai(document: DatasetDocument) -> dict[str, str]:
    dataset = document.dataset
    properties = {"rai:dataUseCases": dataset.purpose}
    for field in DATASHEET_FIELDS:
        text = getattr(dataset, field.name)
        if field.rai and text:
            properties[field.rai] = text
    if document.rules is not None:
        properties["rai:dataAnnotationProtocol"] = (
            f"{document.rules.body.strip()}\n\n(Annotation rules revision {document.rules.number}: "
            f"{document.rules_url})"
        )
    plan = [text for text in (dataset.maintenance_plan.strip(), " ".join(document.warnings)) if text]
    if document.successor_url:
        plan.append(f"Superseded by {document.successor_url}")
    if plan:
        properties["rai:dataReleaseMaintenancePlan"] = "\n\n".join(plan)
    return properties


def _distribution(document: DatasetDocument) -> list[dict[str, Any]]:
    """Each storage location as the set of files under it, and the version's files (under the primary location)
    where the caller may read them and Kura lists them all."""
    if not document.locations:
        return []  # no read access, or nowhere to point at
    version = document.version
    locations = [_location_set(location, index, version) for index, location in enumerate(document.locations)]
    if version is None or not version.all_files_listed or not version.files:
        return locations
    primary = document.locations[0]  # in role order: the primary location, where there is one
    return locations + [_file_object(file, primary.uri) for file in version.files]


def _file_object(file: ManifestFile, base: str) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "@type": "cr:FileObject",
        "@id": f"{FILE_ID_PREFIX}{file.path}",
        "name": file.path,
        "contentUrl": f"{base.rstrip('/')}/{file.path}",  # under dvc://repository#output too
        "contentSize": f"{file.size} B",
        "encodingFormat": mimetypes.guess_type(file.path)[0] or "application/octet-stream",
    }
    digest = file.hash.lower().removeprefix("sha256:").removeprefix("md5:")
    if _HEX.fullmatch(digest):
        if len(digest) == 64:
            entry["sha256"] = digest
        elif len(digest) == 32:
            entry["md5"] = digest
    return entry


def _location_set(location: StorageLocation, index: int, version: DocumentVersion | None) -> dict[str, Any]:
    """A storage location as the set of files under it (a folder has no checksum, so it is no FileObject).
    The description's first sentence is the one ``croissant_locations`` reads the role and note back from."""
    description = f"{location.get_role_display()} storage location{f': {location.note}' if location.note else ''}."
    if version is not None:
        description += (
            f" Version {version.version.label}: {version.version.file_count} files, {version.version.total_bytes} "
            f"bytes; the full list with hashes: {version.manifest_url}"
        )
    return {
        "@type": "cr:FileSet",
        "@id": f"{LOCATION_ID_PREFIX}{index + 1}",
        "name": location.uri,
        "description": description,
        "includes": f"{location.uri.rstrip('/')}/**",
        "encodingFormat": "application/octet-stream",
    }
