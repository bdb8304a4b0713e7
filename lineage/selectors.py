"""Reads over the lineage graph: impact, release readiness, models.

Downstream is computed by iterative set expansion, two indexed queries per hop (run → model versions it
produced → runs that read those), with visited sets so a cycle in stored data cannot loop, and a depth
bound. It works the same on PostgreSQL and on the embedded SQLite.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from django.db.models import Prefetch, QuerySet

from catalog.lookup_statements import latest_published_version
from catalog.models import Dataset, DatasetVersion
from lineage.models import (
    Consumer,
    ConsumerDependency,
    Model,
    ModelVersion,
    RunInput,
    RunOutput,
    TrainingRun,
)

MAX_DEPTH = 100
READY_STAGES = (ModelVersion.Stage.STAGING, ModelVersion.Stage.PRODUCTION)


@dataclass
class Downstream:
    run_ids: set[UUID] = field(default_factory=set)
    model_version_ids: set[int] = field(default_factory=set)
    consumer_ids: set[int] = field(default_factory=set)


def downstream(
    *, run_ids: Iterable[UUID] = (), model_version_ids: Iterable[int] = (), with_consumers: bool = True
) -> Downstream:
    """Every run, model version and consumer reachable from the given runs and model versions (included)."""
    found = Downstream(run_ids=set(run_ids), model_version_ids=set(model_version_ids))
    new_runs, new_versions = set(found.run_ids), set(found.model_version_ids)
    for _ in range(MAX_DEPTH):
        if new_runs:
            produced = set(
                RunOutput.objects.filter(run_id__in=new_runs, model_version__isnull=False)
                .values_list("model_version_id", flat=True)
            )
            new_versions |= produced - found.model_version_ids
            found.model_version_ids |= produced
        if not new_versions:
            break
        readers = set(RunInput.objects.filter(model_version_id__in=new_versions).values_list("run_id", flat=True))
        new_runs = readers - found.run_ids
        found.run_ids |= readers
        new_versions = set()
        if not new_runs:
            break
    if with_consumers and found.model_version_ids:
        found.consumer_ids = set(
            ConsumerDependency.objects.filter(model_version_id__in=found.model_version_ids)
            .values_list("consumer_id", flat=True)
        )
    return found


def runs_reading(dataset_versions: Iterable[Any]) -> set[UUID]:
    return set(RunInput.objects.filter(dataset_version__in=dataset_versions).values_list("run_id", flat=True))


@dataclass
class Impact:
    runs: list[TrainingRun]
    model_versions: list[ModelVersion]
    consumers: list[Consumer]

    @property
    def models(self) -> list[Model]:
        unique: dict[int, Model] = {}
        for version in self.model_versions:
            unique.setdefault(version.model_id, version.model)
        return sorted(unique.values(), key=lambda model: model.name)


def impact_of_version(*, version: DatasetVersion) -> Impact:
    """Everything downstream of ``version``. The caller has already checked the person may see its dataset."""
    return _impact(downstream(run_ids=runs_reading([version])))


def _impact(found: Downstream) -> Impact:
    return Impact(
        runs=list(TrainingRun.objects.filter(pk__in=found.run_ids).order_by("-started_at", "job_name")),
        model_versions=list(
            ModelVersion.objects.filter(pk__in=found.model_version_ids)
            .select_related("model__owner", "produced_by")
            .order_by("model__name", "-created_at")
        ),
        consumers=list(
            Consumer.objects.filter(pk__in=found.consumer_ids)
            .prefetch_related(Prefetch("model_versions", queryset=ModelVersion.objects.select_related("model")))
            .order_by("name")
        ),
    )


def models_affected_by_dataset(*, dataset: Dataset) -> list[Model]:
    """Models with a version downstream of any version of ``dataset`` (for deprecation warnings)."""
    runs = runs_reading(DatasetVersion.objects.filter(dataset=dataset).values("pk"))
    if not runs:
        return []
    found = downstream(run_ids=runs, with_consumers=False)
    return list(
        Model.objects.filter(versions__in=found.model_version_ids).distinct().select_related("owner__user").order_by("name")
    )


@dataclass
class ModelReadiness:
    model: Model
    trained_on: list[str]
    ready_versions: list[ModelVersion]
    consumers: list[str]

    @property
    def ready(self) -> bool:
        return bool(self.ready_versions)


@dataclass
class Readiness:
    dataset: Dataset
    newest: DatasetVersion | None
    models: list[ModelReadiness]

    @property
    def lagging(self) -> list[ModelReadiness]:
        return [entry for entry in self.models if not entry.ready]


_FAILED_RUNS = {TrainingRun.Status.FAILED, TrainingRun.Status.ABORTED}


def release_readiness(*, dataset: Dataset) -> Readiness:
    """Per model trained directly on some version of ``dataset``: is a staging or production version of it
    trained on the newest published version?"""
    newest = latest_published_version(dataset)
    inputs = RunInput.objects.filter(dataset_version__dataset=dataset).values_list("run_id", "dataset_version_id")
    versions_by_run: dict[UUID, set[Any]] = defaultdict(set)
    for run_id, version_id in inputs:
        versions_by_run[run_id].add(version_id)
    labels = dict(DatasetVersion.objects.filter(dataset=dataset).values_list("pk", "label"))
    outputs = (
        RunOutput.objects.filter(run_id__in=versions_by_run, model_version__isnull=False)
        .select_related("run", "model_version__model__owner")
    )
    trained_on: dict[int, set[str]] = defaultdict(set)
    ready: dict[int, list[ModelVersion]] = defaultdict(list)
    model_by_id: dict[int, Model] = {}
    version_ids_by_model: dict[int, set[int]] = defaultdict(set)
    for output in outputs:
        model_version = output.model_version
        assert model_version is not None
        model_by_id[model_version.model_id] = model_version.model
        version_ids_by_model[model_version.model_id].add(model_version.pk)
        read = versions_by_run[output.run_id]
        trained_on[model_version.model_id] |= {labels[version_id] for version_id in read}
        if (
            newest is not None
            and newest.pk in read
            and model_version.stage in READY_STAGES
            and output.run.status not in _FAILED_RUNS  # a failed run's model is no release candidate
        ):
            ready[model_version.model_id].append(model_version)
    consumers = _consumer_names(version_ids_by_model)
    entries = [
        ModelReadiness(
            model=model,
            trained_on=sorted(trained_on[model_id]),
            ready_versions=sorted(ready[model_id], key=lambda version: version.created_at),
            consumers=consumers.get(model_id, []),
        )
        for model_id, model in model_by_id.items()
    ]
    entries.sort(key=lambda entry: (entry.ready, entry.model.name))
    return Readiness(dataset=dataset, newest=newest, models=entries)


def _consumer_names(version_ids_by_model: dict[int, set[int]]) -> dict[int, list[str]]:
    all_ids = set().union(*version_ids_by_model.values()) if version_ids_by_model else set()
    rows = ConsumerDependency.objects.filter(model_version_id__in=all_ids).values_list(
        "model_version__model_id", "consumer__name"
    )
    names: dict[int, set[str]] = defaultdict(set)
    for model_id, name in rows:
        names[model_id].add(name)
    return {model_id: sorted(found) for model_id, found in names.items()}


def model_list() -> "QuerySet[Model]":
    return Model.objects.select_related("owner").prefetch_related(
        Prefetch("versions", queryset=ModelVersion.objects.order_by("-created_at"))
    )


def model_get(*, name: str) -> Model | None:
    return model_list().filter(name=name).first()


@dataclass
class VersionLineage:
    trained_on: list[str]
    consumers: list[str]


def model_version_lineage(*, user: Any, versions: Iterable[ModelVersion]) -> dict[int, VersionLineage]:
    """What each version was trained on, as ``user`` may see it: inputs from datasets hidden from the caller
    are left out entirely, so a restricted dataset never shows in another person's graph."""
    versions_by_run: dict[UUID, list[int]] = defaultdict(list)  # one run may produce several (e.g. fp32 and int8)
    for version in versions:
        if version.produced_by_id:
            versions_by_run[version.produced_by_id].append(version.pk)
    result: dict[int, VersionLineage] = {
        version.pk: VersionLineage(trained_on=[], consumers=[]) for version in versions
    }
    visible = Dataset.objects.restrict(user, "view").values("pk")
    inputs = (
        RunInput.objects.filter(run_id__in=versions_by_run)
        .select_related("dataset_version__dataset", "model_version__model", "external_dataset")
        .order_by("pk")
    )
    visible_ids = set(
        DatasetVersion.objects.filter(training_inputs__run_id__in=versions_by_run, dataset__in=visible)
        .values_list("pk", flat=True)
    )
    for run_input in inputs:
        if run_input.dataset_version is not None:
            if run_input.dataset_version_id not in visible_ids:
                continue
            read = f"kura://{run_input.dataset_version}"
        elif run_input.model_version is not None:
            read = f"kura-model://{run_input.model_version}"
        elif run_input.external_dataset is not None:
            read = str(run_input.external_dataset)
        else:
            continue
        for version_id in versions_by_run[run_input.run_id]:
            result[version_id].trained_on.append(read)
    for model_version_id, name in ConsumerDependency.objects.filter(
        model_version_id__in=list(result)
    ).values_list("model_version_id", "consumer__name"):
        result[model_version_id].consumers.append(name)
    return result


