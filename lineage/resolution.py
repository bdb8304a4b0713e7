"""Which Kura object each OpenLineage dataset names (conventions in ``lineage.openlineage``).

Only datasets the caller may see are bound; anything else is kept as an external dataset, so a token cannot
probe a restricted dataset by naming it in an event. All refs of an event are resolved together, in a
handful of queries whatever the number of inputs.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from catalog.models import Dataset, DatasetVersion, SlugAlias
from catalog.uris import SCHEMES
from lineage.openlineage import KURA_NAMESPACE, MODEL_NAMESPACE, DatasetRef
from lineage.statements import (
    newest_published_versions,
    published_versions_named,
    storage_locations,
    visible_datasets,
)

KURA_SCHEME = "kura://"
MODEL_SCHEME = "kura-model://"
LATEST = "latest"


@dataclass(frozen=True)
class ModelRef:
    name: str
    version: str


Resolved = DatasetVersion | ModelRef | None


def _split_at(spec: str, fallback_label: str) -> tuple[str, str]:
    name, sep, label = spec.rpartition("@")
    if not sep:
        return spec, fallback_label
    return name, label


def _prefixes(uri: str) -> list[str]:
    """``s3://b/x/y`` → ``s3://b/x/y``, ``s3://b/x/y/``, ``s3://b/x/``, ``s3://b/x``, ``s3://b/``, ``s3://b``."""
    scheme_end = uri.index("://") + 3
    candidates = {uri, uri.rstrip("/"), uri.rstrip("/") + "/"}
    for position in range(scheme_end, len(uri)):
        if uri[position] == "/":
            candidates.update({uri[: position + 1], uri[:position]})
    return [candidate for candidate in candidates if len(candidate) > scheme_end]


class _Batch:
    """Collects what the refs ask for and answers it in two queries: the storage locations that prefix the URIs,
    then the visible datasets among those named by slug or location with their versions the refs name (the
    permission query, narrowed to these candidates, is the lookup itself, written out with restrict's condition).
    A slug no dataset has now may be an old one: only then are aliases read, and their versions."""

    def __init__(self, user: Any) -> None:
        self.user = user
        self.slugs: set[str] = set()
        self.uris: dict[str, set[str]] = {}  # URI → the version labels asked of it
        self.labels: set[str] = set()  # version labels or digests asked of the datasets read
        self.newest = False  # whether some ref asks for a dataset's newest version
        self.versions: dict[Any, list[tuple[DatasetVersion, bool]]] = {}  # read with the datasets, by dataset id

    def want(self, label: str) -> None:
        if label and label != LATEST:
            self.labels.add(label)
        else:
            self.newest = True

    def resolve(self) -> tuple[dict[str, Any], dict[str, Any]]:
        locations = self._locations()
        located = {dataset_id for dataset_id, _ in locations.values()}
        if not self.slugs and not located:
            return {}, {}
        for uri in {uri for _, wanted_by in locations.values() for uri in wanted_by}:
            for label in self.uris[uri]:
                self.want(label)  # only URIs under a registered location can name a version
        rows = visible_datasets(self.user, slugs=self.slugs, ids=located, labels=self.labels, newest=self.newest)
        self.versions = {row.id: row.versions for row in rows}
        by_slug = {row.slug: row.id for row in rows if row.slug in self.slugs}
        if len(by_slug) < len(self.slugs):
            by_slug.update(self._visible_by_alias(self.slugs - set(by_slug)))
        by_uri: dict[str, Any] = {}
        for uri in self.uris:
            matches = [(len(location), dataset_id) for location, (dataset_id, wanted_by) in locations.items()
                       if uri in wanted_by and dataset_id in self.versions]
            if matches:
                by_uri[uri] = max(matches, key=lambda match: match[0])[1]  # the longest registered prefix wins
        return by_slug, by_uri

    def _visible(self) -> "QuerySet[Dataset]":
        return Dataset.objects.restrict(self.user, "view")

    def _visible_by_alias(self, slugs: set[str]) -> dict[str, Any]:
        """Old slugs of visible datasets; a slug that is some dataset's current one (hidden from the caller) is
        never read as an alias."""
        current = set(Dataset.objects.filter(slug__in=slugs).values_list("slug", flat=True))
        aliases = dict(SlugAlias.objects.filter(slug__in=slugs - current).values_list("slug", "dataset_id"))
        if not aliases:
            return {}
        visible = set(self._visible().filter(pk__in=aliases.values()).values_list("pk", flat=True))
        return {slug: pk for slug, pk in aliases.items() if pk in visible}

    def _locations(self) -> dict[str, tuple[Any, set[str]]]:
        """Registered locations that are a prefix of some URI: location → (dataset id, URIs it covers)."""
        if not self.uris:
            return {}
        wanted_by: dict[str, set[str]] = {}
        for uri in self.uris:
            for prefix in _prefixes(uri):
                wanted_by.setdefault(prefix, set()).add(uri)
        rows = storage_locations(wanted_by)
        return {uri: (dataset_id, wanted_by[uri]) for dataset_id, uri in rows}


