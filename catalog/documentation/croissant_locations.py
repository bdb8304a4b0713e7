"""Storage locations from a Croissant document's ``distribution``: where the data is stored, not how to download it.

A folder is a ``FileSet`` whose ``includes`` is every file under a storage URI (``s3://bucket/prefix/**``, as
Kura's export writes each location), or a ``contentUrl`` ending in ``/``; it is taken as it is, with the role and
note Kura's export states in its description. Files are collapsed: per bucket (container, repository, file
system) to the folder they have in common. A file whose ``name`` is a path its ``contentUrl`` ends with (Kura's
export names a version's files so) counts as the folder that path starts in.
"""

import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError

from catalog.documentation.jsonld import CR, SCHEMA, Node
from catalog.models import StorageLocation
from catalog.uris import StorageUri, parse_storage_uri

MAX_LOCATIONS = 50
MAX_NOTE = 300  # StorageLocation.note
_WEB_SCHEMES = ("http", "https")
# The description's first sentence as Kura's export writes it; a version's figures may follow.
_KURA_DESCRIPTION = re.compile(
    r"\A(" + "|".join(re.escape(label) for label in StorageLocation.Role.labels)
    + r") storage location(?:: (.*?))?\.(?: Version .*)?\Z",
    re.DOTALL,
)
_EVERYTHING_UNDER = "/**"
_ROLE_BY_LABEL = {label: value for value, label in StorageLocation.Role.choices}


@dataclass(frozen=True)
class ImportedLocation:
    uri: str
    role: str = StorageLocation.Role.PRIMARY
    note: str = ""


def storage_locations(node: Node) -> list[ImportedLocation]:
    label = node.key(SCHEMA + "distribution")
    folders: list[ImportedLocation] = []
    files: dict[tuple[str, str], list[StorageUri]] = {}  # per bucket, the folder or file each file counts as
    web: list[str] = []
    for entry in node.get(SCHEMA + "distribution"):
        if not isinstance(entry, dict):
            continue
        item = node.child(entry)
        folder = _file_set_folder(item)
        if folder is not None:
            folders.append(folder)
            continue
        url = _content_url(item)
        if not url:
            continue  # a FileSet of some files, or one inside a FileObject: its files are listed elsewhere
        if url.partition("://")[0].lower() in _WEB_SCHEMES:
            web.append(url)
            continue
        try:
            uri = parse_storage_uri(url)
        except ValidationError as error:
            node.notes.append(f"{label}: '{url[:200]}' was skipped: {error.messages[0]}")
            continue
        if str(uri).endswith("/"):
            folders.append(_folder(uri, item.text(SCHEMA + "description")))
        else:
            files.setdefault((uri.scheme, uri.container), []).append(_counted_as(uri, item))
    if web:
        node.notes.append(
            f"{len(web)} http(s) file URL{'s were' if len(web) > 1 else ' was'} skipped (e.g. {web[0][:200]}): "
            "Kura records where data is stored (s3://, gs://, az://, file://, dvc://), not download links."
        )
    locations = _unique(folders + _collapsed(files, folders, node.notes))
    if len(locations) > MAX_LOCATIONS:
        node.notes.append(f"Only the first {MAX_LOCATIONS} of {len(locations)} storage locations were imported.")
        locations = locations[:MAX_LOCATIONS]
    return locations


def _file_set_folder(item: Node) -> ImportedLocation | None:
    """The storage folder a FileSet takes whole (``includes`` ``<uri>/**``), if that is what it names. Its
    ``name``, where it is that folder (Kura's export), gives the URI exactly as written, trailing slash or not."""
    includes = item.text(CR + "includes", separator=" ").strip()
    if not includes.endswith(_EVERYTHING_UNDER) or "://" not in includes:
        return None
    folder = includes.removesuffix(_EVERYTHING_UNDER)
    name = item.text(SCHEMA + "name", separator=" ").strip()
    try:
        uri = parse_storage_uri(name if name.rstrip("/") == folder else f"{folder}/")
    except ValidationError:
        return None
    return _folder(uri, item.text(SCHEMA + "description"))


def _content_url(item: Node) -> str:
    for value in item.get(SCHEMA + "contentUrl"):
        if isinstance(value, dict) and isinstance(value.get("@id"), str):
            return str(value["@id"]).strip()
        for text in item.texts(value, SCHEMA + "contentUrl"):
            if text.strip():
                return text.strip()
    return ""


def _folder(uri: StorageUri, description: str) -> ImportedLocation:
    match = _KURA_DESCRIPTION.match(description)
    if match is None:
        return ImportedLocation(str(uri))
    note = (match.group(2) or "").strip()[:MAX_NOTE]
    return ImportedLocation(str(uri), role=_ROLE_BY_LABEL[match.group(1)], note=note)


def _counted_as(uri: StorageUri, item: Node) -> StorageUri:
    """The folder a file's relative path starts in, where its name is that path; else the file."""
    name = item.text(SCHEMA + "name", separator=" ")
    url = str(uri)
    if "/" in name.strip("/") and "://" not in name and not name.startswith("/") and url.endswith(f"/{name}"):
        try:
            return parse_storage_uri(url[: -len(name)])
        except ValidationError:
            pass
    return uri


def _collapsed(
    files: dict[tuple[str, str], list[StorageUri]], folders: list[ImportedLocation], notes: list[str]
) -> list[ImportedLocation]:
    covered = tuple(folder.uri.rstrip("/") + "/" for folder in folders)
    locations: list[ImportedLocation] = []
    for (scheme, container), uris in files.items():
        uncovered = [uri for uri in uris if not str(uri).startswith(covered)]
        distinct = list(dict.fromkeys(uncovered))
        if not distinct:
            continue
        where = f"{scheme}://{container}"
        if len(distinct) == 1:
            taken = [str(distinct[0])]
        else:
            taken = [str(StorageUri(scheme, container, prefix)) for prefix in _common_folders(scheme, distinct)]
            if not taken:
                notes.append(f"{len(uncovered)} file URLs in {where} share no folder a location could name; skipped.")
                continue
        locations.extend(ImportedLocation(uri) for uri in taken)
        if len(uncovered) > 1:
            notes.append(
                f"{len(uncovered)} file URLs in {where} were recorded as the location{'s' if len(taken) > 1 else ''} "
                f"{', '.join(taken)}."
            )
    return locations


def _common_folders(scheme: str, uris: list[StorageUri]) -> list[str]:
    """The folder all share; where that is nothing a location can name (a file system's root, a repository as
    a whole), each top-level folder instead. A bucket's root is a location."""
    folders = [uri.path.split("/")[:-1] for uri in uris]
    common = folders[0]
    for folder in folders[1:]:
        same = 0
        while same < min(len(common), len(folder)) and common[same] == folder[same]:
            same += 1
        common = common[:same]
    prefix = "/".join(common) + "/" if common else ""
    if scheme in {"s3", "gs", "az"} or prefix.strip("/"):
        return [prefix]
    depth = 2 if scheme == "file" else 1  # "/top/" or "top/"
    return sorted({"/".join(folder[:depth]) + "/" for folder in folders if len(folder) >= depth})


def _unique(locations: list[ImportedLocation]) -> list[ImportedLocation]:
    first: dict[str, ImportedLocation] = {}
    for location in locations:
        first.setdefault(location.uri, location)
    return list(first.values())
