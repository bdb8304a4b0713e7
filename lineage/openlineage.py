"""Reading OpenLineage run events (spec 2-0-2) into plain values, before anything is written.

Kura's naming conventions for datasets in events (documented in the README):

* a Kura dataset version: namespace ``kura`` with name ``slug@label`` (or just ``slug`` plus a
  ``version.datasetVersion`` facet), or the URI ``kura://slug@label``;
* a storage URI (``s3://bucket`` + ``path/to/data``) under a registered StorageLocation, the version taken
  from the ``version.datasetVersion`` facet (a label or the manifest digest) or else the newest published one;
* a model version: namespace ``kura-model`` with name ``model-name@version``, or the URI
  ``kura-model://model-name@version``. As an output it creates the model version; as an input it continues
  the chain (fine-tuning).

Run facet ``kura`` (custom, optional): ``{"ciJobUrl": ..., "parameters": {...}}``; output facet ``kura``:
``{"stage": "staging"}``. The job's ``sourceCodeLocation`` facet gives repository, path and commit.
"""

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.utils.dateparse import parse_datetime

EVENT_TYPES = ("START", "RUNNING", "COMPLETE", "FAIL", "ABORT", "OTHER")
KURA_NAMESPACE = "kura"
MODEL_NAMESPACE = "kura-model"
MAX_DATASETS_PER_SIDE = 500