def _versions(
    wanted: set[tuple[Any, str]], read: dict[Any, list[tuple[DatasetVersion, bool]]]
) -> dict[tuple[Any, str], DatasetVersion]:
    """Published versions by (dataset id, label or manifest digest); label "" or "latest" means the newest.

    ``read``: candidate versions already read for some datasets, newest first, each flagged if the newest; those
    of the other datasets (bound through an old slug) are read here.
    """
    unread = {(dataset_id, label) for dataset_id, label in wanted if dataset_id not in read}
    if unread:
        read = {**read, **_read_versions(unread)}
    found: dict[tuple[Any, str], DatasetVersion] = {}
    for dataset_id, label in wanted:
        for version, newest in read.get(dataset_id, []):
            if newest if label in {"", LATEST} else label in {version.label, f"sha256:{version.digest}",
                                                               version.digest}:
                found[(dataset_id, label)] = version
                break
    return found


def _read_versions(wanted: set[tuple[Any, str]]) -> dict[Any, list[tuple[DatasetVersion, bool]]]:
    named = {(dataset_id, label) for dataset_id, label in wanted if label and label != LATEST}
    read: dict[Any, list[tuple[DatasetVersion, bool]]] = {}
    for version in published_versions_named(named) if named else []:
        read.setdefault(version.dataset_id, []).append((version, False))
    latest = {dataset_id for dataset_id, label in wanted - named}
    for version in newest_published_versions(latest) if latest else []:
        read.setdefault(version.dataset_id, []).append((version, True))
    return read


def resolve_dataset_refs(refs: Sequence[DatasetRef], *, user: Any) -> list[Resolved]:
    """One answer per ref: a DatasetVersion, a ModelRef, or None for a dataset Kura does not know."""
    batch = _Batch(user)
    plans: list[tuple[str, Any, str]] = []  # (kind, key, label)
    for ref in refs:
        uri = ref.uri
        if ref.namespace == MODEL_NAMESPACE or uri.startswith(MODEL_SCHEME):
            spec = ref.name if ref.namespace == MODEL_NAMESPACE else uri[len(MODEL_SCHEME):]
            name, version = _split_at(spec.strip("/"), ref.version_facet)
            plans.append(("model", name, version))
        elif ref.namespace == KURA_NAMESPACE or uri.startswith(KURA_SCHEME):
            spec = ref.name if ref.namespace == KURA_NAMESPACE else uri[len(KURA_SCHEME):]
            slug, label = _split_at(spec.strip("/"), ref.version_facet)
            batch.slugs.add(slug)
            batch.want(label)
            plans.append(("slug", slug, label))
        elif uri.partition("://")[0].lower() in SCHEMES:
            batch.uris.setdefault(uri, set()).add(ref.version_facet)
            plans.append(("uri", uri, ref.version_facet))
        else:
            plans.append(("external", None, ""))
    by_slug, by_uri = batch.resolve()
    dataset_for: dict[tuple[str, Any], Any] = {("slug", slug): pk for slug, pk in by_slug.items()}
    dataset_for.update({("uri", uri): pk for uri, pk in by_uri.items()})
    wanted = {(dataset_for[(kind, key)], label) for kind, key, label in plans if (kind, key) in dataset_for}
    versions = _versions(wanted, batch.versions)
    results: list[Resolved] = []
    for kind, key, label in plans:
        if kind == "model":
            results.append(ModelRef(name=key, version=label) if key and label else None)
        elif (kind, key) in dataset_for:
            results.append(versions.get((dataset_for[(kind, key)], label)))
        else:
            results.append(None)
    return results
