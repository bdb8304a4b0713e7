from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import EmptyPage, Page, Paginator
from django.db import transaction
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponsePermanentRedirect,
    QueryDict,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers

from access.approvals import eligible_approvers
from access.selectors import default_owning_unit, org_units, person_for_user
from annotations.selectors import current_guideline_revision
from annotations.services import RulesConflict, guideline_revise
from catalog.access_selectors import request_pending_on
from catalog.datasheet import FIELD_NAMES as DATASHEET_FIELDS
from catalog.datasheet import answered_sections, unanswered_count
from catalog.documentation.formats import EXPORT_FORMATS
from catalog.exports import dataset_csv_lines
from catalog.filtersets import DatasetFilterSet
from catalog.list_statements import dataset_list_rows
from catalog.models import Dataset
from catalog.querysets import DatasetQuerySet
from catalog.search import counts_with_its_page
from catalog.selectors import (
    DatasetNotFound,
    VersionNotFound,
    dataset_can_change,
    dataset_can_read_data,
    dataset_resolve,
    deprecation_warnings,
    latest_version_labels,
    locations_in_role_order,
    version_list,
    version_resolve,
    visible_tags,
)
from catalog.selectors import (
    dataset_list as select_datasets,
)
from catalog.selectors import (
    successor_suggestions as select_successor_suggestions,
)
from catalog.services import EditConflict, LocationSpec, dataset_create, dataset_update
from frontend.access_forms import LEVEL_HELP, AccessRequestForm
from frontend.forms import DatasetForm, LocationFormSet, apply_service_errors
from kura.keyset import keys_of, page_counted_along

PAGE_SIZE = 25


def dataset_or_404(request: HttpRequest, slug: str) -> Dataset:
    try:
        return dataset_resolve(user=request.user, slug=slug).dataset
    except DatasetNotFound as missing:
        raise Http404("No such dataset.") from missing


def _filter_params(request: HttpRequest) -> QueryDict | None:
    """The list's query string without empty values: the form always sends "status=" for "Any status",
    and an empty choice would make the filterset invalid (and the search silently show everything)."""
    params = QueryDict(mutable=True)
    for key in request.GET:
        values = [value for value in request.GET.getlist(key) if value.strip()]
        if values:
            params.setlist(key, values)
    return params or None


@login_required
def dataset_list(request: HttpRequest) -> HttpResponse:
    filterset, queryset = _filtered_datasets(request)
    params = _filter_params(request)
    page = _list_page(request, queryset)
    datasets = dataset_list_rows(user=request.user, keys=page.object_list)
    context = {
        "filterset": filterset,
        "filtering": params is not None and any(key != "page" for key in params),
        "page": page,
        "datasets": datasets,
        "latest_labels": latest_version_labels(datasets),
        "units": org_units(),
        # Only tags of datasets this user may see: a restricted dataset's tags would reveal it.
        "tags": visible_tags(user=request.user),
        "statuses": Dataset.Status.choices,
        "selected_statuses": request.GET.getlist("status"),
    }
    # htmx asks for the results only, except when it restores a page from history (it then wants it all).
    partial = request.headers.get("HX-Request") and not request.headers.get("HX-History-Restore-Request")
    template = "frontend/_dataset_results.html" if partial else "frontend/dataset_list.html"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])  # the same URL answers with a fragment or a page
    return response


def _list_page(request: HttpRequest, queryset: DatasetQuerySet) -> Page:
    number = request.GET.get("page")
    if counts_with_its_page(request.GET.get("search", "")):
        try:
            return page_counted_along(queryset, int(number or 1), PAGE_SIZE)
        except (ValueError, EmptyPage):
            pass  # not a page number, or past the end: the paginator picks the page to show instead
    return Paginator(keys_of(queryset), PAGE_SIZE).get_page(number)