def model_versions_named(specs: Iterable[str]) -> tuple[list[ModelVersion], list[str]]:
    """``model@version`` (or ``kura-model://model@version``) specs → the versions found, and the specs not found."""
    found: list[ModelVersion] = []
    missing: list[str] = []
    for spec in specs:
        name, _, version = spec.removeprefix("kura-model://").rpartition("@")
        model_version = ModelVersion.objects.select_related("model").filter(model__name=name, version=version).first()
        if model_version is None:
            missing.append(spec)
        else:
            found.append(model_version)
    return found, missing


MAX_GRAPH_NODES = 150


@dataclass(frozen=True)
class GraphNode:
    key: str
    kind: str  # dataset_version | external | run | model_version | consumer
    label: str
    detail: str = ""
    ref: tuple[str, ...] = ()  # what a page needs to link it: (slug, label) or (model name,)


@dataclass
class LineageGraph:
    nodes: dict[str, GraphNode] = field(default_factory=dict)
    edges: set[tuple[str, str]] = field(default_factory=set)
    truncated: bool = False

    def add(self, node: GraphNode) -> bool:
        if node.key in self.nodes:
            return True
        if len(self.nodes) >= MAX_GRAPH_NODES:
            self.truncated = True
            return False
        self.nodes[node.key] = node
        return True

    def link(self, source: GraphNode, target: GraphNode) -> None:
        if self.add(source) and self.add(target):
            self.edges.add((source.key, target.key))


