"""Writes to the catalog. Each public function is one transaction; validation happens before any write."""

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from access.audit import AuditEntry, audit_record, audit_record_many
from access.models import OrgUnit, Person
from catalog.datasheet import FIELD_NAMES as DATASHEET_FIELDS
from catalog.datasheet import FIELDS as DATASHEET_ANSWERS
from catalog.guideline_hooks import current_revision_number, revision_exists
from catalog.lifecycle import notify_retired
from catalog.manifests import ManifestEntry, manifest_digest, parse_manifest
from catalog.models import Dataset, DatasetVersion, ManifestFile, SlugAlias, StorageLocation, Tag
from catalog.selectors import proposed_successors
from catalog.uris import parse_storage_uri
from catalog.validators import (
    normalise_tag,
    validate_dataset_slug,
    validate_git_commit,
    validate_safe_markdown,
    validate_version_label,
)

MIN_PURPOSE_LENGTH = 10
MANIFEST_BATCH = 5000


@dataclass(frozen=True)
class LocationSpec:
    uri: str
    role: str = StorageLocation.Role.PRIMARY
    note: str = ""


def _normalise_tags(names: Iterable[str]) -> list[str]:
    cleaned: list[str] = []
    for raw in names:
        try:
            name = normalise_tag(raw)
        except ValidationError as error:
            raise ValidationError({"tags": error.messages}) from error
        if name and name not in cleaned:
            cleaned.append(name)
    return cleaned


def _validate_locations(locations: Sequence[LocationSpec]) -> list[LocationSpec]:
    normalised: list[LocationSpec] = []
    errors: list[str] = []
    seen: set[str] = set()
    for spec in locations:
        try:
            uri = str(parse_storage_uri(spec.uri))
        except ValidationError as error:
            errors.extend(error.messages)
            continue
        if spec.role not in StorageLocation.Role.values:
            errors.append(f"'{spec.role}' is not a location role ({', '.join(StorageLocation.Role.values)}).")
            continue
        if uri in seen:
            errors.append(f"'{uri}' is listed twice.")
            continue
        seen.add(uri)
        normalised.append(LocationSpec(uri=uri, role=spec.role, note=spec.note.strip()))
    if errors:
        raise ValidationError({"locations": errors})
    return normalised


def _validate_dataset_fields(dataset: Dataset, *, owner_changed: bool = True) -> None:
    errors: dict[str, list[str]] = {}
    if len(dataset.purpose.strip()) < MIN_PURPOSE_LENGTH:
        errors.setdefault("purpose", []).append(
            "Say what problem this dataset serves and what it may be used for (at least a sentence)."
        )
    markdown = [answer.name for answer in DATASHEET_ANSWERS if answer.is_markdown]
    for field in ("description", "deprecation_note", *markdown):
        try:
            validate_safe_markdown(getattr(dataset, field))
        except ValidationError as error:
            errors.setdefault(field, []).extend(error.messages)
    for answer in DATASHEET_ANSWERS:
        if answer.max_length is not None and len(getattr(dataset, answer.name)) > answer.max_length:
            errors.setdefault(answer.name, []).append(f"At most {answer.max_length} characters: one line.")
    # A departed owner may stay on record (Left behind); only a newly named owner must be active (and is only
    # then looked up: a merge re-validates hundreds of datasets whose owner stays).
    if owner_changed and dataset.owner_id and not Person.objects.filter(
        pk=dataset.owner_id, status=Person.Status.ACTIVE
    ).exists():
        errors.setdefault("owner", []).append("The owner must be an active person.")
    if dataset.superseded_by_id and dataset.superseded_by_id == dataset.pk:
        errors.setdefault("superseded_by", []).append("A dataset cannot supersede itself.")
    if dataset.training_repo_path and not dataset.training_repo_url:
        errors.setdefault("training_repo_url", []).append("Give the repository URL for the training path.")
    if errors:
        raise ValidationError(errors)
    dataset.full_clean(exclude=["slug", "tags", "stewards"], validate_unique=False)


