"""Reading DVC remote objects back into what they are: which repository, path, commit and person, which dataset.

``classify_keys`` is the bulk entry point for a remote scanner; ``decode`` answers one hash or key for a person.
Only references from commits some ref still reaches count for classification; references from commits no ref
reaches any more (a deleted branch) are still shown by ``decode`` as evidence of who stored the object.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet

from catalog.models import Dataset, StorageLocation
from catalog.querysets import DatasetQuerySet
from catalog.uris import parse_storage_uri
from storage.dvc.layout import (
    HASH_NAME_OF_LAYOUT,
    LAYOUT_OF_HASH_NAME,
    DirEntry,
    KeyKind,
    Layout,
    ManifestError,
    ObjectId,
    key_kind,
    object_key,
    parse_dir_manifest,
    parse_hash_or_key,
    parse_object_key,
)
from storage.models import DvcDirMember, DvcReference, DvcRemoteConfig

QUERY_CHUNK = 2000
MAX_CONTAINING = 50  # directories listed for one file (an empty file's md5 is in very many of them)


class ObjectClass(StrEnum):
    LIVE = "live"  # an output at a current branch or tag head
    HISTORICAL = "historical"  # only outputs of older commits
    UNREFERENCED = "unreferenced"  # no indexed commit refers to it
    RUN_CACHE = "run_cache"
    TEMPORARY = "temporary"
    OTHER = "other"


_RANK = {ObjectClass.UNREFERENCED: 0, ObjectClass.HISTORICAL: 1, ObjectClass.LIVE: 2}
_RefKey = tuple[str, bool, Layout]


def _best(first: ObjectClass, second: ObjectClass) -> ObjectClass:
    return first if _RANK[first] >= _RANK[second] else second


def _reference_classes(md5s: set[str], repo_ids: Iterable[int] | None) -> dict[_RefKey, ObjectClass]:
    classes: dict[_RefKey, ObjectClass] = {}
    ordered = sorted(md5s)
    for start in range(0, len(ordered), QUERY_CHUNK):
        rows = DvcReference.objects.filter(md5__in=ordered[start : start + QUERY_CHUNK], reachable=True)
        if repo_ids is not None:
            rows = rows.filter(repo_id__in=list(repo_ids))
        for md5, is_dir, hash_name, is_live in rows.values_list("md5", "is_dir", "hash_name", "is_live"):
            key = (md5, is_dir, LAYOUT_OF_HASH_NAME.get(hash_name, Layout.DVC2))
            found = ObjectClass.LIVE if is_live else ObjectClass.HISTORICAL
            classes[key] = _best(classes.get(key, ObjectClass.UNREFERENCED), found)
    return classes


def classify_objects(
    objects: Iterable[ObjectId],
    *,
    repo_ids: Iterable[int] | None = None,
    dir_members: Mapping[ObjectId, Iterable[str]] | None = None,
) -> dict[ObjectId, ObjectClass]:
    """Classify remote objects by the best reference any indexed commit has to them.

    A file inside a directory output is referenced through its ``.dir`` object: pass what the remote's ``.dir``
    manifests list as ``dir_members`` (dir object → member md5s) and members inherit their directory's class.
    An object with ``layout=None`` (a bare hash) matches references of either layout.
    """
    wanted = set(objects)
    members = dict(dir_members or {})
    md5s = {item.md5 for item in wanted} | {item.md5 for item in members}
    classes = _reference_classes(md5s, list(repo_ids) if repo_ids is not None else None)
    for directory, member_md5s in members.items():
        dir_class = _lookup(classes, directory)
        if dir_class == ObjectClass.UNREFERENCED:
            continue
        layout = directory.layout or Layout.DVC3
        for md5 in member_md5s:
            key = (md5, False, layout)
            classes[key] = _best(classes.get(key, ObjectClass.UNREFERENCED), dir_class)
    return {item: _lookup(classes, item) for item in wanted}


def _lookup(classes: Mapping[_RefKey, ObjectClass], item: ObjectId) -> ObjectClass:
    layouts = [item.layout] if item.layout is not None else list(Layout)
    found = ObjectClass.UNREFERENCED
    for layout in layouts:
        found = _best(found, classes.get((item.md5, item.is_dir, layout), ObjectClass.UNREFERENCED))
    return found


def classify_keys(
    keys: Iterable[str],
    *,
    repo_ids: Iterable[int] | None = None,
    dir_members: Mapping[str, Iterable[str]] | None = None,
) -> dict[str, ObjectClass]:
    """Keys relative to a DVC remote's root → class. ``dir_members`` maps a ``.dir`` key to its member md5s."""
    result: dict[str, ObjectClass] = {}
    objects: dict[str, ObjectId] = {}
    for key in keys:
        parsed = parse_object_key(key)
        if parsed is None:
            kind = key_kind(key)
            result[key] = {KeyKind.RUN_CACHE: ObjectClass.RUN_CACHE, KeyKind.TEMPORARY: ObjectClass.TEMPORARY}.get(
                kind, ObjectClass.OTHER
            )
        else:
            objects[key] = parsed
    members: dict[ObjectId, Iterable[str]] = {}
    for dir_key, md5s in (dir_members or {}).items():
        directory = parse_object_key(dir_key)
        if directory is not None and directory.is_dir:
            members[directory] = md5s
    classes = classify_objects(objects.values(), repo_ids=repo_ids, dir_members=members)
    for key, parsed in objects.items():
        result[key] = classes[parsed]
    return result