def _run_node(run: TrainingRun) -> GraphNode:
    return GraphNode(f"run:{run.pk}", "run", run.job_name, f"{run.status} · {run.external_run_id[:13]}")


def _model_version_node(version: ModelVersion) -> GraphNode:
    return GraphNode(f"mv:{version.pk}", "model_version", f"{version.model.name}@{version.version}", version.stage,
                     (version.model.name,))


def _assemble(*, user: Any, found: Downstream) -> LineageGraph:
    """Nodes and edges around the runs, model versions and consumers in ``found``. Dataset versions appear
    only from datasets ``user`` may see, so a restricted dataset never shows in another person's graph."""
    graph = LineageGraph()
    runs = {run.pk: run for run in TrainingRun.objects.filter(pk__in=found.run_ids)}
    versions = {
        version.pk: version
        for version in ModelVersion.objects.filter(pk__in=found.model_version_ids).select_related("model")
    }
    for version in versions.values():
        graph.add(_model_version_node(version))
    inputs = list(
        RunInput.objects.filter(run_id__in=runs)
        .select_related("dataset_version__dataset", "model_version__model", "external_dataset")
        .order_by("pk")
    )
    read_datasets = {run_input.dataset_version.dataset_id for run_input in inputs if run_input.dataset_version}
    visible = set(
        Dataset.objects.restrict(user, "view").filter(pk__in=read_datasets).values_list("pk", flat=True)
    )
    for run_input in inputs:
        source: GraphNode
        if run_input.dataset_version is not None:
            read = run_input.dataset_version
            if read.dataset_id not in visible:
                continue
            source = GraphNode(f"dv:{read.pk}", "dataset_version", f"{read.dataset.slug}@{read.label}",
                               read.dataset.name, (read.dataset.slug, read.label))
        elif run_input.model_version is not None:
            source = _model_version_node(run_input.model_version)
        else:
            assert run_input.external_dataset is not None
            external = run_input.external_dataset
            source = GraphNode(f"ext:{external.pk}", "external", external.name, external.namespace)
        graph.link(source, _run_node(runs[run_input.run_id]))
    outputs = RunOutput.objects.filter(run_id__in=runs).select_related("model_version__model", "external_dataset")
    for output in outputs.order_by("pk"):
        if output.model_version is not None:
            target = _model_version_node(output.model_version)
        else:
            assert output.external_dataset is not None
            external = output.external_dataset
            target = GraphNode(f"ext:{external.pk}", "external", external.name, external.namespace)
        graph.link(_run_node(runs[output.run_id]), target)
    dependencies = ConsumerDependency.objects.filter(model_version_id__in=versions).select_related("consumer")
    for dependency in dependencies.order_by("pk"):
        consumer = dependency.consumer
        graph.link(_model_version_node(versions[dependency.model_version_id]),
                   GraphNode(f"c:{consumer.pk}", "consumer", consumer.name, consumer.get_kind_display()))
    return graph


def dataset_lineage_graph(*, user: Any, dataset: Dataset) -> LineageGraph:
    """Everything downstream of any version of ``dataset`` (the caller has checked the user may see it)."""
    runs = runs_reading(DatasetVersion.objects.filter(dataset=dataset).values("pk"))
    return _assemble(user=user, found=downstream(run_ids=runs))


def model_lineage_graph(*, user: Any, model: Model) -> LineageGraph:
    """The runs that produced ``model``'s versions, what they read, and everything downstream."""
    version_ids = set(model.versions.values_list("pk", flat=True))
    producers = set(
        TrainingRun.objects.filter(produced_versions__in=version_ids).values_list("pk", flat=True)
    )
    return _assemble(user=user, found=downstream(run_ids=producers, model_version_ids=version_ids))