def _collect_errors(*checks: Callable[[], Any]) -> list[Any]:
    """Run every check and report all problems at once, so a form shows each bad field in one go."""
    results: list[Any] = []
    errors: dict[str, list[str]] = {}
    for check in checks:
        try:
            results.append(check())
        except ValidationError as error:
            results.append(None)
            for field, messages in error.update_error_dict({}).items():
                errors.setdefault(field, []).extend(str(message) for message in ValidationError(messages).messages)
    if errors:
        raise ValidationError(errors)
    return results


def _check_unit_active(unit: OrgUnit) -> None:
    # Datasets of a split or retired unit wait there for governance; a new one must not start in such a unit.
    if unit.status != OrgUnit.Status.ACTIVE:
        raise ValidationError({"owning_unit": f"{unit.name} is {unit.get_status_display().lower()}: choose an "
                                              "active unit to own the data."})


def _check_slug_free(slug: str, dataset: Dataset | None) -> None:
    try:
        validate_dataset_slug(slug)
    except ValidationError as error:
        raise ValidationError({"slug": error.messages}) from error
    others = Dataset.objects.filter(slug=slug)
    aliases = SlugAlias.objects.filter(slug=slug)
    if dataset is not None:
        others = others.exclude(pk=dataset.pk)
        aliases = aliases.exclude(dataset=dataset)
    if others.exists() or aliases.exists():
        raise ValidationError({"slug": f"The slug '{slug}' is already used by another dataset."})


def _apply_status_dates(dataset: Dataset, previous_status: str | None) -> None:
    now = timezone.now()
    if dataset.status == previous_status:
        return
    if dataset.status == Dataset.Status.DEPRECATED:
        dataset.deprecated_at = dataset.deprecated_at or now
        dataset.archived_at = None
    elif dataset.status == Dataset.Status.ARCHIVED:
        dataset.deprecated_at = dataset.deprecated_at or now
        dataset.archived_at = now
    else:
        dataset.deprecated_at = None
        dataset.archived_at = None


def _save_tags(dataset: Dataset, tag_names: Iterable[str]) -> None:
    tags = [Tag.objects.get_or_create(name=name)[0] for name in _normalise_tags(tag_names)]
    dataset.tags.set(tags)


def _replace_locations(dataset: Dataset, locations: Sequence[LocationSpec]) -> None:
    wanted = {spec.uri: spec for spec in locations}
    dataset.locations.exclude(uri__in=wanted).delete()
    existing = {location.uri: location for location in dataset.locations.all()}
    for uri, spec in wanted.items():
        location = existing.get(uri)
        if location is None:
            StorageLocation.objects.create(dataset=dataset, uri=uri, role=spec.role, note=spec.note)
        elif (location.role, location.note) != (spec.role, spec.note):
            location.role, location.note = spec.role, spec.note
            location.save(update_fields=["role", "note"])


@transaction.atomic
def dataset_create(
    *,
    actor: Person | None,
    slug: str,
    name: str,
    purpose: str,
    owner: Person,
    owning_unit: OrgUnit,
    description: str = "",
    status: str = Dataset.Status.ACTIVE,
    visibility: str = Dataset.Visibility.INTERNAL,
    classification: str = Dataset.Classification.INTERNAL,
    tags: Iterable[str] = (),
    training_repo_url: str = "",
    training_repo_path: str = "",
    locations: Sequence[LocationSpec] = (),
    stewards: Iterable[Person] = (),
    deprecation_note: str = "",
    superseded_by: Dataset | None = None,
    sunset_at: datetime | None = None,
    datasheet: Mapping[str, str] | None = None,
) -> Dataset:
    """Register a dataset; ``datasheet`` answers fields of ``catalog.datasheet`` (``dataset_update`` alike)."""
    slug = slug.strip().lower()
    answers = _datasheet_answers(datasheet)
    dataset = Dataset(
        slug=slug,
        name=name.strip(),
        purpose=purpose.strip(),
        description=description,
        owner=owner,
        owning_unit=owning_unit,
        status=status,
        visibility=visibility,
        classification=classification,
        training_repo_url=training_repo_url.strip(),
        training_repo_path=training_repo_path.strip(),
        deprecation_note=deprecation_note,
        superseded_by=superseded_by,
        sunset_at=sunset_at,
        created_by=actor,
        **answers,
    )
    clean_locations, tag_names = _collect_errors(
        lambda: _check_slug_free(slug, None),
        lambda: _check_unit_active(owning_unit),
        lambda: _validate_dataset_fields(dataset),
        lambda: _validate_locations(locations),
        lambda: _normalise_tags(tags),
    )[3:]
    _apply_status_dates(dataset, None)
    try:
        dataset.save()
    except IntegrityError as error:  # a concurrent registration took the slug between check and insert
        raise ValidationError({"slug": f"The slug '{slug}' is already used by another dataset."}) from error
    _save_tags(dataset, tag_names)
    dataset.stewards.set(list(stewards))
    _replace_locations(dataset, clean_locations)
    audit_record(actor=actor, action="dataset.registered", target=dataset, after=_audited_fields(dataset))
    return dataset


