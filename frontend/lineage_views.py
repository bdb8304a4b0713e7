"""Lineage pages: a dataset's downstream graph, impact list and release readiness; models and their versions."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.safestring import mark_safe

from catalog.selectors import VersionNotFound, version_list, version_resolve
from frontend.lineage_svg import render_svg
from frontend.views import dataset_or_404
from lineage.selectors import (
    dataset_lineage_graph,
    impact_of_version,
    model_get,
    model_lineage_graph,
    model_list,
    model_version_lineage,
    release_readiness,
)


@login_required
def dataset_lineage(request: HttpRequest, slug: str) -> HttpResponse:
    dataset = dataset_or_404(request, slug)
    versions = list(version_list(dataset=dataset)[:100])
    selected = None
    if versions:
        try:
            selected = version_resolve(dataset=dataset, label=request.GET.get("version") or "latest")
        except VersionNotFound as missing:
            raise Http404("No such version.") from missing
    graph = dataset_lineage_graph(user=request.user, dataset=dataset)
    context = {
        "dataset": dataset,
        "versions": versions,
        "selected": selected,
        "impact": impact_of_version(version=selected) if selected else None,
        "readiness": release_readiness(dataset=dataset),
        "graph": graph,
        # Every label in the SVG is escaped by render_svg.
        "graph_svg": mark_safe(render_svg(graph, highlight={f"dv:{selected.pk}"} if selected else None)),  # noqa: S308
    }
    return render(request, "frontend/lineage/dataset_lineage.html", context)


@login_required
def models(request: HttpRequest) -> HttpResponse:
    page = Paginator(model_list(), 50).get_page(request.GET.get("page"))
    return render(request, "frontend/lineage/model_list.html", {"page": page})


@login_required
def model_detail(request: HttpRequest, name: str) -> HttpResponse:
    model = model_get(name=name)
    if model is None:
        raise Http404("No such model.")
    versions = list(model.versions.select_related("model", "produced_by").order_by("-created_at"))
    lineage = model_version_lineage(user=request.user, versions=versions)
    graph = model_lineage_graph(user=request.user, model=model)
    context = {
        "model": model,
        "rows": [(version, lineage[version.pk]) for version in versions],
        "graph": graph,
        "graph_svg": mark_safe(render_svg(graph, highlight={f"mv:{version.pk}" for version in versions})),  # noqa: S308
    }
    return render(request, "frontend/lineage/model_detail.html", context)
