"""Writes to the lineage graph. Each public function is one transaction; a refused edge leaves nothing behind."""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from access.models import Person
from catalog.models import DatasetVersion
from kura.statements import insert_ignoring_conflicts, update
from lineage.models import (
    Consumer,
    ConsumerDependency,
    ExternalDataset,
    Model,
    ModelVersion,
    RawLineageEvent,
    RunInput,
    RunOutput,
    TrainingRun,
)
from lineage.openlineage import DatasetRef, ParsedEvent, event_digest, parse_run_event
from lineage.resolution import ModelRef, resolve_dataset_refs
from lineage.selectors import downstream
from lineage.statements import (
    external_datasets_ensured,
    external_datasets_named,
    model_and_version,
    run_upsert,
    run_upsert_folding,
)

TERMINAL_STATUS = {
    "COMPLETE": TrainingRun.Status.COMPLETE,
    "FAIL": TrainingRun.Status.FAILED,
    "ABORT": TrainingRun.Status.ABORTED,
}


class LineageCycle(Exception):
    """The edge would make a model version (transitively) trained on itself."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class LineageConflict(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class IngestResult:
    created: bool
    event: RawLineageEvent


def _run_for(*, namespace: str, external_run_id: str, job_name: str) -> TrainingRun:
    """The run, created if new, locked so concurrent events of one run fold in one after the other."""
    return run_upsert(TrainingRun(job_namespace=namespace, external_run_id=external_run_id, job_name=job_name))


def _run_folding(event: ParsedEvent, raw: RawLineageEvent) -> TrainingRun:
    """The event's run with the event folded in, created if new, locked so concurrent events of one run fold in
    one after the other, and the raw event stored for it. One statement on PostgreSQL (``run_upsert_folding``);
    merging parameters into those of a stored run takes another."""
    fresh = TrainingRun(job_namespace=event.job_namespace, external_run_id=event.run_id, job_name=event.job_name)
    _apply_event_to_run(fresh, event)
    run = run_upsert_folding(
        fresh, terminal=event.event_type in TERMINAL_STATUS, ended=TERMINAL_STATUS.values(), recording=raw
    )
    if run.pk != fresh.pk and event.parameters:  # a stored run: its parameters are still the stored ones
        run.parameters = {**run.parameters, **event.parameters}
        update(run, ["parameters"])
    return run


def _apply_event_to_run(run: TrainingRun, event: ParsedEvent) -> None:
    """Fold one event into the run so that any arrival order gives the same final state.

    ``statements.run_upsert_folding`` folds an event into a stored run the same way, in SQL: keep them in step.
    """
    run.started_at = min(filter(None, [run.started_at, event.event_time]))
    terminal = TERMINAL_STATUS.get(event.event_type)
    if terminal is not None:
        already_ended = run.status in TERMINAL_STATUS.values()
        if not already_ended or run.status_event_time is None or event.event_time >= run.status_event_time:
            run.status = terminal
            run.status_event_time = event.event_time
            run.ended_at = event.event_time
    run.job_name = event.job_name
    run.code_repository = event.code.repository or run.code_repository
    run.code_path = event.code.path or run.code_path
    run.code_commit = event.code.commit or run.code_commit
    run.ci_job_url = event.ci_job_url or run.ci_job_url
    if event.parameters:
        run.parameters = {**run.parameters, **event.parameters}


# A name is part of the model's page address (/models/<name>/): parts between single slashes each start with a
# letter or digit, so no '.', '..' or empty part that a browser or proxy would rewrite away.
MODEL_NAME = re.compile(r"^(?=.{1,200}\Z)[A-Za-z0-9][A-Za-z0-9._-]*(?:/[A-Za-z0-9][A-Za-z0-9._-]*)*\Z")
MODEL_NAME_RULE = (
    "a name of letters, digits, '.', '_' and '-', in parts separated by single '/' that each start with a letter "
    "or digit"
)
MODEL_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}\Z")  # \Z: '$' would let a final newline in


def _check_model_name(name: str, version: str) -> None:
    if not MODEL_NAME.match(name) or not MODEL_VERSION.match(version):
        raise ValidationError({"model": [
            f"'{name}@{version}' is not a valid model version: {MODEL_NAME_RULE}, "
            "and a version of letters, digits, '.', '_', '+' or '-'."
        ]})


def _model_version_get_or_create(
    *, name: str, version: str, owner: Person | None, produced_by: TrainingRun | None = None
) -> tuple[ModelVersion, bool]:
    """The model version (and its model), created if missing; ``True`` if this call created the version.

    Inserts that lose a race to a concurrent transaction keep the winner's row.
    """
    _check_model_name(name, version)
    model, existing = model_and_version(name, version)
    if existing is not None:
        return existing, False
    if model is None:
        inserted = insert_ignoring_conflicts([Model(name=name, owner=owner)], returning=True)
        model = inserted[0] if inserted else model_and_version(name, version)[0]
        assert model is not None  # inserted now, or by the transaction that won the race
    created = insert_ignoring_conflicts(
        [ModelVersion(model=model, version=version, produced_by=produced_by)], returning=True
    )
    model_version = created[0] if created else model_and_version(name, version)[1]
    assert model_version is not None
    model_version.model = model
    return model_version, bool(created)


@transaction.atomic
def model_version_ensure(*, name: str, version: str, owner: Person | None = None) -> ModelVersion:
    return _model_version_get_or_create(name=name, version=version, owner=owner)[0]


@transaction.atomic
def run_link_input(*, run: TrainingRun, model_version: ModelVersion) -> None:
    """Record that ``run`` read ``model_version``; refused when that would close a cycle."""
    _link_input(run, model_version)


def _link_input(run: TrainingRun, model_version: ModelVersion, *, linked: bool = False) -> None:
    """``linked``: the run already reads this version, so the edge is not new and cannot close a cycle."""
    if linked:
        return
    if model_version.produced_by_id == run.pk or model_version.pk in downstream(
        run_ids=[run.pk], with_consumers=False
    ).model_version_ids:
        raise LineageCycle(f"Run {run.external_run_id} cannot read {model_version}: that model version is "
                           "downstream of the run itself.")
    insert_ignoring_conflicts([RunInput(run=run, model_version=model_version)])


def _link_output(run: TrainingRun, model_version: ModelVersion, *, stage: str = "", fresh: bool = False) -> None:
    """``fresh``: the version was created just now for this run, so nothing can read it yet (no cycle possible)."""
    if model_version.produced_by_id not in (None, run.pk):
        raise LineageConflict(f"{model_version} was already produced by another run.")
    if (
        not fresh
        and not RunOutput.objects.filter(run=run, model_version=model_version).exists()  # an existing edge: no cycle
        and run.pk in downstream(model_version_ids=[model_version.pk], with_consumers=False).run_ids
    ):
        raise LineageCycle(f"Run {run.external_run_id} cannot produce {model_version}: the run is downstream of "
                           "that model version.")
    if model_version.produced_by_id is None or (stage and stage != model_version.stage):
        model_version.produced_by = run
        model_version.stage = stage or model_version.stage
        model_version.save(update_fields=["produced_by", "stage"])
    insert_ignoring_conflicts([RunOutput(run=run, model_version=model_version)])


def _validate_stage(stage: str) -> None:
    if stage and stage not in ModelVersion.Stage.values:
        raise ValidationError({"stage": [f"'{stage}' is not a stage ({', '.join(ModelVersion.Stage.values)})."]})


def _external_datasets(refs: list[DatasetRef]) -> dict[tuple[str, str], ExternalDataset]:
    """The external datasets the refs name, created if missing."""
    wanted = {(ref.namespace, ref.name) for ref in refs}
    found = {(external.namespace, external.name): external for external in external_datasets_ensured(wanted)}
    if len(found) < len(wanted):  # another event was inserting some: read what it committed
        found.update(_externals_named(wanted - set(found)))
    return found


def _externals_named(keys: set[tuple[str, str]]) -> dict[tuple[str, str], ExternalDataset]:
    return {(external.namespace, external.name): external for external in external_datasets_named(keys)}


def _model_versions_read(run: TrainingRun, model_versions: list[ModelVersion]) -> set[int]:
    if not model_versions:
        return set()
    return set(
        RunInput.objects.filter(run=run, model_version__in=model_versions).values_list("model_version_id", flat=True)
    )


def _link_refs(*, run: TrainingRun, event: ParsedEvent, user: Any, owner: Person | None) -> None:
    """Edges for every input and output; inserts are batched and idempotent (a repeated event adds nothing)."""
    resolved = resolve_dataset_refs([*event.inputs, *event.outputs], user=user)
    input_targets, output_targets = resolved[: len(event.inputs)], resolved[len(event.inputs):]
    new_inputs: list[RunInput] = []
    unknown_inputs = [ref for ref, target in zip(event.inputs, input_targets, strict=True) if target is None]
    # A run writing a Kura dataset (or anything else) is recorded as an external output: dataset versions are
    # registered through the catalog, not created from lineage events.
    unknown_outputs = [
        ref for ref, target in zip(event.outputs, output_targets, strict=True) if not isinstance(target, ModelRef)
    ]
    externals = _external_datasets(unknown_inputs + unknown_outputs)
    model_inputs = [
        _model_version_get_or_create(name=target.name, version=target.version, owner=None)[0]
        for target in input_targets if isinstance(target, ModelRef)
    ]
    already_read = _model_versions_read(run, model_inputs)
    for model_version in model_inputs:
        _link_input(run, model_version, linked=model_version.pk in already_read)
    new_inputs += [RunInput(run=run, dataset_version=target) for target in input_targets
                   if isinstance(target, DatasetVersion)]
    new_inputs += [RunInput(run=run, external_dataset=externals[(ref.namespace, ref.name)]) for ref in unknown_inputs]
    insert_ignoring_conflicts(new_inputs)
    insert_ignoring_conflicts(
        [RunOutput(run=run, external_dataset=externals[(ref.namespace, ref.name)]) for ref in unknown_outputs]
    )
    for ref, target in zip(event.outputs, output_targets, strict=True):
        if isinstance(target, ModelRef):
            _validate_stage(ref.stage)
            model_version, created = _model_version_get_or_create(
                name=target.name, version=target.version, owner=owner, produced_by=run
            )
            _link_output(run, model_version, stage=ref.stage, fresh=created and model_version.produced_by_id == run.pk)


def lineage_event_ingest(*, payload: Any, user: Any, actor: Person | None) -> IngestResult:
    """Store an OpenLineage run event once and fold it into the graph; raises MalformedEvent before writing."""
    event = parse_run_event(payload)
    digest = event_digest(payload)
    try:
        with transaction.atomic():
            raw = RawLineageEvent(digest=digest, payload=payload, event_type=event.event_type,
                                  event_time=event.event_time)
            run = _run_folding(event, raw)
            _link_refs(run=run, event=event, user=user, owner=actor)
    except IntegrityError:
        # A duplicate (a client retry, perhaps racing on another connection): the stored copy stands.
        existing = RawLineageEvent.objects.filter(digest=digest).first()
        if existing is None:
            raise
        return IngestResult(created=False, event=existing)
    return IngestResult(created=True, event=raw)


@dataclass(frozen=True)
class TrainingReport:
    run: TrainingRun
    model_version: ModelVersion


@transaction.atomic
def training_report(
    *,
    actor: Person | None,
    model: str,
    version: str,
    trained_on: Sequence[DatasetVersion],
    run_id: str,
    namespace: str = "ci",
    job_name: str = "",
    code_repository: str = "",
    code_commit: str = "",
    ci_job_url: str = "",
    parameters: dict[str, Any] | None = None,
    stage: str = "",
    status: str = TrainingRun.Status.COMPLETE,
    started_at: datetime | None = None,
    ended_at: datetime | None = None,
) -> TrainingReport:
    """A CI job's plain statement: model M version V was trained on these dataset versions by run R."""
    _validate_stage(stage)
    if status not in TrainingRun.Status.values:
        raise ValidationError({"status": [f"'{status}' is not a run status."]})
    run = _run_for(namespace=namespace, external_run_id=run_id, job_name=job_name or model)
    run.status = status
    run.code_repository = code_repository or run.code_repository
    run.code_commit = code_commit.lower() or run.code_commit
    run.ci_job_url = ci_job_url or run.ci_job_url
    run.parameters = {**run.parameters, **(parameters or {})}
    run.started_at = started_at or run.started_at
    run.ended_at = ended_at or run.ended_at
    run.full_clean(exclude=["external_run_id", "job_namespace"], validate_unique=False)
    run.save()
    for dataset_version in trained_on:
        RunInput.objects.get_or_create(run=run, dataset_version=dataset_version)
    model_version = _model_version_get_or_create(name=model, version=version, owner=actor)[0]
    _link_output(run, model_version, stage=stage)
    return TrainingReport(run=run, model_version=model_version)