_AUDITED = ("slug", "owner_id", "owning_unit_id", "status", "visibility", "classification")


def _audited_fields(dataset: Dataset) -> dict[str, Any]:
    return {field: str(getattr(dataset, field)) if getattr(dataset, field) is not None else None
            for field in _AUDITED}


UPDATABLE_FIELDS = {
    "name",
    "purpose",
    "description",
    "owner",
    "owning_unit",
    "status",
    "visibility",
    "classification",
    "training_repo_url",
    "training_repo_path",
    "deprecation_note",
    "superseded_by",
    "sunset_at",
}


def _datasheet_answers(datasheet: Mapping[str, str] | None) -> dict[str, str]:
    unknown = set(datasheet or {}) - set(DATASHEET_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown datasheet fields: {', '.join(sorted(unknown))}.")
    return {field: text.strip() for field, text in (datasheet or {}).items()}


class EditConflict(ValidationError):
    """The dataset was saved after the editor loaded it: writing the editor's copy would undo that save."""

    def __init__(self, saved_at: datetime) -> None:
        super().__init__(
            f"Someone saved this dataset at {timezone.localtime(saved_at):%Y-%m-%d %H:%M %Z}, after you opened it."
            " Nothing of yours was saved yet: open the dataset in a new tab to see their "
            "changes. Saving this form again replaces them with yours.",
            code="edit_conflict",
        )
        self.saved_at = saved_at


@transaction.atomic
def dataset_update(
    *,
    dataset: Dataset,
    actor: Person | None,
    slug: str | None = None,
    tags: Iterable[str] | None = None,
    locations: Sequence[LocationSpec] | None = None,
    stewards: Iterable[Person] | None = None,
    change_reason: str = "",
    datasheet: Mapping[str, str] | None = None,
    unchanged_since: datetime | None = None,
    **fields: Any,
) -> Dataset:
    """Change ``fields`` (and, where given, slug, tags, locations, stewards, datasheet answers), audited.

    ``unchanged_since``: the ``updated_at`` the caller's copy was read at; a later save raises ``EditConflict``
    (an editor submitting a whole form would otherwise silently undo someone else's change).
    """
    unknown = set(fields) - UPDATABLE_FIELDS
    if unknown:
        raise ValidationError(f"Unknown dataset fields: {', '.join(sorted(unknown))}.")
    fields.update(_datasheet_answers(datasheet))
    dataset = Dataset.objects.select_for_update().get(pk=dataset.pk)
    if unchanged_since is not None and dataset.updated_at != unchanged_since:
        raise EditConflict(dataset.updated_at)
    previous_status = dataset.status
    before = _audited_fields(dataset)
    for field, value in fields.items():
        setattr(dataset, field, value.strip() if isinstance(value, str) and field != "description" else value)
    _validate_dataset_fields(dataset, owner_changed=str(dataset.owner_id) != before["owner_id"])
    clean_locations = _validate_locations(locations) if locations is not None else None
    tag_names = _normalise_tags(tags) if tags is not None else None
    if slug is not None and slug.strip().lower() != dataset.slug:
        new_slug = slug.strip().lower()
        _check_slug_free(new_slug, dataset)
        # Renaming back to an old slug reclaims it; the current slug becomes an alias either way.
        SlugAlias.objects.filter(slug=new_slug, dataset=dataset).delete()
        SlugAlias.objects.create(slug=dataset.slug, dataset=dataset)
        dataset.slug = new_slug
    _apply_status_dates(dataset, previous_status)
    dataset.updated_at = timezone.now()
    dataset.save()
    if tag_names is not None:
        _save_tags(dataset, tag_names)
    if stewards is not None:
        dataset.stewards.set(list(stewards))
    if clean_locations is not None:
        _replace_locations(dataset, clean_locations)
    after = _audited_fields(dataset)
    if after != before:
        changed = {key for key in after if after[key] != before[key]}
        action = "dataset.ownership_changed" if changed & {"owner_id", "owning_unit_id"} else "dataset.changed"
        audit_record(actor=actor, action=action, target=dataset, before=before, after=after, reason=change_reason)
    if dataset.status != previous_status and dataset.status in {Dataset.Status.DEPRECATED, Dataset.Status.ARCHIVED}:
        notify_retired(dataset, actor)
    return dataset


@transaction.atomic
def datasets_move_to_unit(*, datasets: Sequence[Dataset], unit: OrgUnit, actor: Person | None, reason: str) -> None:
    """``dataset_update(owning_unit=unit, change_reason=reason)`` for each dataset, in order: the same checks, rows
    and audit events, with one lock, one UPDATE and one audit write for them all (an org merge moves hundreds)."""
    locked = Dataset.objects.select_for_update().in_bulk([dataset.pk for dataset in datasets])
    entries: list[AuditEntry] = []
    for requested in datasets:
        if requested.pk not in locked:
            raise Dataset.DoesNotExist(f"Dataset {requested.pk} does not exist.")
        dataset = locked[requested.pk]
        before = _audited_fields(dataset)
        dataset.owning_unit = unit
        _validate_dataset_fields(dataset, owner_changed=False)  # only the owning unit moves
        dataset.updated_at = timezone.now()  # no status dates to apply either
        after = _audited_fields(dataset)
        if after != before:
            entries.append(AuditEntry("dataset.ownership_changed", dataset, before=before, after=after, reason=reason))
    Dataset.objects.bulk_update(list(locked.values()), ["owning_unit", "updated_at"])
    audit_record_many(actor=actor, entries=entries)


def _check_still_left_behind(datasets: Sequence[Dataset]) -> None:
    """Lock the datasets (in id order) and refuse if one's owner changed since the caller read it, or is back."""
    locked = Dataset.objects.select_for_update().filter(pk__in=[dataset.pk for dataset in datasets]).order_by("pk")
    owner_now = dict(locked.values_list("pk", "owner_id"))
    owners = Person.objects.in_bulk(set(owner_now.values()))
    problems = []
    for dataset in datasets:
        owner = owners.get(owner_now.get(dataset.pk))
        if owner is None:
            problems.append(f"'{dataset.name}' no longer exists.")
        elif owner.pk != dataset.owner_id:
            problems.append(f"'{dataset.name}' was meanwhile given to {owner.display_name}: it is no longer left "
                            "behind. Reload the page to see what still is.")
        elif owner.status != Person.Status.DEPARTED:
            problems.append(f"'{dataset.name}' is no longer left behind: {owner.display_name} is active again.")
    if problems:
        raise ValidationError({"datasets": problems})


@transaction.atomic
def datasets_reassign_owner(
    *, datasets: Sequence[Dataset], new_owner: Person | None, actor: Person | None, reason: str
) -> dict[Person, list[Dataset]]:
    """Hand left-behind datasets (their owner departed) to ``new_owner``, or each to its proposed successor when
    None.

    All or nothing, one audited change per dataset; answers who received what. Refused when a dataset is no longer
    left behind as the caller saw it: two stewards reassigning it at once would otherwise both succeed, the last
    one silently undoing the first.
    """
    if new_owner is not None and new_owner.status != Person.Status.ACTIVE:
        raise ValidationError({"new_owner": "The new owner must be an active person."})
    _check_still_left_behind(datasets)
    plan: dict[Person, list[Dataset]] = {}
    orphans = []
    successors = proposed_successors(datasets) if new_owner is None else {}
    for dataset in datasets:
        owner = new_owner or successors[dataset.pk]
        if owner is None:
            orphans.append(f"'{dataset.name}' has no proposed successor: choose a person for it.")
        else:
            plan.setdefault(owner, []).append(dataset)
    if orphans:
        raise ValidationError({"new_owner": orphans})
    for owner, owned in plan.items():
        for dataset in owned:
            dataset_update(dataset=dataset, actor=actor, owner=owner, change_reason=reason)
    return plan


@transaction.atomic
def dataset_version_create(
    *,
    dataset: Dataset,
    actor: Person | None,
    label: str,
    files: Iterable[Mapping[str, Any]] | Sequence[ManifestEntry],
    git_commit: str = "",
    source: str = DatasetVersion.Source.MANUAL,
    guideline_revision: int | None = None,
    notes: str = "",
    publish: bool = True,
) -> DatasetVersion:
    """Create a version with its manifest; published versions are final, so all checks run first."""
    errors: dict[str, list[str]] = {}
    label = label.strip()
    try:
        validate_version_label(label)
    except ValidationError as error:
        errors["label"] = error.messages
    if git_commit:
        try:
            validate_git_commit(git_commit)
        except ValidationError as error:
            errors["git_commit"] = error.messages
    if source not in DatasetVersion.Source.values:
        errors["source"] = [f"'{source}' is not a version source."]
    if dataset.status == Dataset.Status.ARCHIVED:
        errors["dataset"] = ["An archived dataset takes no new versions."]
    if guideline_revision is not None and not revision_exists(dataset, guideline_revision):
        errors["guideline_revision"] = [f"{dataset.slug} has no annotation rules revision {guideline_revision}."]
    if errors:
        raise ValidationError(errors)
    if guideline_revision is None and publish:
        # Published without saying which rules applied: the ones in force now are the best record there is.
        guideline_revision = current_revision_number(dataset)
    manifest = parse_manifest(asdict(entry) if isinstance(entry, ManifestEntry) else entry for entry in files)
    taken = ValidationError({"label": [f"{dataset.slug} already has a version '{label}'."]})
    if DatasetVersion.objects.filter(dataset=dataset, label=label).exists():
        raise taken
    now = timezone.now()
    try:
        with transaction.atomic():  # a savepoint: the caller's transaction stays usable after the refusal
            version = DatasetVersion.objects.create(
                dataset=dataset,
                label=label,
                status=DatasetVersion.Status.PUBLISHED if publish else DatasetVersion.Status.DRAFT,
                digest=manifest_digest(manifest),
                total_bytes=sum(entry.size for entry in manifest),
                file_count=len(manifest),
                source=source,
                git_commit=git_commit,
                guideline_revision=guideline_revision,
                notes=notes,
                created_by=actor,
                created_at=now,
                published_at=now if publish else None,
            )
    except IntegrityError as error:  # a concurrent publisher took the label between the check and the insert
        raise taken from error
    for start in range(0, len(manifest), MANIFEST_BATCH):
        ManifestFile.objects.bulk_create(
            ManifestFile(version=version, path=entry.path, size=entry.size, hash=entry.hash)
            for entry in manifest[start : start + MANIFEST_BATCH]
        )
    return version


@transaction.atomic
def dataset_version_publish(*, version: DatasetVersion) -> DatasetVersion:
    version = DatasetVersion.objects.select_for_update().get(pk=version.pk)
    if version.is_published:
        raise ValidationError("This version is already published and cannot change.", code="immutable")
    version.status = DatasetVersion.Status.PUBLISHED
    version.published_at = timezone.now()
    if version.guideline_revision is None:
        version.guideline_revision = current_revision_number(version.dataset)
    version.save(update_fields=["status", "published_at", "guideline_revision"])
    return version


@transaction.atomic
def dataset_version_delete_draft(*, version: DatasetVersion) -> None:
    version = DatasetVersion.objects.select_for_update().get(pk=version.pk)
    if version.is_published:
        raise ValidationError("A published version is permanent; deprecate the dataset instead.", code="immutable")
    version.delete()


def storage_location_record_verification(*, location: StorageLocation, ok: bool, message: str) -> None:
    StorageLocation.objects.filter(pk=location.pk).update(
        last_verified_at=timezone.now(), last_verification_ok=ok, last_verification_message=message[:500]
    )
