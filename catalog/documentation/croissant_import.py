"""What Kura can take from a Croissant 1.1 (+ RAI 1.0) document: the inverse of ``croissant``.

Name, description, purpose (``rai:dataUseCases``), the datasheet by the RAI property each field maps to
(``catalog.datasheet``), licence, keywords as tags, storage locations (``croissant_locations``), the annotation
rules (``rai:dataAnnotationProtocol``) and the version its files spell out (``croissant_version``). Keys may be
compacted or full IRIs (``jsonld``). Everything left out or changed on the way is said in ``notes``. Nothing here
writes: ``catalog.imports`` creates the dataset.
"""

import json
import re
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError

from catalog.datasheet import FIELDS as DATASHEET_FIELDS
from catalog.datasheet import LICENCE_MAX_LENGTH, SECTIONS
from catalog.documentation.croissant_locations import ImportedLocation, storage_locations
from catalog.documentation.croissant_version import ImportedVersion, imported_version
from catalog.documentation.jsonld import DCT, RAI, SCHEMA, Node, Terms
from catalog.documentation.licences import spdx_identifier_at
from catalog.validators import TAG_MAX_LENGTH, normalise_tag, validate_dataset_slug
from kura.text import nests_deeper_than, storable

MAX_DOCUMENT_BYTES = 5 * 1024 * 1024
MAX_DEPTH = 64
MAX_NAME_LENGTH = 200  # Dataset.name
MAX_TAGS = 50

# The datasheet's fields by the RAI property that carries them, as IRIs.
_DATASHEET_BY_IRI = {RAI + item.rai.removeprefix("rai:"): item.name for item in DATASHEET_FIELDS if item.rai}
_SECTION_OF = {item.name: section.title for section in SECTIONS for item in section.fields}
# Finer RAI properties answering a question of a datasheet section (missing data is one of Composition's) or
# of the labelling: appended there under their own label.
_FOLDED = {
    RAI + "dataCollectionType": ("collection_process", "Collection type"),
    RAI + "dataCollectionTimeframe": ("collection_process", "Time frame"),
    RAI + "dataCollectionRawData": ("collection_process", "Raw data"),
    RAI + "dataCollectionMissingData": ("composition", "Missing data"),
    RAI + "dataImputationProtocol": ("preprocessing", "Imputation"),
    RAI + "dataManipulationProtocol": ("preprocessing", "Manipulation"),
    RAI + "dataSocialImpact": ("known_limitations", "Social impact"),
    RAI + "dataAnnotationPlatform": (None, "Annotation platform"),
    RAI + "dataAnnotationAnalysis": (None, "Annotation analysis"),
    RAI + "annotationsPerItem": (None, "Annotations per item"),
    RAI + "annotatorDemographics": (None, "Annotator demographics"),
    RAI + "machineAnnotationTools": (None, "Machine annotation tools"),
}
# What Kura's own export adds to the texts it writes (``croissant._description``, ``croissant._rai``).
_COMPOSITION_PARAGRAPH = re.compile(r"(?:\A|\n[ \t]*\n)Composition: ")
_RULES_REFERENCE = re.compile(r"\s*\(Annotation rules revision \d+: [^\s)]+\)\s*\Z")
_DATASET = SCHEMA + "Dataset"


