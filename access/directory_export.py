"""Reading a directory export (JSON or CSV) into validated rows, with per-row errors instead of tracebacks.

A field that is absent from a record means "the directory does not say": the person is left as they are.
An empty ``manager_external_id`` is different: it says the person has no manager.
"""

import csv
import io
import json
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from access.models import Person
from kura.text import storable

FORMATS = ("json", "csv")
FIELDS = ("external_id", "name", "email", "department", "manager_external_id", "active")
FIELD_ALIASES = {
    "manager": "manager_external_id",
    "display_name": "name",
    # HR systems name employment state so; their words (active, terminated, departed …) are the yes/no below.
    "status": "active",
    "employment_status": "active",
    "is_active": "active",
}
LONGEST = {"external_id": "external_id", "name": "display_name", "email": "email"}  # export field → Person field
TRUE_WORDS = {"true", "1", "yes", "y", "active"}
FALSE_WORDS = {"false", "0", "no", "n", "inactive", "departed", "terminated"}


class DirectoryFormatError(Exception):
    """The export as a whole cannot be read (bad JSON, no CSV header, wrong top-level shape)."""


@dataclass(frozen=True)
class RowError:
    row: int  # 1-based position of the record in the export (the CSV header is not counted)
    external_id: str
    field: str
    message: str


@dataclass(frozen=True)
class DirectoryRow:
    row: int
    external_id: str
    name: str | None
    email: str | None
    department: str | None
    manager_external_id: str | None
    active: bool


def detect_format(content: str, filename: str = "") -> str:
    lowered = filename.lower()
    for fmt in FORMATS:
        if lowered.endswith(f".{fmt}"):
            return fmt
    return "json" if content.lstrip()[:1] in {"[", "{"} else "csv"


def decode(content: bytes) -> str:
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DirectoryFormatError(f"The export is not UTF-8 text (byte {error.start}).") from error


UNSTORABLE = "The export holds a NUL character or an unpaired surrogate, which cannot be stored; fix its encoding."


def read_records(content: str, fmt: str) -> list[Any]:
    """The export's records as parsed objects, before any per-row validation."""
    if fmt == "json":
        try:
            records = json.loads(content)
        except json.JSONDecodeError as error:
            raise DirectoryFormatError(
                f"The export is not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}."
            ) from error
        if not storable(records):
            raise DirectoryFormatError(UNSTORABLE)
        return ensure_record_list(records)
    if fmt == "csv":
        if not storable(content):
            raise DirectoryFormatError(UNSTORABLE)
        return _csv_records(content)
    raise DirectoryFormatError(f"Unknown format {fmt!r}; use one of: {', '.join(FORMATS)}.")


def ignored_fields(records: list[Any]) -> list[str]:
    """Fields of the export that Kura does not read. Said in the summary: a misspelt ``active`` column would
    otherwise depart nobody without a word."""
    names = {_canonical(str(key)) for record in records if isinstance(record, dict) for key in record}
    return sorted(names - set(FIELDS))


def ensure_record_list(records: Any) -> list[Any]:
    if not isinstance(records, list):
        raise DirectoryFormatError("A JSON export must be a list of objects, one per person.")
    return records


def _csv_records(content: str) -> list[Any]:
    content = content.lstrip("\ufeff")
    if not content.strip():
        raise DirectoryFormatError("The CSV export is empty; it needs a header row.")
    try:
        dialect: Any = csv.Sniffer().sniff(content.splitlines()[0], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(content), dialect=dialect, strict=True)
    try:
        header = [_canonical(name or "") for name in reader.fieldnames or []]
        if "external_id" not in header:
            raise DirectoryFormatError("The CSV header must name an 'external_id' column.")
        reader.fieldnames = header
        records: list[Any] = []
        for record in reader:
            if None in record:
                raise DirectoryFormatError(f"CSV line {reader.line_num} has more cells than the header.")
            # Cells missing at the end of a short line come back as None: the directory said nothing there.
            records.append({key: value for key, value in record.items() if value is not None})
        return records
    except csv.Error as error:
        raise DirectoryFormatError(f"The CSV export is malformed at line {reader.line_num}: {error}.") from error


def _canonical(field: str) -> str:
    name = field.strip().lower().replace(" ", "_").replace("-", "_")
    return FIELD_ALIASES.get(name, name)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError("must be text")
    return " ".join(str(value).split())


def _active(value: Any) -> bool:
    if value is None or isinstance(value, bool):
        return value is not False
    word = str(value).strip().lower()
    if word == "" or word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"{value!r} is not a yes/no value")


def validate_records(records: list[Any]) -> tuple[list[DirectoryRow], list[RowError]]:
    """Rows that may be applied, and errors for the rows that may not. Duplicated ids reject every copy:
    which of two conflicting records is right cannot be guessed."""
    rows: list[DirectoryRow] = []
    errors: list[RowError] = []
    for number, record in enumerate(records, start=1):
        row, row_errors = _validate(number, record)
        errors.extend(row_errors)
        if row is not None:
            rows.append(row)
    seen: dict[str, list[DirectoryRow]] = {}
    for row in rows:
        seen.setdefault(row.external_id, []).append(row)
    duplicated = {key for key, copies in seen.items() if len(copies) > 1}
    for key in duplicated:
        numbers = ", ".join(str(row.row) for row in seen[key])
        for row in seen[key]:
            errors.append(RowError(row.row, row.external_id, "external_id",
                                   f"external_id appears more than once in this export (rows {numbers})."))
    rows = [row for row in rows if row.external_id not in duplicated]
    errors.sort(key=lambda error: error.row)
    return rows, errors


def _validate(number: int, record: Any) -> tuple[DirectoryRow | None, list[RowError]]:
    if not isinstance(record, dict):
        return None, [RowError(number, "", "", "Each record must be an object with named fields.")]
    record = {_canonical(str(key)): value for key, value in record.items()}
    errors: list[RowError] = []
    values: dict[str, Any] = {}
    raw_id = record.get("external_id")
    for field in ("external_id", "name", "email", "department", "manager_external_id"):
        try:
            values[field] = _text(record.get(field))
        except ValueError as error:
            errors.append(RowError(number, str(raw_id or ""), field, f"{field} {error}."))
    external_id = values.get("external_id") or ""
    if not external_id:
        return None, [RowError(number, "", "external_id", "external_id is missing.")]
    try:
        values["active"] = _active(record.get("active"))
    except ValueError as error:
        errors.append(RowError(number, external_id, "active", f"active: {error} (use true or false)."))
    for field, column in LONGEST.items():
        value = values.get(field)
        limit = getattr(Person._meta.get_field(column), "max_length", None)
        if value and limit is not None and len(value) > limit:
            # Caught here, not by the database: there it aborted the whole sync.
            errors.append(RowError(number, external_id, field, f"{field} is longer than {limit} characters."))
    email = values.get("email")
    if email and not any(error.field == "email" for error in errors):
        try:
            validate_email(email)
        except ValidationError:
            errors.append(RowError(number, external_id, "email", f"{email!r} is not a valid email address."))
    if values.get("manager_external_id") == external_id:
        errors.append(RowError(number, external_id, "manager_external_id", "A person cannot be their own manager."))
    if errors:
        return None, [RowError(e.row, external_id, e.field, e.message) for e in errors]
    return DirectoryRow(
        row=number,
        external_id=external_id,
        name=values["name"] or None,
        email=values["email"] or None,
        department=values["department"] or None,
        manager_external_id=values["manager_external_id"],
        active=values["active"],
    ), []
