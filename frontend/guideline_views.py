"""The guideline page: rules, schema, revision history and diff, correction examples, exports."""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_POST

from access.selectors import person_for_user
from annotations.diff import guideline_diff
from annotations.exports import guideline_export_html, guideline_export_markdown, open_example_image
from annotations.models import CorrectionExample, GuidelineRevision
from annotations.selectors import (
    RevisionNotFound,
    correction_examples_by_rule,
    guideline_revision_get,
    guideline_revisions,
    revision_headings,
)
from annotations.services import ExampleSide, correction_example_add
from catalog.models import Dataset
from catalog.selectors import dataset_can_change
from frontend.forms import apply_service_errors
from frontend.guideline_forms import SERVICE_FIELD, CorrectionExampleForm
from frontend.views import dataset_or_404
from kura.text import positive_whole_number

# Served files are shown as images only: no script runs even if a browser were talked into rendering them.
_FILE_CSP = "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; sandbox"


def _revision_number(request: HttpRequest, name: str) -> int | None:
    raw = request.GET.get(name, "").strip()
    if not raw:
        return None
    number = positive_whole_number(raw)
    if number is None:
        raise Http404("No such revision.")
    return number


def _revision(dataset: Dataset, number: int) -> GuidelineRevision:
    try:
        return guideline_revision_get(dataset, number)
    except RevisionNotFound as missing:
        raise Http404("No such revision.") from missing


@login_required
def guideline(request: HttpRequest, slug: str) -> HttpResponse:
    dataset = dataset_or_404(request, slug)
    if dataset.slug != slug:
        return HttpResponsePermanentRedirect(reverse("frontend:guideline", kwargs={"slug": dataset.slug}))
    return render_guideline(request, dataset)


def render_guideline(
    request: HttpRequest, dataset: Dataset, *, form: CorrectionExampleForm | None = None
) -> HttpResponse:
    revisions = guideline_revisions(dataset)
    current = revisions[0] if revisions else None
    requested = _revision_number(request, "revision")
    shown = _revision(dataset, requested) if requested is not None else current
    can_change = dataset_can_change(user=request.user, dataset=dataset)
    headings = revision_headings(current) if current else []
    context: dict[str, Any] = {
        "dataset": dataset,
        "revisions": revisions,
        "current": current,
        "shown": shown,
        "classes": (shown.label_schema or {}).get("classes", []) if shown else [],
        "groups": correction_examples_by_rule(shown) if shown else [],
        "can_change": can_change,
        "headings": headings,
        "form": form or (CorrectionExampleForm(headings=headings) if can_change else None),
    }
    if shown is not None and current is not None and len(revisions) > 1:
        older = next((revision for revision in revisions if revision.number < shown.number), None)
        if older is not None:
            context["diff"] = guideline_diff(older, shown)
        # The compare form starts from the change shown, or (on the first revision) from it to the current one.
        context["compare_from"], context["compare_to"] = (
            (older.number, shown.number) if older is not None else (shown.number, current.number)
        )
    return render(request, "frontend/guideline.html", context)


@login_required
def guideline_compare(request: HttpRequest, slug: str) -> HttpResponse:
    dataset = dataset_or_404(request, slug)
    old_number, new_number = _revision_number(request, "from"), _revision_number(request, "to")
    if old_number is None or new_number is None:
        raise Http404("Choose two revisions.")
    diff = guideline_diff(_revision(dataset, old_number), _revision(dataset, new_number))
    partial = request.headers.get("HX-Request") and not request.headers.get("HX-History-Restore-Request")
    template = "frontend/_guideline_diff.html" if partial else "frontend/guideline_diff.html"
    response = render(request, template, {"dataset": dataset, "diff": diff})
    patch_vary_headers(response, ["HX-Request"])
    return response


@login_required
@require_POST
def correction_example_create(request: HttpRequest, slug: str) -> HttpResponse:
    dataset = dataset_or_404(request, slug)
    if not dataset_can_change(user=request.user, dataset=dataset):
        raise PermissionDenied("Only the owner, stewards or staff can add correction examples.")
    current = guideline_revisions(dataset)[:1]
    form = CorrectionExampleForm(
        request.POST, request.FILES, headings=revision_headings(current[0]) if current else []
    )
    if form.is_valid():
        data = form.cleaned_data
        try:
            correction_example_add(
                dataset=dataset,
                rule_anchor=data["rule"],
                before=ExampleSide(image=data["before_image"], snippet=data["before_snippet"]),
                after=ExampleSide(image=data["after_image"], snippet=data["after_snippet"]),
                explanation=data["explanation"],
                actor=person_for_user(request.user),
            )
        except ValidationError as error:
            apply_service_errors(form, error, field_map=SERVICE_FIELD)
        else:
            messages.success(request, "Correction example added.")
            return redirect(reverse("frontend:guideline", kwargs={"slug": dataset.slug}) + "#examples")
    return render_guideline(request, dataset, form=form)


@login_required
def correction_example_file(request: HttpRequest, slug: str, pk: int, side: str) -> FileResponse:
    """An example's image, to people who may view the dataset; there is no public media URL."""
    dataset = dataset_or_404(request, slug)
    example = CorrectionExample.objects.filter(pk=pk, guideline__dataset=dataset).first()
    if example is None or side not in {"before", "after"} or not getattr(example, f"{side}_image"):
        raise Http404("No such image.")
    handle = open_example_image(example, side)
    if handle is None:
        raise Http404("This image is missing from Kura's file storage.")
    response = FileResponse(handle, content_type=getattr(example, f"{side}_image_type"))
    response["Content-Disposition"] = f'inline; filename="{dataset.slug}-example-{example.pk}-{side}"'
    response["Content-Security-Policy"] = _FILE_CSP
    response["Cache-Control"] = "private, max-age=3600"
    return response


@login_required
def guideline_export(request: HttpRequest, slug: str, fmt: str) -> HttpResponse:
    dataset = dataset_or_404(request, slug)
    if fmt not in {"html", "md"}:
        raise Http404("Exports are .html or .md.")
    number = _revision_number(request, "revision")
    revisions = guideline_revisions(dataset)
    if not revisions:
        raise Http404("This dataset has no annotation rules.")
    revision = _revision(dataset, number) if number is not None else revisions[0]
    if fmt == "html":
        response = HttpResponse(guideline_export_html(revision), content_type="text/html; charset=utf-8")
        response["Content-Security-Policy"] = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
    else:
        response = HttpResponse(guideline_export_markdown(revision), content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{dataset.slug}-rules-r{revision.number}.{fmt}"'
    return response

