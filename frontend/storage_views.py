"""Storage pages: the findings dashboard, a finding with claim/assign/dismiss, and scans with live progress.

Reads go through ``storage.selectors`` (who may see which findings and runs) and ``storage.reports``;
writes through the storage services. Scans only read storage; nothing here can change stored data.
"""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_POST

from access.selectors import person_for_user
from frontend.forms import apply_service_errors
from frontend.storage_forms import AssignForm, ClaimForm, ConnectionForm, DismissForm
from storage.dvc.remote_report import remote_summary
from storage.models import Finding
from storage.reports import findings_breakdown
from storage.scanning import scan_start
from storage.selectors import (
    can_manage_connections,
    can_triage_findings,
    connection_list,
    dvc_remote_get,
    dvc_remote_open_findings,
    finding_connection_names,
    finding_filter,
    finding_list,
    run_list,
    run_progress,
    run_progress_by_run,
)
from storage.services import (
    connection_create,
    finding_assign,
    finding_claim,
    finding_dismiss,
)

PAGE_SIZE = 25


def _person(request: HttpRequest) -> Any:
    person = person_for_user(request.user)
    if person is None:
        raise PermissionDenied("Only people in the directory can act on findings.")
    return person


def _filters(request: HttpRequest) -> dict[str, str]:
    params = {key: request.GET.get(key, "").strip() for key in ("kind", "status", "connection", "q")}
    if "status" not in request.GET:
        params["status"] = "open"  # what needs a decision, unless the person asks for more
    return params


@login_required
def findings_dashboard(request: HttpRequest) -> HttpResponse:
    params = _filters(request)
    findings = finding_filter(finding_list(user=request.user), params)
    page = Paginator(findings, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "params": params,
        "page": page,
        "findings": list(page.object_list),
        "breakdown": findings_breakdown(findings),
        "kinds": Finding.Kind.choices,
        "statuses": [("open", "Needs a decision"), *Finding.Status.choices, ("", "Any status")],
        "connections": finding_connection_names(user=request.user),
        "may_triage": can_triage_findings(request.user),
    }
    partial = request.headers.get("HX-Request") and not request.headers.get("HX-History-Restore-Request")
    template = "frontend/storage/_findings.html" if partial else "frontend/storage/dashboard.html"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _finding_or_404(request: HttpRequest, pk: int) -> Finding:
    finding = finding_list(user=request.user).filter(pk=pk).first()
    if finding is None:
        raise Http404("No such finding.")
    return finding


@login_required
def finding_detail(request: HttpRequest, pk: int, **forms: Any) -> HttpResponse:
    finding = _finding_or_404(request, pk)
    may_triage = can_triage_findings(request.user)
    context = {
        "finding": finding,
        "claim_form": forms.get("claim_form") or ClaimForm(),
        "assign_form": forms.get("assign_form") or AssignForm(),
        "dismiss_form": forms.get("dismiss_form") or DismissForm(),
        "may_claim": finding.kind == Finding.Kind.UNREGISTERED and finding.is_open and not finding.dataset_id,
        "may_triage": may_triage and finding.is_open,
        # A form-wide refusal (e.g. someone claimed it a moment ago) shows at the top: its form may be gone.
        "errors": [error for form in forms.values() for error in form.non_field_errors()],
    }
    status = 400 if forms else 200
    return render(request, "frontend/storage/finding.html", context, status=status)


@login_required
@require_POST
def finding_claim_view(request: HttpRequest, pk: int) -> HttpResponse:
    finding = _finding_or_404(request, pk)
    form = ClaimForm(request.POST)
    if not form.is_valid():
        return finding_detail(request, pk, claim_form=form)
    try:
        dataset = finding_claim(finding=finding, actor=_person(request), **form.cleaned_data)
    except ValidationError as error:
        apply_service_errors(form, error)
        return finding_detail(request, pk, claim_form=form)
    messages.success(request, f"You own '{dataset.name}' now, as a draft: add its purpose and publish it.")
    return redirect("frontend:dataset-edit", slug=dataset.slug)


