"""Validation of a label schema::

{"classes": [{"name": "car", "definition": "A passenger vehicle ...",
              "attributes": [{"name": "occluded", "type": "boolean"},
                             {"name": "truncation", "type": "enum", "values": ["none", "partial"]}]}]}
"""

import json
from typing import Any

from django.core.exceptions import ValidationError

ATTRIBUTE_TYPES = {"boolean", "enum", "number", "string"}
MAX_CLASSES = 2000


def _fail(path: str, message: str) -> ValidationError:
    return ValidationError(f"{path}: {message}", code="invalid_label_schema")


def _check_name(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 100:
        raise _fail(path, "must be a non-empty string of at most 100 characters.")
    return value


def _check_attributes(attributes: Any, path: str) -> None:
    if not isinstance(attributes, list):
        raise _fail(path, "must be a list of attribute objects.")
    names: set[str] = set()
    for index, attribute in enumerate(attributes):
        where = f"{path}[{index}]"
        if not isinstance(attribute, dict):
            raise _fail(where, "must be an object with 'name' and 'type'.")
        name = _check_name(attribute.get("name"), f"{where}.name")
        if name in names:
            raise _fail(f"{where}.name", f"'{name}' is defined twice.")
        names.add(name)
        kind = attribute.get("type")
        if kind not in ATTRIBUTE_TYPES:
            raise _fail(f"{where}.type", f"must be one of {', '.join(sorted(ATTRIBUTE_TYPES))}.")
        if kind == "enum":
            values = attribute.get("values")
            if (
                not isinstance(values, list)
                or not values
                or not all(isinstance(item, str) and item for item in values)
                or len(set(values)) != len(values)
            ):
                raise _fail(f"{where}.values", "an enum needs a list of distinct, non-empty strings.")
        elif "values" in attribute:
            raise _fail(f"{where}.values", "only an enum attribute has values.")
        _check_attribute_details(attribute, kind, where)
        unknown = set(attribute) - {"name", "type", "values", "definition", "min", "max", "required"}
        if unknown:
            raise _fail(where, f"unknown keys {', '.join(sorted(unknown))}.")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_attribute_details(attribute: dict[str, Any], kind: str, where: str) -> None:
    """The optional keys an annotation tool reads: a bound must be a number, on a number attribute."""
    for bound in ("min", "max"):
        if bound in attribute and (kind != "number" or not _is_number(attribute[bound])):
            raise _fail(f"{where}.{bound}", "a bound is a number, and only a number attribute has bounds.")
    if _is_number(attribute.get("min")) and _is_number(attribute.get("max")) and attribute["min"] > attribute["max"]:
        raise _fail(f"{where}.min", "is greater than max.")
    if "required" in attribute and not isinstance(attribute["required"], bool):
        raise _fail(f"{where}.required", "must be true or false.")
    if "definition" in attribute and not isinstance(attribute["definition"], str):
        raise _fail(f"{where}.definition", "must be a string.")


def validate_label_schema(schema: Any) -> None:
    if schema in (None, {}):
        return
    if not isinstance(schema, dict):
        raise _fail("schema", "must be a JSON object with a 'classes' list.")
    try:
        # Python's JSON reader takes NaN and Infinity, which no database stores as JSON.
        json.dumps(schema, allow_nan=False)
    except ValueError as error:
        raise _fail("schema", "numbers must be finite (NaN and Infinity are not JSON).") from error
    unknown = set(schema) - {"classes", "description"}
    if unknown:
        raise _fail("schema", f"unknown keys {', '.join(sorted(unknown))}; expected 'classes'.")
    classes = schema.get("classes")
    if not isinstance(classes, list):
        raise _fail("classes", "must be a list of class objects.")
    if len(classes) > MAX_CLASSES:
        raise _fail("classes", f"at most {MAX_CLASSES} classes are supported.")
    names: set[str] = set()
    for index, label_class in enumerate(classes):
        where = f"classes[{index}]"
        if not isinstance(label_class, dict):
            raise _fail(where, "must be an object with 'name' and 'definition'.")
        name = _check_name(label_class.get("name"), f"{where}.name")
        if name in names:
            raise _fail(f"{where}.name", f"class '{name}' is defined twice.")
        names.add(name)
        definition = label_class.get("definition")
        if not isinstance(definition, str) or not definition.strip():
            raise _fail(f"{where}.definition", f"class '{name}' needs a definition saying what counts as one.")
        _check_attributes(label_class.get("attributes", []), f"{where}.attributes")
        unknown = set(label_class) - {"name", "definition", "attributes", "color", "examples"}
        if unknown:
            raise _fail(where, f"unknown keys {', '.join(sorted(unknown))}.")


def attribute_text(attribute: Any) -> str:
    """``name: type (value, value)`` for display."""
    if not isinstance(attribute, dict):
        return str(attribute)
    values = attribute.get("values")
    suffix = f" ({', '.join(str(value) for value in values)})" if isinstance(values, list) and values else ""
    return f"{attribute.get('name')}: {attribute.get('type')}{suffix}"
