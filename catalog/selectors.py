"""Reads from the catalog. Callers pass the requesting user; visibility is decided by ``restrict``."""

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from access.approvals import effective_unit
from access.models import Membership, OrgUnit, Person
from catalog.lifecycle import retirement_warnings
from catalog.lookup_statements import latest_published_version
from catalog.models import Dataset, DatasetVersion, ManifestFile, SlugAlias, StorageLocation, Tag
from catalog.querysets import Action
from catalog.search import search_datasets, search_terms


class DatasetNotFound(Exception):
    """Raised alike for a dataset that does not exist and one the caller may not see."""


class VersionNotFound(Exception):
    pass


@dataclass(frozen=True)
class ResolvedDataset:
    dataset: Dataset
    requested_slug: str

    @property
    def via_alias(self) -> bool:
        return self.requested_slug != self.dataset.slug


def dataset_list(*, user: Any) -> "QuerySet[Dataset]":
    """Datasets ``user`` may see, ready for a list page; filter with ``DatasetFilterSet``."""
    return Dataset.objects.restrict(user, "view").with_list_data()


RESOLVE_RELATED = ("owner", "owning_unit", "superseded_by")
READ_ACCESS_ANNOTATION = "caller_can_read_data"


def dataset_resolve(
    *,
    user: Any,
    slug: str,
    action: Action = "view",
    related: Sequence[str] = RESOLVE_RELATED,
    with_read_access: bool = False,
) -> ResolvedDataset:
    """Find a dataset by its slug or a former slug, as ``user`` may see it.

    ``related`` is what to fetch along in the same query; hot paths that never touch the owner or the unit
    (the CI version lookup) pass less. ``with_read_access`` answers ``dataset_can_read_data`` in the same
    query too.
    """
    visible = Dataset.objects.restrict(user, action).select_related(*related)
    if with_read_access:
        visible = visible.annotate_access(user, "read", READ_ACCESS_ANNOTATION)
    try:
        dataset = visible.get(slug=slug)  # get() drops the default ordering, which a unique slug never needs
    except Dataset.DoesNotExist:
        alias = SlugAlias.objects.filter(slug=slug).values_list("dataset_id", flat=True).first()
        if alias is None:
            raise DatasetNotFound(slug) from None
        try:
            dataset = visible.get(pk=alias)
        except Dataset.DoesNotExist:
            raise DatasetNotFound(slug) from None
    hide_unseen_successors(user=user, datasets=[dataset])
    return ResolvedDataset(dataset=dataset, requested_slug=slug)


def hide_unseen_successors(*, user: Any, datasets: Sequence[Dataset]) -> None:
    """Make ``superseded_by`` read None on each dataset whose successor ``user`` may not see.

    A restricted successor named in a deprecated dataset's warnings, headers, page or exports would reveal that
    it exists. Only the loaded relation is blanked: ``superseded_by_id`` stays, so nothing saved loses it.
    """
    successor_ids = {dataset.superseded_by_id for dataset in datasets if dataset.superseded_by_id is not None}
    if not successor_ids:
        return
    seen = set(Dataset.objects.restrict(user, "view").filter(pk__in=successor_ids).values_list("pk", flat=True))
    relation = Dataset._meta.get_field("superseded_by")
    for dataset in datasets:
        if dataset.superseded_by_id is not None and dataset.superseded_by_id not in seen:
            relation.set_cached_value(dataset, None)


def successor_is_hidden(*, user: Any, dataset: Dataset) -> bool:
    """Whether ``dataset`` has a successor that ``user`` may not see."""
    if dataset.superseded_by_id is None:
        return False
    return not Dataset.objects.restrict(user, "view").filter(pk=dataset.superseded_by_id).exists()


def successor_suggestions(*, user: Any, typed: str, limit: int = 10) -> "QuerySet[Dataset]":
    """A few datasets ``user`` may see that match what they typed as a successor; none for nothing typed."""
    if not search_terms(typed):
        return Dataset.objects.none()
    return search_datasets(Dataset.objects.restrict(user, "view"), typed)[:limit]


def dataset_can_change(*, user: Any, dataset: Dataset) -> bool:
    return Dataset.objects.restrict(user, "change").filter(pk=dataset.pk).exists()


def dataset_can_read_data(*, user: Any, dataset: Dataset) -> bool:
    """Whether ``user`` may see locations and manifests; free when ``dataset_resolve`` already asked."""
    known = getattr(dataset, READ_ACCESS_ANNOTATION, None)
    if known is not None:
        return bool(known)
    return Dataset.objects.restrict(user, "read").filter(pk=dataset.pk).exists()


def version_resolve(
    *, dataset: Dataset, label: str, include_drafts: bool | Callable[[], bool] = False
) -> DatasetVersion:
    """The version ``label`` names; ``latest`` is the newest published one, whatever ``include_drafts`` says.

    ``include_drafts`` may be a callable (e.g. a permission check): it is asked only when the answer matters,
    i.e. when ``label`` names a draft, so the common lookup of a published version costs no permission query.
    """
    versions = DatasetVersion.objects.filter(dataset=dataset)
    if label == "latest":
        version = latest_published_version(dataset)
    else:
        version = versions.filter(label=label).first()  # (dataset, label) is unique
        if version is not None and not version.is_published and not _allowed(include_drafts):
            version = None
    if version is None:
        raise VersionNotFound(label)
    return version


