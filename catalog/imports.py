"""Registering a dataset from documentation written elsewhere (DESIGN §6): a Croissant 1.1 + RAI document."""

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from access.models import OrgUnit, Person
from catalog.datasheet import FIELDS as DATASHEET_FIELDS
from catalog.documentation.croissant_import import CroissantRejected, croissant_import
from catalog.documentation.croissant_version import ImportedVersion
from catalog.guideline_hooks import rules_revise
from catalog.models import Dataset
from catalog.selectors import free_dataset_slug
from catalog.services import LocationSpec, dataset_create, dataset_version_create
from catalog.validators import slug_from_text

RULES_CHANGE_NOTE = "Imported from a Croissant document (rai:dataAnnotationProtocol)."
VERSION_NOTE = "Imported from a Croissant document: its FileObjects' paths, sizes and hashes."
# Where each field the service may refuse came from in the document, so an error names what to fix there.
_SOURCE_PROPERTY = {
    "name": "name",
    "description": "description",
    "licence": "license",
    "tags": "keywords",
    "locations": "distribution",
    **{field.name: field.rai for field in DATASHEET_FIELDS if field.rai},
}


@dataclass(frozen=True)
class ImportResult:
    dataset: Dataset
    notes: list[str]


@transaction.atomic
def dataset_import_croissant(
    *,
    actor: Person,
    owning_unit: OrgUnit,
    document: Any,
    slug: str | None = None,
    purpose: str | None = None,
) -> ImportResult:
    """Register ``document`` (parsed JSON) as a draft owned by ``actor``, with its datasheet, licence, tags,
    storage locations and annotation rules, all of it or nothing, and the version its files spell out as a draft
    version where the catalog accepts its manifest.

    ``purpose`` replaces the document's ``rai:dataUseCases`` and is required when it has none. The slug is
    ``slug``, else the document's ``alternateName`` when that is a slug, else made from the name; a made one
    gets a number when taken. Raises CroissantRejected for a document Kura cannot read and ValidationError for
    values the catalog refuses (keyed by the document's property where one gave the value).
    """
    parsed = croissant_import(document)
    notes = list(parsed.notes)
    given_purpose = (purpose or "").strip()
    if given_purpose and parsed.purpose and given_purpose != parsed.purpose:
        notes.append("The purpose given with the import replaced the document's rai:dataUseCases.")
    if not given_purpose and not parsed.purpose:
        raise CroissantRejected(
            "croissant_missing_purpose",
            "The document has no rai:dataUseCases, and Kura needs every dataset's purpose: give one with the "
            "import, or add rai:dataUseCases to the document.",
        )
    chosen_slug = slug.strip().lower() if slug and slug.strip() else _free_slug(parsed.slug_hint or parsed.name, notes)
    try:
        dataset = dataset_create(
            actor=actor,
            slug=chosen_slug,
            name=parsed.name,
            purpose=given_purpose or parsed.purpose,
            owner=actor,
            owning_unit=owning_unit,
            description=parsed.description,
            status=Dataset.Status.DRAFT,
            tags=parsed.tags,
            locations=[LocationSpec(uri=item.uri, role=item.role, note=item.note) for item in parsed.locations],
            datasheet=parsed.datasheet,
        )
    except ValidationError as error:
        raise _in_document_terms(error, purpose_from_document=not given_purpose) from error
    if parsed.annotation_rules:
        try:
            number = rules_revise(
                dataset=dataset, body=parsed.annotation_rules, actor=actor, change_note=RULES_CHANGE_NOTE
            )
        except ValidationError as error:
            raise ValidationError({"rai:dataAnnotationProtocol": error.messages}) from error
        if number is None:
            notes.append("The annotation protocol was not imported: this Kura keeps no annotation rules.")
    if parsed.version is not None:
        notes.append(_import_version(dataset, actor, parsed.version))
    return ImportResult(dataset=dataset, notes=notes)


def _import_version(dataset: Dataset, actor: Person, imported: ImportedVersion) -> str:
    """The version as a draft, for the importer to check and publish; a manifest the catalog refuses leaves the
    dataset without it (the note says why) rather than refusing the whole import."""
    try:
        with transaction.atomic():
            version = dataset_version_create(
                dataset=dataset, actor=actor, label=imported.label, files=imported.files, publish=False,
                notes=VERSION_NOTE,
            )
    except ValidationError as error:
        return f"The version '{imported.label}' was not imported: {' '.join(error.messages)}"
    return (
        f"The version '{version.label}' came with its {version.file_count} files as a draft (manifest digest "
        f"sha256:{version.digest}); publish it once you have checked them."
    )


def _free_slug(text: str, notes: list[str]) -> str:
    base = slug_from_text(text, fallback="imported-dataset")
    slug = free_dataset_slug(base)
    if slug != base:
        notes.append(f"The slug '{base}' is taken; the draft's slug is '{slug}'.")
    return slug


def _in_document_terms(error: ValidationError, *, purpose_from_document: bool) -> ValidationError:
    if not hasattr(error, "error_dict"):
        return error
    sources = {**_SOURCE_PROPERTY, **({"purpose": "rai:dataUseCases"} if purpose_from_document else {})}
    return ValidationError({sources.get(field, field): messages for field, messages in error.message_dict.items()})