class CroissantRejected(Exception):
    """The document cannot be imported at all; ``code`` is stable (the API reports it)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class CroissantImport:
    name: str
    description: str
    purpose: str  # "" when the document states no rai:dataUseCases
    slug_hint: str  # the document's alternateName when it already is a valid slug (Kura's export writes it so)
    datasheet: dict[str, str]  # only the answered fields
    tags: list[str]
    locations: list[ImportedLocation]
    annotation_rules: str
    version: ImportedVersion | None = None
    notes: list[str] = field(default_factory=list)


def check_document_size(size: int) -> None:
    if size > MAX_DOCUMENT_BYTES:
        raise CroissantRejected(
            "croissant_too_large",
            f"The document is larger than {MAX_DOCUMENT_BYTES // (1024 * 1024)} MB; a Croissant file describes a "
            "dataset, it need not list every file of a large one.",
        )


def croissant_json(raw: bytes) -> Any:
    """The parsed JSON of an uploaded document, refusing one too large, not JSON, too deep or not storable."""
    check_document_size(len(raw))
    too_deep = CroissantRejected("croissant_too_deep", f"The document nests more than {MAX_DEPTH} levels deep.")
    try:
        document = json.loads(raw.decode("utf-8-sig"))
    except RecursionError as error:
        raise too_deep from error
    except json.JSONDecodeError as error:
        raise CroissantRejected(
            "croissant_not_json",
            f"The document is not valid JSON ({error.msg} at line {error.lineno}, column {error.colno}).",
        ) from error
    except UnicodeDecodeError as error:
        raise CroissantRejected("croissant_not_json", "The document is not valid JSON (not UTF-8 text).") from error
    if nests_deeper_than(document, MAX_DEPTH):
        raise too_deep
    if not storable(document):
        raise CroissantRejected(
            "croissant_not_json", "The document holds text with a NUL character or an unpaired surrogate."
        )
    return document


def croissant_import(document: Any) -> CroissantImport:
    """What ``document`` (parsed JSON) gives Kura, with a note for each thing left out or changed."""
    if not isinstance(document, dict):
        kind = "a list" if isinstance(document, list) else "a single value"
        raise CroissantRejected(
            "croissant_not_object", f"A Croissant document is one JSON object (the dataset's metadata), not {kind}."
        )
    notes: list[str] = []
    terms = Terms(document.get("@context"))
    node = Node(_dataset_node(document, terms, notes), terms, notes)
    node.read.add(DCT + "conformsTo")  # which specifications it follows: nothing to keep
    name = _name(node)
    purpose = node.text(RAI + "dataUseCases")
    description, composition = _description(node, purpose)
    datasheet = {name_: "" for name_ in _SECTION_OF} | {"composition": composition}
    for iri, field_name in _DATASHEET_BY_IRI.items():
        datasheet[field_name] = node.text(iri)
    rules = _fold(node, datasheet, _rules(node))
    datasheet["licence"] = _licence(node)
    result = CroissantImport(
        name=name,
        description=description,
        purpose=purpose,
        slug_hint=_slug_hint(node),
        datasheet={key: text for key, text in datasheet.items() if text},
        tags=_tags(node),
        locations=(locations := storage_locations(node)),
        annotation_rules=rules,
        version=imported_version(node, locations),
        notes=notes,
    )
    unused = node.unused()
    if unused:
        notes.append(f"Not imported, Kura keeps no such field: {', '.join(unused)}.")
    return result


def _dataset_node(document: dict[str, Any], terms: Terms, notes: list[str]) -> dict[str, Any]:
    candidates = [document]
    if "@type" not in document and isinstance(document.get("@graph"), list):
        candidates = [item for item in document["@graph"] if isinstance(item, dict)]
    datasets = [item for item in candidates if _DATASET in Node(item, terms, notes).types()]
    if len(datasets) == 1:
        return datasets[0]
    if len(datasets) > 1:
        raise CroissantRejected(
            "croissant_not_dataset", f"The document describes {len(datasets)} datasets; import them one at a time."
        )
    found = document.get("@type")
    said = f"its @type is {json.dumps(found)[:100]}" if found is not None else "it has no @type"
    raise CroissantRejected(
        "croissant_not_dataset",
        f"The document is not a Croissant dataset: {said}, where a Croissant file says \"@type\": \"sc:Dataset\" "
        "(schema.org Dataset).",
    )


def _name(node: Node) -> str:
    name = " ".join(node.text(SCHEMA + "name", separator=" ").split())
    if not name:
        raise CroissantRejected("croissant_missing_name", "The dataset has no name (schema.org 'name').")
    if len(name) > MAX_NAME_LENGTH:
        node.notes.append(f"The name was cut to {MAX_NAME_LENGTH} characters; in full it is: {name}")
        name = name[: MAX_NAME_LENGTH - 1].rstrip() + "…"
    return name


def _description(node: Node, purpose: str) -> tuple[str, str]:
    """The description, and the composition Kura's export writes as its last paragraph."""
    description = node.text(SCHEMA + "description")
    composition = ""
    match = _COMPOSITION_PARAGRAPH.search(description)
    if match:
        description, composition = description[: match.start()].strip(), description[match.end():].strip()
        node.notes.append("The description's 'Composition:' paragraph became the datasheet's composition.")
    if description and description == purpose:
        # Kura's export writes the purpose as description when a dataset has none; once is enough.
        description = ""
        node.notes.append("The description only repeated rai:dataUseCases (the purpose); it was left empty.")
    return description, composition