@login_required
def dataset_export(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    """The list as filtered on the page, as CSV; storage locations only of datasets the user may read."""
    filterset, queryset = _filtered_datasets(request)
    if filterset.is_bound and filterset.errors:
        # The page shows every dataset under a filter it cannot apply; a file of them all would pass for the
        # filtered list once downloaded.
        problems = "; ".join(f"{field}: {' '.join(errors)}" for field, errors in filterset.errors.items())
        return HttpResponseBadRequest(f"Nothing exported: {problems}", content_type="text/plain; charset=utf-8")
    response = StreamingHttpResponse(
        dataset_csv_lines(user=request.user, datasets=queryset), content_type="text/csv; charset=utf-8"
    )
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="kura-datasets-{stamp}.csv"'
    return response


def _filtered_datasets(request: HttpRequest) -> tuple[DatasetFilterSet, DatasetQuerySet]:
    filterset = DatasetFilterSet(_filter_params(request), queryset=select_datasets(user=request.user))
    queryset = filterset.qs if filterset.is_bound and filterset.is_valid() else filterset.queryset
    return filterset, cast(DatasetQuerySet, queryset)  # filtering keeps the queryset's class


@login_required
def dataset_detail(request: HttpRequest, slug: str) -> HttpResponse:
    dataset = dataset_or_404(request, slug)
    if dataset.slug != slug:
        return HttpResponsePermanentRedirect(reverse("frontend:dataset-detail", kwargs={"slug": dataset.slug}))
    return render_dataset_detail(request, dataset)


def render_dataset_detail(
    request: HttpRequest, dataset: Dataset, *, request_form: AccessRequestForm | None = None
) -> HttpResponse:
    can_read = dataset_can_read_data(user=request.user, dataset=dataset)
    can_change = dataset_can_change(user=request.user, dataset=dataset)
    context = {
        "dataset": dataset,
        "tags": dataset.tags.all(),
        "stewards": dataset.stewards.select_related("user"),
        "aliases": dataset.aliases.all(),
        "can_change": can_change,
        "can_read": can_read,
        "locations": locations_in_role_order(dataset) if can_read else [],
        "versions": version_list(dataset=dataset, include_drafts=can_change)[:50],
        "guideline": current_guideline_revision(dataset),
        "datasheet": answered_sections(dataset),
        "datasheet_unanswered": unanswered_count(dataset),
        "exports": [
            (export, reverse("api-dataset-export", kwargs={"slug": dataset.slug, "export_format": name}))
            for name, export in EXPORT_FORMATS.items()
        ],
        "warnings": deprecation_warnings(dataset),
        "api_url": request.build_absolute_uri(
            reverse("api-version-detail", kwargs={"slug": dataset.slug, "label": "latest"})
        ),
        **access_panel_context(request, dataset, can_read=can_read, form=request_form),
    }
    return render(request, "frontend/dataset_detail.html", context)


def access_panel_context(
    request: HttpRequest, dataset: Dataset, *, can_read: bool, form: AccessRequestForm | None = None
) -> dict[str, Any]:
    """The "Request access" panel: shown to people without read access, or with a request still pending."""
    person = person_for_user(request.user)
    pending = request_pending_on(person=person, dataset=dataset) if person is not None else None
    return {
        "access_panel": person is not None and (pending is not None or not can_read),
        "pending_request": pending,
        "pending_approvers": eligible_approvers(pending).people if pending is not None else [],
        "request_form": form or AccessRequestForm(),
        "level_help": LEVEL_HELP,
    }


@login_required
def version_detail(request: HttpRequest, slug: str, label: str) -> HttpResponse:
    dataset = dataset_or_404(request, slug)
    try:
        version = version_resolve(
            dataset=dataset, label=label, include_drafts=dataset_can_change(user=request.user, dataset=dataset)
        )
    except VersionNotFound as missing:
        raise Http404("No such version.") from missing
    can_read = dataset_can_read_data(user=request.user, dataset=dataset)
    files = Paginator(version.files.order_by("path"), 100).get_page(request.GET.get("page")) if can_read else None
    api_kwargs = {"slug": dataset.slug, "label": version.label}
    context = {
        "dataset": dataset,
        "version": version,
        "files": files,
        "can_read": can_read,
        "warnings": deprecation_warnings(dataset),
        "api_url": request.build_absolute_uri(reverse("api-version-detail", kwargs=api_kwargs)),
        "manifest_url": request.build_absolute_uri(reverse("api-version-manifest", kwargs=api_kwargs)),
    }
    return render(request, "frontend/version_detail.html", context)


def _initial_from(dataset: Dataset) -> dict[str, Any]:
    revision = current_guideline_revision(dataset)
    return {
        "name": dataset.name,
        "slug": dataset.slug,
        "purpose": dataset.purpose,
        "description": dataset.description,
        "owner": dataset.owner_id,
        "owning_unit": dataset.owning_unit_id,
        "status": dataset.status,
        "visibility": dataset.visibility,
        "classification": dataset.classification,
        "tags": ", ".join(tag.name for tag in dataset.tags.all()),
        "training_repo_url": dataset.training_repo_url,
        "training_repo_path": dataset.training_repo_path,
        "deprecation_note": dataset.deprecation_note,
        # dataset_resolve blanked a successor the editor may not see: the form says one is set, not which.
        "superseded_by": dataset.superseded_by.slug if dataset.superseded_by else "",
        "sunset_at": dataset.sunset_at,
        "unchanged_since": dataset.updated_at.isoformat(),
        "rules_revision": revision.number if revision else 0,
        "guideline_body": revision.body if revision else "",
        "label_schema": _schema_text(revision.label_schema) if revision and revision.label_schema else "",
        **{field: getattr(dataset, field) for field in DATASHEET_FIELDS},
    }


def _schema_text(schema: Any) -> str:
    import json

    return json.dumps(schema, indent=2, ensure_ascii=False)


def _apply_service_errors(form: DatasetForm, formset: Any, error: ValidationError) -> None:
    if hasattr(error, "error_dict") and "locations" in error.error_dict:
        formset._non_form_errors = formset.error_class(error.message_dict["locations"])  # above the location rows
        error = ValidationError({field: errors for field, errors in error.error_dict.items() if field != "locations"})
    apply_service_errors(form, error)


def _show_conflict(form: DatasetForm, dataset: Dataset, conflict: ValidationError) -> None:
    """The editor's text stays in the form, stamped with what is saved now: sending it again overrides."""
    dataset.refresh_from_db(fields=["updated_at"])
    revision = current_guideline_revision(dataset)
    form.accept_current(unchanged_since=dataset.updated_at, rules_revision=revision.number if revision else 0)
    apply_service_errors(form, conflict)


@login_required
def dataset_edit(request: HttpRequest, slug: str | None = None) -> HttpResponse:
    dataset = dataset_or_404(request, slug) if slug else None
    if dataset is not None and not dataset_can_change(user=request.user, dataset=dataset):
        raise PermissionDenied("Only the owner, stewards or staff can edit this dataset.")
    person = person_for_user(request.user)
    if request.method == "POST":
        form = DatasetForm(request.POST, user=request.user, dataset=dataset)
        formset = LocationFormSet(request.POST, prefix="locations")
        if form.is_valid() and formset.is_valid():
            try:
                saved = _save(form, formset, dataset, person)
            except (EditConflict, RulesConflict) as conflict:
                assert dataset is not None  # only an edit can conflict
                _show_conflict(form, dataset, conflict)
            except ValidationError as error:
                _apply_service_errors(form, formset, error)
            else:
                messages.success(request, f"Saved '{saved.name}'.")
                return redirect("frontend:dataset-detail", slug=saved.slug)
    else:
        default_unit = default_owning_unit(person)
        initial = (
            _initial_from(dataset)
            if dataset
            else {"owner": person.pk if person else None, "owning_unit": default_unit.pk if default_unit else None}
        )
        form = DatasetForm(initial=initial, user=request.user, dataset=dataset)
        rows = (
            [
                {"uri": loc.uri, "role": loc.role, "note": loc.note}
                for loc in locations_in_role_order(dataset)
            ]
            if dataset
            else []
        )
        formset = LocationFormSet(initial=rows, prefix="locations")
    return render(request, "frontend/dataset_form.html", {"form": form, "formset": formset, "dataset": dataset})


@login_required
def successor_suggestions(request: HttpRequest) -> HttpResponse:
    """Options for the dataset form's "Superseded by" field, matching what has been typed into it."""
    datasets = select_successor_suggestions(user=request.user, typed=request.GET.get("superseded_by", ""))
    return render(request, "frontend/_successor_suggestions.html", {"datasets": datasets})


def _save(form: DatasetForm, formset: Any, dataset: Dataset | None, person: Any) -> Dataset:
    data = dict(form.cleaned_data)
    unchanged_since = data.pop("unchanged_since")
    rules_revision = data.pop("rules_revision")
    guideline_body = data.pop("guideline_body")
    label_schema = data.pop("label_schema")
    slug = data.pop("slug")
    tags = data.pop("tags")
    datasheet = {field: data.pop(field) for field in DATASHEET_FIELDS}
    locations = [
        LocationSpec(uri=row["uri"], role=row["role"], note=row.get("note", ""))
        for row in formset.cleaned_data
        if row and row.get("uri") and not row.get("DELETE")
    ]
    # The dataset and its rules are saved together or not at all.
    with transaction.atomic():
        if dataset is None:
            saved = dataset_create(
                actor=person, slug=slug, tags=tags, locations=locations, datasheet=datasheet, **data
            )
        else:
            saved = dataset_update(
                dataset=dataset,
                actor=person,
                slug=slug,
                tags=tags,
                locations=locations,
                datasheet=datasheet,
                unchanged_since=unchanged_since,
                **data,
            )
        try:
            guideline_revise(
                dataset=saved, body=guideline_body, label_schema=label_schema, actor=person, based_on=rules_revision
            )
        except RulesConflict:
            raise
        except ValidationError as error:
            raise ValidationError({"guideline_body": error.messages}) from error
    return saved
