"""OpenAPI: the dataset addresses' path parameters carry the formats the catalog enforces.

drf-spectacular reads ``<str:slug>`` as any string; a client generated from the schema (or a person reading
``/api/docs/``) should see that a slug and a version label have a fixed shape, so this postprocessing hook adds
the catalog's own patterns to every path under ``/api/v1/datasets/{slug}``.
"""

from typing import Any

from catalog.validators import SLUG_PATTERN, VERSION_LABEL_PATTERN

_DATASET_PATHS = "/api/v1/datasets/{slug}"
_PATTERNS = {"slug": SLUG_PATTERN.pattern, "label": VERSION_LABEL_PATTERN.pattern}
_DESCRIPTIONS = {
    "slug": "The dataset's slug or a former one (3 to 100 lowercase letters, digits and single hyphens).",
    "label": "A version label, or `latest` for the newest published version.",
}


def dataset_path_formats(result: dict[str, Any], **_: Any) -> dict[str, Any]:
    for path, operations in result.get("paths", {}).items():
        if not path.startswith(_DATASET_PATHS):
            continue
        for operation in operations.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                name = parameter.get("name")
                if parameter.get("in") == "path" and name in _PATTERNS:
                    parameter.setdefault("schema", {})["pattern"] = _PATTERNS[name]
                    parameter["description"] = _DESCRIPTIONS[name]
    return result