def _rules(node: Node) -> str:
    rules = node.text(RAI + "dataAnnotationProtocol")
    stripped = _RULES_REFERENCE.sub("", rules)
    if stripped != rules:
        node.notes.append("The annotation protocol's link to the exporting catalog's rules revision was dropped.")
    return stripped


def _fold(node: Node, datasheet: dict[str, str], rules: str) -> str:
    """``datasheet`` and the rules with the finer RAI properties appended; returns the rules."""
    for iri, (target, label) in _FOLDED.items():
        text = node.text(iri, separator=", ")
        if not text:
            continue
        paragraph = f"**{label}:** {text}"
        if target is None:
            rules = f"{rules}\n\n{paragraph}".strip()
            where = "the annotation rules"
        else:
            datasheet[target] = f"{datasheet[target]}\n\n{paragraph}".strip()
            where = f"the datasheet's {_SECTION_OF[target]} section"
        node.notes.append(f"{node.key(iri)} was added to {where} under '{label}'.")
    return rules


def _licence(node: Node) -> str:
    """One line: each licence as its text, URL, or "name (url)" of a CreativeWork; several joined by "; ". An
    SPDX licence page (as Kura's export names a known licence) becomes its identifier again."""
    parts: list[str] = []
    for value in node.get(SCHEMA + "license"):
        if isinstance(value, dict) and "@value" not in value:
            work = node.child(value)
            name = work.text(SCHEMA + "name", separator=" ")
            url = work.text(SCHEMA + "url", separator=" ") or str(value.get("@id") or "")
            text = f"{name} ({url})" if name and url and name != url else name or url
        else:
            text = " ".join(node.texts(value, SCHEMA + "license"))
        text = spdx_identifier_at(" ".join(text.split()))
        if text and text not in parts:
            parts.append(text)
    licence = "; ".join(parts)
    if len(licence) > LICENCE_MAX_LENGTH:
        node.notes.append(f"The licence was cut to {LICENCE_MAX_LENGTH} characters; in full it is: {licence}")
        licence = licence[: LICENCE_MAX_LENGTH - 1].rstrip() + "…"
    return licence


def _slug_hint(node: Node) -> str:
    for value in node.values.get(SCHEMA + "alternateName", []):
        if isinstance(value, str):
            try:
                validate_dataset_slug(value)
            except ValidationError:
                continue
            node.read.add(SCHEMA + "alternateName")
            return value
    return ""


def _tags(node: Node) -> list[str]:
    keywords: list[str] = []
    for value in node.get(SCHEMA + "keywords"):
        if isinstance(value, dict) and "@value" not in value:  # a DefinedTerm
            keywords.append(node.child(value).text(SCHEMA + "name", separator=" "))
        else:
            for text in node.texts(value, SCHEMA + "keywords"):
                keywords.extend(text.split(","))  # schema.org allows "a, b, c" as one text
    tags: list[str] = []
    dropped: list[str] = []
    for keyword in keywords:
        try:
            tag = normalise_tag(" ".join(keyword.split()))
        except ValidationError:
            dropped.append(keyword.strip())
            continue
        if tag and tag not in tags:
            tags.append(tag)
    if dropped:
        node.notes.append(
            f"Keywords that are not tags (letters, digits, '-' and '_', up to {TAG_MAX_LENGTH} characters) were "
            f"left out: {', '.join(repr(keyword) for keyword in dropped)}."
        )
    if len(tags) > MAX_TAGS:
        node.notes.append(f"Only the first {MAX_TAGS} of {len(tags)} keywords became tags.")
        tags = tags[:MAX_TAGS]
    return tags