class MalformedEvent(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class DatasetRef:
    namespace: str
    name: str
    version_facet: str = ""
    stage: str = ""

    @property
    def uri(self) -> str:
        """The dataset as one URI: OpenLineage splits ``s3://bucket/key`` into namespace and name."""
        if "://" in self.name:
            return self.name
        if self.namespace.endswith("://"):
            return self.namespace + self.name.lstrip("/")
        if "://" in self.namespace:
            return self.namespace.rstrip("/") + "/" + self.name.lstrip("/")
        return ""


@dataclass(frozen=True)
class CodeLocation:
    repository: str = ""
    path: str = ""
    commit: str = ""


@dataclass(frozen=True)
class ParsedEvent:
    event_type: str
    event_time: datetime
    run_id: str
    job_namespace: str
    job_name: str
    code: CodeLocation
    parameters: dict[str, Any]
    ci_job_url: str
    inputs: list[DatasetRef] = field(default_factory=list)
    outputs: list[DatasetRef] = field(default_factory=list)


def event_digest(payload: Any) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedEvent(f"'{where}' must be a JSON object.")
    return value


def _text(container: dict[str, Any], key: str, where: str, *, max_length: int = 500) -> str:
    value = container.get(key)
    if not isinstance(value, str) or not value.strip():
        raise MalformedEvent(f"'{where}' is required and must be a non-empty string.")
    if len(value) > max_length:
        raise MalformedEvent(f"'{where}' may be at most {max_length} characters.")
    return value.strip()


def _optional_text(container: dict[str, Any], key: str, max_length: int = 500) -> str:
    value = container.get(key)
    return value.strip()[:max_length] if isinstance(value, str) else ""


def _optional_string(container: dict[str, Any], key: str, where: str, max_length: int) -> str:
    """A value that picks what the event binds to: given with another type, it must not be read as absent (a
    ``datasetVersion`` of ``3`` would otherwise bind the newest version instead of ``3``)."""
    value = container.get(key)
    if value is not None and not isinstance(value, str):
        raise MalformedEvent(f"'{where}' must be a string.")
    return _optional_text(container, key, max_length)


def _facets(container: dict[str, Any], where: str) -> dict[str, Any]:
    facets = container.get("facets")
    if facets is None:
        return {}
    return _mapping(facets, where)


def _datasets(event: dict[str, Any], side: str) -> list[DatasetRef]:
    items = event.get(side)
    if items is None:
        return []
    if not isinstance(items, list):
        raise MalformedEvent(f"'{side}' must be a list of datasets.")
    if len(items) > MAX_DATASETS_PER_SIDE:
        raise MalformedEvent(f"'{side}' may list at most {MAX_DATASETS_PER_SIDE} datasets.")
    refs: list[DatasetRef] = []
    for index, raw in enumerate(items):
        where = f"{side}[{index}]"
        item = _mapping(raw, where)
        facets = _facets(item, f"{where}.facets")
        version = facets.get("version")
        version_label = ""
        if version is not None:
            version_facet = _mapping(version, f"{where}.facets.version")
            version_where = f"{where}.facets.version.datasetVersion"
            version_label = _optional_string(version_facet, "datasetVersion", version_where, 140)
        kura = facets.get("kura")
        stage = _optional_string(kura, "stage", f"{where}.facets.kura.stage", 16) if isinstance(kura, dict) else ""
        ref = DatasetRef(
            namespace=_text(item, "namespace", f"{where}.namespace"),
            name=_text(item, "name", f"{where}.name", max_length=1000),
            version_facet=version_label,
            stage=stage,
        )
        if ref not in refs:
            refs.append(ref)
    return refs


def _code_location(job_facets: dict[str, Any]) -> CodeLocation:
    raw = job_facets.get("sourceCodeLocation")
    if raw is None:
        return CodeLocation()
    facet = _mapping(raw, "job.facets.sourceCodeLocation")
    commit = _optional_text(facet, "version", 64)
    return CodeLocation(
        repository=_optional_text(facet, "repoUrl") or _optional_text(facet, "url"),
        path=_optional_text(facet, "path"),
        commit=commit.lower(),
    )


def _event_time(raw: str) -> datetime:
    """A well-formed but impossible date (month 13) or one that leaves the calendar once moved to UTC (year 1 at
    +14:00) is the sender's error: it must answer 400, since the client retries a 5xx for ever."""
    reason = "'eventTime' must be an ISO 8601 date-time with a time zone."
    try:
        event_time = parse_datetime(raw.replace("Z", "+00:00"))
        if event_time is None or event_time.tzinfo is None:
            raise MalformedEvent(reason)
        event_time.astimezone(UTC)
    except (ValueError, OverflowError) as error:
        raise MalformedEvent(f"{reason} '{raw}' is not a date-time that exists.") from error
    return event_time


def parse_run_event(payload: Any) -> ParsedEvent:
    """Check the fields spec 2-0-2 requires; unknown facets and a missing ``schemaURL`` are accepted."""
    event = _mapping(payload, "event")
    event_type = event.get("eventType")
    if event_type is None:  # optional in the spec
        event_type = "OTHER"
    if not isinstance(event_type, str) or event_type not in EVENT_TYPES:
        raise MalformedEvent(f"'eventType' must be one of {', '.join(EVENT_TYPES)}.")
    event_time = _event_time(_text(event, "eventTime", "eventTime", max_length=64))
    _text(event, "producer", "producer", max_length=1000)
    if "run" not in event:
        raise MalformedEvent("Only run events are accepted: 'run' is missing (job and dataset events carry none).")
    run = _mapping(event.get("run"), "run")
    run_id = _text(run, "runId", "run.runId", max_length=64)
    try:
        uuid.UUID(run_id)
    except ValueError as error:
        raise MalformedEvent("'run.runId' must be a UUID.") from error
    job = _mapping(event.get("job"), "job")
    run_facets = _facets(run, "run.facets")
    kura_facet = run_facets.get("kura")
    kura = kura_facet if isinstance(kura_facet, dict) else {}
    parameters = kura.get("parameters", {})
    if not isinstance(parameters, dict):
        raise MalformedEvent("'run.facets.kura.parameters' must be a JSON object.")
    ci_job_url = _optional_text(kura, "ciJobUrl")
    if ci_job_url and not ci_job_url.startswith(("https://", "http://")):
        raise MalformedEvent("'run.facets.kura.ciJobUrl' must be an http(s) URL.")
    return ParsedEvent(
        event_type=event_type,
        event_time=event_time,
        run_id=run_id.lower(),
        job_namespace=_text(job, "namespace", "job.namespace", max_length=255),
        job_name=_text(job, "name", "job.name"),
        code=_code_location(_facets(job, "job.facets")),
        parameters=parameters,
        ci_job_url=ci_job_url,
        inputs=_datasets(event, "inputs"),
        outputs=_datasets(event, "outputs"),
    )