@transaction.atomic
def consumer_depend(
    *,
    name: str,
    model_versions: Sequence[ModelVersion],
    kind: str = Consumer.Kind.OTHER,
    owner: Person | None = None,
    description: str = "",
) -> Consumer:
    """Declare that a consumer (a threshold, an API endpoint) depends on model versions.

    A consumer that already exists keeps its owner; only that owner may add to it (an unowned one is open).
    """
    if kind not in Consumer.Kind.values:
        raise ValidationError({"kind": [f"'{kind}' is not a consumer kind ({', '.join(Consumer.Kind.values)})."]})
    consumer, created = Consumer.objects.get_or_create(
        name=name, defaults={"kind": kind, "owner": owner, "description": description}
    )
    if not created and consumer.owner_id is not None and (owner is None or consumer.owner_id != owner.pk):
        raise PermissionDenied(f"Consumer '{name}' belongs to someone else.")
    ConsumerDependency.objects.bulk_create(
        [ConsumerDependency(consumer=consumer, model_version=version) for version in model_versions],
        ignore_conflicts=True,
    )
    return consumer


@transaction.atomic
def model_update(*, model: Model, owner: Person | None, description: str) -> Model:
    if owner is not None and owner.status != Person.Status.ACTIVE:
        raise ValidationError({"owner": ["The owner must be an active person."]})
    Model.objects.filter(pk=model.pk).update(owner=owner, description=description.strip())
    model.refresh_from_db()
    return model