@dataclass(frozen=True)
class DecodedReference:
    repo_id: int
    repo_name: str
    path: str
    stage: str
    source_path: str
    commit: str
    author_name: str
    author_email: str
    authored_at: datetime
    size: int | None
    nfiles: int | None
    layout: str
    cache: bool
    remote: str
    live_refs: list[str]
    reachable: bool


@dataclass(frozen=True)
class ContainingDirectory:
    """A directory output whose ``.dir`` manifest, as a scan read it from a remote, lists the decoded file."""

    directory: ObjectId
    relpath: str  # the file's path inside the directory; "" when the caller may not see the file list
    references: list[DecodedReference]


@dataclass
class Decoded:
    object: ObjectId
    keys: list[str]
    classification: ObjectClass
    references: list[DecodedReference]
    datasets: list[Dataset]
    files: list[DirEntry] | None = None
    files_layout: Layout | None = None  # where the members live: the layout of the .dir object that was read
    notes: list[str] = field(default_factory=list)
    containing: list[ContainingDirectory] = field(default_factory=list)  # for a file: directories listing it


def _covering_datasets(references: list[DecodedReference]) -> DatasetQuerySet:
    """Datasets whose ``dvc://<repo>#<path>`` location covers a referenced output (no permission filter)."""
    paths_by_repo: dict[str, set[str]] = {}
    for reference in references:
        paths_by_repo.setdefault(reference.repo_name, set()).add(reference.path)
    if not paths_by_repo:
        return Dataset.objects.none()
    prefixes = Q()
    for repo_name in paths_by_repo:
        prefixes |= Q(uri__startswith=f"dvc://{repo_name}#")
    covering: set[Any] = set()
    for dataset_id, uri in StorageLocation.objects.filter(prefixes).values_list("dataset_id", "uri"):
        parsed = parse_storage_uri(uri)
        wanted = parsed.path.strip("/")
        if any(path == wanted or path.startswith(wanted + "/") for path in paths_by_repo.get(parsed.container, ())):
            covering.add(dataset_id)
    return Dataset.objects.filter(pk__in=covering)


def find_dir_manifest(remote_dir: Path, directory: ObjectId) -> tuple[Layout, list[DirEntry]] | None:
    """A ``.dir`` object's layout and file list from a local remote directory, trying the object's layout(s)."""
    layouts = [directory.layout] if directory.layout is not None else [Layout.DVC3, Layout.DVC2]
    for layout in layouts:
        candidate = remote_dir / object_key(directory.md5, is_dir=True, layout=layout)
        if candidate.is_file():
            return layout, parse_dir_manifest(candidate.read_bytes())
    return None


def read_dir_manifest(remote_dir: Path, directory: ObjectId) -> list[DirEntry] | None:
    found = find_dir_manifest(remote_dir, directory)
    return found[1] if found is not None else None


def local_remote_dirs(repo_ids: Iterable[int]) -> list[Path]:
    """Local remotes of these repositories that lie under the allow-listed KURA_LOCAL_ROOTS."""
    roots = [Path(root).resolve() for root in settings.KURA_LOCAL_ROOTS]
    found: list[Path] = []
    urls = DvcRemoteConfig.objects.filter(repo_id__in=list(repo_ids)).values_list("url", flat=True)
    for url in urls.order_by().distinct():
        raw = url.removeprefix("file://")
        if not raw.startswith("/"):
            continue  # relative remotes are relative to a checkout Kura does not have
        path = Path(raw).resolve()
        if any(path == root or root in path.parents for root in roots) and path.is_dir() and path not in found:
            found.append(path)
    return found