def _allowed(flag: bool | Callable[[], bool]) -> bool:
    return flag() if callable(flag) else flag


def version_list(*, dataset: Dataset, include_drafts: bool = False) -> "QuerySet[DatasetVersion]":
    versions = DatasetVersion.objects.filter(dataset=dataset)
    if not include_drafts:
        versions = versions.filter(status=DatasetVersion.Status.PUBLISHED)
    return versions.order_by("-published_at", "-created_at")


def free_dataset_slug(base: str) -> str:
    """``base`` (a valid slug, see ``slug_from_text``) if no dataset uses or used it, else with a number added."""
    slug, number = base, 2
    while Dataset.objects.filter(slug=slug).exists() or SlugAlias.objects.filter(slug=slug).exists():
        slug, number = f"{base}-{number}", number + 1
    return slug


def locations_in_role_order(dataset: Dataset) -> list[StorageLocation]:
    """Primary first, then mirror, raw, backup (the model orders roles alphabetically); by URI within a role."""
    roles = list(StorageLocation.Role.values)
    return sorted(dataset.locations.all(), key=lambda location: (roles.index(location.role), location.uri))


def manifest_files(*, version: DatasetVersion, chunk_size: int = 2000) -> Iterator[ManifestFile]:
    return ManifestFile.objects.filter(version=version).order_by("path").iterator(chunk_size=chunk_size)


def latest_version_labels(datasets: list[Dataset]) -> dict[Any, str]:
    """Newest published label per dataset, in one query (for list pages)."""
    rows = (
        DatasetVersion.objects.filter(dataset__in=datasets, status=DatasetVersion.Status.PUBLISHED)
        .order_by("dataset_id", "-published_at")
        .values_list("dataset_id", "label")
    )
    labels: dict[Any, str] = {}
    for dataset_id, label in rows:
        labels.setdefault(dataset_id, label)
    return labels


def deprecation_warnings(dataset: Dataset) -> list[str]:
    if dataset.status not in {Dataset.Status.DEPRECATED, Dataset.Status.ARCHIVED}:
        return []
    state = "archived" if dataset.status == Dataset.Status.ARCHIVED else "deprecated"
    message = f"Dataset '{dataset.slug}' is {state}"
    if dataset.deprecated_at:
        message += f" since {dataset.deprecated_at:%Y-%m-%d}"
    message += "."
    if dataset.deprecation_note:
        message += f" {dataset.deprecation_note.strip()}"
    warnings = [message]
    if dataset.superseded_by is not None:
        warnings.append(f"Use '{dataset.superseded_by.slug}' instead.")
    if dataset.sunset_at:
        warnings.append(f"It will stop being served after {dataset.sunset_at:%Y-%m-%d}.")
    warnings.extend(retirement_warnings(dataset))
    return warnings


def left_behind_datasets(*, user: Any) -> "QuerySet[Dataset]":
    """Datasets whose owner has departed and that nobody has taken over yet."""
    return (
        Dataset.objects.restrict(user, "view")
        .filter(owner__status=Person.Status.DEPARTED)
        .select_related("owner__user", "owner__manager", "owning_unit")
        .prefetch_related("locations")
        .order_by("-owner__departed_at", "slug")
    )


def proposed_successor(dataset: Dataset) -> Person | None:
    """The departed owner's manager if still here, else a steward (then head) of the owning unit."""
    return proposed_successors([dataset])[dataset.pk]


def proposed_successors(datasets: Iterable[Dataset]) -> dict[Any, Person | None]:
    """``proposed_successor`` of each dataset, keyed by id: one query for the units' stewards and heads."""
    successors: dict[Any, Person | None] = {}
    units: dict[Any, OrgUnit | None] = {}
    for dataset in datasets:
        manager = dataset.owner.manager
        if manager is not None and manager.status == Person.Status.ACTIVE:
            successors[dataset.pk] = manager
        else:
            units[dataset.pk] = effective_unit(dataset.owning_unit)
    roles = (Membership.Role.STEWARD, Membership.Role.HEAD)
    earliest: dict[tuple[Any, str], Person] = {}
    if units:
        members = (
            Membership.objects.current()
            .filter(unit__in={unit.pk for unit in units.values() if unit is not None}, role__in=roles,
                    person__status=Person.Status.ACTIVE)
            .select_related("person")
            .order_by("valid_from", "pk")
        )
        for member in members:
            earliest.setdefault((member.unit_id, member.role), member.person)
    for pk, unit in units.items():
        found = [earliest[(unit.pk, role)] for role in roles if unit is not None and (unit.pk, role) in earliest]
        successors[pk] = found[0] if found else None
    return successors


def visible_tags(*, user: Any) -> "QuerySet[Tag]":
    """Tags in use on datasets ``user`` may see; a restricted dataset's tags would reveal it."""
    return Tag.objects.filter(datasets__in=Dataset.objects.restrict(user, "view")).distinct().order_by("name")
