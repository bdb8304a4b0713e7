"""Which Kura object an OpenLineage dataset names (conventions in ``lineage.openlineage``).

Only datasets the caller may see are bound; anything else is kept as an external dataset, so a token cannot
probe a restricted dataset by naming it in an event.
"""

from dataclasses import dataclass
from typing import Any

from catalog.models import Dataset, DatasetVersion, SlugAlias, StorageLocation
from catalog.uris import SCHEMES
from lineage.openlineage import KURA_NAMESPACE, MODEL_NAMESPACE, DatasetRef

KURA_SCHEME = "kura://"
MODEL_SCHEME = "kura-model://"


@dataclass(frozen=True)
class ModelRef:
    name: str
    version: str


def _split_at(spec: str, fallback_label: str) -> tuple[str, str]:
    name, sep, label = spec.rpartition("@")
    if not sep:
        return spec, fallback_label
    return name, label


def resolve_dataset_ref(ref: DatasetRef, *, user: Any) -> DatasetVersion | ModelRef | None:
    uri = ref.uri
    if ref.namespace == MODEL_NAMESPACE or uri.startswith(MODEL_SCHEME):
        spec = ref.name if ref.namespace == MODEL_NAMESPACE else uri[len(MODEL_SCHEME):]
        name, version = _split_at(spec.strip("/"), ref.version_facet)
        return ModelRef(name=name, version=version) if name and version else None
    if ref.namespace == KURA_NAMESPACE or uri.startswith(KURA_SCHEME):
        spec = ref.name if ref.namespace == KURA_NAMESPACE else uri[len(KURA_SCHEME):]
        slug, label = _split_at(spec.strip("/"), ref.version_facet)
        dataset = _visible_dataset(slug, user)
        return _version(dataset, label) if dataset is not None else None
    scheme = uri.partition("://")[0].lower()
    if scheme in SCHEMES:
        dataset = _dataset_by_storage_uri(uri, user)
        return _version(dataset, ref.version_facet) if dataset is not None else None
    return None


def _visible_dataset(slug: str, user: Any) -> Dataset | None:
    visible = Dataset.objects.restrict(user, "view")
    dataset = visible.filter(slug=slug).first()
    if dataset is None:
        alias = SlugAlias.objects.filter(slug=slug).values_list("dataset_id", flat=True).first()
        dataset = visible.filter(pk=alias).first() if alias is not None else None
    return dataset


def _version(dataset: Dataset, label: str) -> DatasetVersion | None:
    """By label, by manifest digest (``sha256:…``), or else the newest published version."""
    published = DatasetVersion.objects.filter(dataset=dataset, status=DatasetVersion.Status.PUBLISHED)
    if label and label != "latest":
        digest = label.removeprefix("sha256:")
        return published.filter(label=label).first() or published.filter(digest=digest).first()
    return published.order_by("-published_at").first()


def _prefixes(uri: str) -> list[str]:
    """``s3://b/x/y`` → ``s3://b/x/y``, ``s3://b/x/y/``, ``s3://b/x/``, ``s3://b/x``, ``s3://b/``, ``s3://b``."""
    scheme_end = uri.index("://") + 3
    candidates = {uri, uri.rstrip("/"), uri.rstrip("/") + "/"}
    for position in range(scheme_end, len(uri)):
        if uri[position] == "/":
            candidates.update({uri[: position + 1], uri[:position]})
    return [candidate for candidate in candidates if len(candidate) > scheme_end]


def _dataset_by_storage_uri(uri: str, user: Any) -> Dataset | None:
    """The dataset whose registered location is the longest prefix of ``uri``."""
    locations = StorageLocation.objects.filter(
        uri__in=_prefixes(uri), dataset__in=Dataset.objects.restrict(user, "view").values("pk")
    ).select_related("dataset")
    best = max(locations, key=lambda location: len(location.uri), default=None)
    return best.dataset if best is not None else None
