"""A version from a Croissant document's files: its ``version`` with the manifest its FileObjects spell out.

Kura's export lists a version's files under the primary storage location, each with ``contentSize`` in bytes
and a ``sha256`` or ``md5``; read back, they are the same manifest, so the imported version has the same
digest, the identity Kura gives a version's content. The version is taken only when every file gives a size in
bytes and a hash and lies under one imported storage location (its path is what follows that location);
otherwise a note says why not and the dataset comes without it.
"""

import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError

from catalog.documentation.croissant_locations import ImportedLocation
from catalog.documentation.jsonld import CR, SCHEMA, Node
from catalog.validators import validate_version_label

FILE_OBJECT = CR + "FileObject"
_BYTES = re.compile(r"\A(\d+)\s*(?:B|bytes?)?\Z", re.IGNORECASE)
_HEX = {"sha256": re.compile(r"\A[0-9a-f]{64}\Z"), "md5": re.compile(r"\A[0-9a-f]{32}\Z")}


@dataclass(frozen=True)
class ImportedVersion:
    label: str
    files: list[dict[str, object]]  # path, size, hash: what ``dataset_version_create`` takes


def imported_version(node: Node, locations: list[ImportedLocation]) -> ImportedVersion | None:
    label = node.text(SCHEMA + "version", separator=" ")
    objects = [node.child(entry) for entry in node.get(SCHEMA + "distribution") if isinstance(entry, dict)]
    # A file inside an archive (containedIn) is no object of the storage; only stored files make a manifest.
    objects = [item for item in objects if FILE_OBJECT in item.types() and not item.get(CR + "containedIn")]
    if not label or not objects:
        if label:
            node.notes.append(f"The version '{label[:64]}' lists no files; no version was imported.")
        return None
    try:
        validate_version_label(label)
    except ValidationError as error:
        node.notes.append(f"The version '{label[:64]}' was not imported: {error.messages[0]}")
        return None
    files, problem = _manifest(objects, locations)
    if problem:
        node.notes.append(f"The version '{label}' was not imported: {problem}")
        return None
    return ImportedVersion(label, files)


def _manifest(objects: list[Node], locations: list[ImportedLocation]) -> tuple[list[dict[str, object]], str]:
    folders = [location.uri.rstrip("/") + "/" for location in locations]
    urls = [item.text(SCHEMA + "contentUrl", separator=" ") for item in objects]
    folder = next((folder for folder in folders if all(url.startswith(folder) for url in urls)), None)
    if folder is None:
        return [], "its files do not all lie under one of the imported storage locations."
    files: list[dict[str, object]] = []
    for item, url in zip(objects, urls, strict=True):
        size = _BYTES.match(item.text(SCHEMA + "contentSize", separator=" "))
        digest = next(
            (text for name, iri in (("sha256", SCHEMA + "sha256"), ("md5", CR + "md5"))
             if _HEX[name].match(text := item.text(iri, separator=" ").lower())),
            None,
        )
        if size is None or digest is None:
            return [], f"'{url[:200]}' gives no size in bytes or no sha256/md5 hash."
        files.append({"path": url[len(folder):], "size": int(size.group(1)), "hash": digest})
    return files, ""
