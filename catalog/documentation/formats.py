"""The export formats by the name their URL uses: how each renders a document and how its file is named."""

import json
from collections.abc import Callable
from dataclasses import dataclass

from catalog.documentation import croissant, dcat, hf_card
from catalog.documentation.document import DatasetDocument


@dataclass(frozen=True)
class ExportFormat:
    label: str  # the link's text
    title: str
    media_type: str
    suffix: str  # the downloaded file's name is the dataset's slug followed by this
    render: Callable[[DatasetDocument], str]


def json_text(value: object) -> str:
    """A JSON-LD document as the exports write it: indented, unicode as it is."""
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def _json(build: Callable[[DatasetDocument], object]) -> Callable[[DatasetDocument], str]:
    return lambda document: json_text(build(document))


EXPORT_FORMATS: dict[str, ExportFormat] = {
    "croissant": ExportFormat(
        "Croissant",
        "Croissant 1.1 + RAI (JSON-LD)", croissant.MEDIA_TYPE, ".croissant.json", _json(croissant.croissant_document)
    ),
    "hf-card": ExportFormat(
        "Hugging Face card", "Hugging Face dataset card (README.md with YAML metadata)", hf_card.MEDIA_TYPE,
        ".README.md", hf_card.hf_card,
    ),
    "dcat": ExportFormat("DCAT", "DCAT 3 (JSON-LD)", dcat.MEDIA_TYPE, ".dcat.jsonld", _json(dcat.dcat_document)),
}