def decode(text: str, *, user: Any, remote_dirs: Iterable[Path] | None = None) -> Decoded | None:
    """Everything Kura knows about one hash or remote key; None if ``text`` is neither.

    A file inside a directory output has no reference of its own: it is explained by the directories whose
    manifests (read by scans of the remotes) list it, and takes their class, as a scan classifies it.
    A ``.dir`` object's file list is read from ``remote_dirs`` or, when None, from the referencing repositories'
    local remotes that lie under KURA_LOCAL_ROOTS.
    """
    parsed = parse_hash_or_key(text)
    if parsed is None:
        return None
    references = _decoded_references(Q(md5=parsed.md5, is_dir=parsed.is_dir), parsed.layout)
    containing, more = ([], False) if parsed.is_dir else _containing_directories(parsed)
    covering = _covering_datasets(references + [ref for found in containing for ref in found.references])
    layouts = {Layout(reference.layout) for reference in references}
    layouts |= {found.directory.layout for found in containing if found.directory.layout is not None}
    keys = sorted({object_key(parsed.md5, is_dir=parsed.is_dir, layout=layout) for layout in layouts})
    if parsed.layout is not None:
        keys = [parsed.key()]
    members = {found.directory: [parsed.md5] for found in containing}
    decoded = Decoded(
        object=parsed,
        keys=keys,
        classification=classify_objects([parsed], dir_members=members)[parsed],
        references=references,
        datasets=list(covering.restrict(user, "view").order_by("slug")),
    )
    if not parsed.is_dir and not containing:
        return decoded
    # A directory's file list is data, not metadata: shown only to who may read every dataset it is in.
    may_list_files = covering.count() == covering.restrict(user, "read").count()
    if containing:
        decoded.containing = containing if may_list_files else [
            ContainingDirectory(found.directory, "", found.references) for found in containing]
        if not may_list_files:
            decoded.notes.append("The file's path inside its directory is not shown: it needs read access to the data.")
        if more:
            decoded.notes.append(f"More directories list this file; the first {MAX_CONTAINING} are shown.")
    elif may_list_files:
        if remote_dirs is None:
            remote_dirs = local_remote_dirs({reference.repo_id for reference in references})
        _attach_files(decoded, parsed, layouts, remote_dirs)
    else:
        decoded.notes.append("The file list is not shown: it needs read access to the data.")
    return decoded


def _reference_rows(wanted: Q, layout: Layout | None) -> "QuerySet[DvcReference]":
    rows = DvcReference.objects.filter(wanted).select_related("repo")
    if layout is not None:
        rows = rows.filter(hash_name=HASH_NAME_OF_LAYOUT[layout])
    return rows.order_by("authored_at", "repo__name", "commit", "path")


def _decoded_references(wanted: Q, layout: Layout | None) -> list[DecodedReference]:
    return [_decoded_reference(row) for row in _reference_rows(wanted, layout)]


def _decoded_reference(row: DvcReference) -> DecodedReference:
    return DecodedReference(
        repo_id=row.repo_id,
        repo_name=row.repo.name,
        path=row.path,
        stage=row.stage,
        source_path=row.source_path,
        commit=row.commit,
        author_name=row.author_name,
        author_email=row.author_email,
        authored_at=row.authored_at,
        size=row.size,
        nfiles=row.nfiles,
        layout=row.layout,
        cache=row.cache,
        remote=row.remote,
        live_refs=list(row.live_refs),
        reachable=row.reachable,
    )


def _containing_directories(file: ObjectId) -> tuple[list[ContainingDirectory], bool]:
    """Directories whose read manifests list ``file`` (at most MAX_CONTAINING), earliest committed first, and
    whether more directories list it."""
    members = DvcDirMember.objects.filter(md5=file.md5, manifest__error="")
    if file.layout is not None:
        members = members.filter(manifest__layout=file.layout.value)  # a .dir's files live in its own layout
    relpaths: dict[ObjectId, str] = {}
    for md5, layout, relpath in members.order_by("manifest__md5", "manifest__layout", "relpath").values_list(
        "manifest__md5", "manifest__layout", "relpath"
    )[: 4 * MAX_CONTAINING]:  # the same manifest read from several remotes repeats its rows
        relpaths.setdefault(ObjectId(md5, True, Layout(layout)), relpath)
    chosen = list(relpaths.items())[:MAX_CONTAINING]
    references: dict[ObjectId, list[DecodedReference]] = {}
    for row in _reference_rows(Q(md5__in=[directory.md5 for directory, _ in chosen], is_dir=True), None):
        references.setdefault(ObjectId(row.md5, True, Layout(row.layout)), []).append(_decoded_reference(row))
    found = [ContainingDirectory(directory, relpath, references.get(directory, [])) for directory, relpath in chosen]
    never = datetime.max.replace(tzinfo=UTC)
    found.sort(key=lambda item: (item.references[0].authored_at if item.references else never, item.relpath))
    return found, len(relpaths) > MAX_CONTAINING


def _attach_files(decoded: Decoded, parsed: ObjectId, layouts: set[Layout], remote_dirs: Iterable[Path]) -> None:
    directory = parsed if parsed.layout is not None or len(layouts) != 1 else ObjectId(
        parsed.md5, True, next(iter(layouts))
    )
    for remote_dir in remote_dirs:
        try:
            found = find_dir_manifest(remote_dir, directory)
        except ManifestError as error:
            decoded.notes.append(f"The .dir object in a local remote is unreadable: {error}.")
            continue
        if found is not None:
            decoded.files_layout, decoded.files = found
            return
    decoded.notes.append("The .dir object was not found in a readable local remote; its file list is unknown.")