@login_required
@require_POST
def finding_assign_view(request: HttpRequest, pk: int) -> HttpResponse:
    finding = _finding_or_404(request, pk)
    form = AssignForm(request.POST)
    if not form.is_valid():
        return finding_detail(request, pk, assign_form=form)
    try:
        finding_assign(finding=finding, actor=_person(request), **form.cleaned_data)
    except ValidationError as error:
        apply_service_errors(form, error)
        return finding_detail(request, pk, assign_form=form)
    messages.success(request, f"Assigned to {form.cleaned_data['assignee'].display_name}.")
    return redirect("frontend:finding", pk=pk)


@login_required
@require_POST
def finding_dismiss_view(request: HttpRequest, pk: int) -> HttpResponse:
    finding = _finding_or_404(request, pk)
    form = DismissForm(request.POST)
    if not form.is_valid():
        return finding_detail(request, pk, dismiss_form=form)
    try:
        finding_dismiss(finding=finding, actor=_person(request), reason=form.cleaned_data["reason"])
    except ValidationError as error:
        apply_service_errors(form, error)
        return finding_detail(request, pk, dismiss_form=form)
    messages.success(request, "Dismissed. A later scan reopens nothing: the reason stays with the finding.")
    return redirect("frontend:finding", pk=pk)



@login_required
def scans(request: HttpRequest) -> HttpResponse:
    if not can_triage_findings(request.user):
        raise PermissionDenied("Scans are for stewards and staff.")
    runs = list(run_list(user=request.user)[:30])
    progress = run_progress_by_run(runs)
    connections = list(connection_list(user=request.user))  # none for non-staff
    context = {
        "rows": [(run, progress[run.pk]) for run in runs],
        "connections": connections,
        "may_start": can_manage_connections(request.user),
        "polling": any(not run.is_finished for run in runs),
    }
    if request.headers.get("HX-Request"):
        return render(request, "frontend/storage/_runs.html", context)
    return render(request, "frontend/storage/scans.html", context)


@login_required
def scan_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = run_list(user=request.user).filter(pk=pk).first()
    if run is None:
        raise Http404("No such scan.")
    context = {"run": run, "progress": run_progress(run), "shards": run.shards.order_by("root", "prefix")}
    if request.headers.get("HX-Request"):
        return render(request, "frontend/storage/_scan_live.html", context)
    return render(request, "frontend/storage/scan.html", context)


@login_required
@require_POST
def scan_start_view(request: HttpRequest, pk: int) -> HttpResponse:
    if not can_manage_connections(request.user):
        raise PermissionDenied("Only staff start scans.")
    connection = connection_list(user=request.user).filter(pk=pk).first()
    if connection is None:
        raise Http404("No such connection.")
    try:
        # A scan already in flight is answered instead of a new one; its page says who started it and when.
        run = scan_start(connection=connection, trigger="manual", requested_by=person_for_user(request.user))
    except ValidationError as error:  # e.g. the connection is disabled
        messages.error(request, " ".join(error.messages))
        return redirect("frontend:scans")
    return redirect(reverse("frontend:scan", kwargs={"pk": run.pk}))


@login_required
def connection_new(request: HttpRequest) -> HttpResponse:
    if not can_manage_connections(request.user):
        raise PermissionDenied("Only staff add storage connections.")
    form = ConnectionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            connection = connection_create(actor=person_for_user(request.user), **form.cleaned_data_for_service())
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, f"Connection {connection.name} added. Start its first scan below.")
            return redirect("frontend:scans")
    status = 400 if form.errors else 200
    return render(request, "frontend/storage/connection_new.html", {"form": form}, status=status)


@login_required
def dvc_remote(request: HttpRequest, pk: int) -> HttpResponse:
    if not can_triage_findings(request.user):
        raise PermissionDenied("DVC remotes are for stewards and staff.")
    connection = dvc_remote_get(user=request.user, pk=pk)
    if connection is None:
        raise Http404("No such DVC remote.")
    context = {
        "summary": remote_summary(connection),
        "findings": dvc_remote_open_findings(user=request.user, connection=connection)[:50],
        "may_export": can_manage_connections(request.user),
    }
    return render(request, "frontend/storage/dvc_remote.html", context)
