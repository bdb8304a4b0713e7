"""Access pages: requests and decisions, the approvals inbox, grants, Left behind, the audit log and org events.

Thin like the rest of the frontend: reads go through selectors, writes through services, and permission
decisions are made only by ``Dataset.objects.restrict`` (through the selectors), ``dataset_can_change``,
``can_decide`` and ``is_steward`` / ``is_governance``. A dataset the user may not see stays a 404.
"""


from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from rest_framework.exceptions import ValidationError as ApiValidationError

from access.approvals import (
    access_request_create,
    access_request_decide,
    access_request_withdraw,
    eligible_approvers,
    eligible_approvers_many,
)
from access.grants import grant_create, grant_revoke
from access.models import AccessRequest, Grant, Person
from access.org import org_event_apply
from access.selectors import is_governance, is_steward, person_for_user
from catalog.access_selectors import (
    VisibleRequest,
    access_request_visible,
    audit_events_visible,
    dataset_grants,
    datasets_by_id,
    governance_queue,
    inbox_rows,
    left_behind_groups,
    org_events_recent,
    org_unit_tree,
    request_history,
    requests_awaiting,
    requests_of,
)
from catalog.api.access_views import filter_audit
from catalog.models import Dataset
from catalog.selectors import dataset_can_change, left_behind_datasets
from catalog.services import datasets_reassign_owner
from frontend.access_forms import (
    ORG_FORMS,
    AccessRequestForm,
    AuditFilterForm,
    DecisionForm,
    GrantForm,
    OrgEventForm,
    ReassignForm,
    RevokeForm,
)
from frontend.forms import apply_service_errors
from frontend.views import access_panel_context, dataset_or_404, render_dataset_detail
from storage.selectors import findings_pointing_to, left_data_by_location

PAGE_SIZE = 25
AUDIT_PAGE_SIZE = 50
INBOX_CHANGED = "inbox-changed"  # htmx event: the nav badge reloads itself on it


def _is_htmx(request: HttpRequest) -> bool:
    return bool(request.headers.get("HX-Request"))


def _require_person(request: HttpRequest) -> Person:
    person = person_for_user(request.user)
    if person is None:
        raise PermissionDenied("Your account is not linked to a person, so it cannot ask for or decide access.")
    return person


def _next_or(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return fallback


# --- asking for access ------------------------------------------------------------------------------------


@login_required
@require_POST
def access_request_new(request: HttpRequest, slug: str) -> HttpResponse:
    dataset = dataset_or_404(request, slug)
    person = _require_person(request)
    form = AccessRequestForm(request.POST)
    if form.is_valid():
        try:
            created = access_request_create(
                requester=person, target=dataset, level=form.cleaned_data["level"],
                purpose=form.cleaned_data["purpose"], duration_days=form.cleaned_data["duration_days"],
            )
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            approver = created.approver.display_name if created.approver else "catalog governance"
            notice = f"Your request was sent. {approver} decides it; you get an e-mail when they have."
            if _is_htmx(request):
                context = {"dataset": dataset, "just_sent": notice,
                           **access_panel_context(request, dataset, can_read=False)}
                return render(request, "frontend/access/_request_panel.html", context)
            messages.success(request, notice)
            return redirect("frontend:dataset-detail", slug=dataset.slug)
    if _is_htmx(request):
        context = {"dataset": dataset, **access_panel_context(request, dataset, can_read=False, form=form)}
        return render(request, "frontend/access/_request_panel.html", context)
    return render_dataset_detail(request, dataset, request_form=form)


def _visible_request(request: HttpRequest, pk: int) -> VisibleRequest:
    visible = access_request_visible(user=request.user, pk=pk)
    if visible is None:
        raise Http404("No such request.")
    return visible


@login_required
def my_requests(request: HttpRequest) -> HttpResponse:
    person = person_for_user(request.user)
    requests = requests_of(person=person) if person is not None else AccessRequest.objects.none()
    page = Paginator(requests.order_by("-created_at", "-id"), PAGE_SIZE).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    datasets = datasets_by_id(user=request.user, ids=[row.target_id for row in rows])
    approvers = eligible_approvers_many([row for row in rows if row.status == AccessRequest.Status.PENDING])
    items = [
        {
            "request": row,
            "dataset": datasets.get(str(row.target_id)),
            "approvers": approvers[row.pk].people if row.pk in approvers else [],
        }
        for row in rows
    ]
    return render(request, "frontend/access/my_requests.html",
                  {"page": page, "items": items, "has_person": person is not None})


@login_required
def request_detail(request: HttpRequest, pk: int, form: DecisionForm | None = None) -> HttpResponse:
    access_request, dataset, can_open, decider = _visible_request(request, pk)
    person = person_for_user(request.user)
    pending = access_request.status == AccessRequest.Status.PENDING
    history = list(request_history(request=access_request))
    context = {
        "access_request": access_request,
        "dataset": dataset,
        "can_open": can_open,
        "is_requester": person is not None and access_request.requester_id == person.pk,
        "can_decide": decider and pending,
        "approvers": eligible_approvers(access_request) if pending else None,
        "history": history,
        "withdrawal": next((event for event in reversed(history) if event.action == "request.withdrawn"), None),
        "grants": access_request.grants.select_related("granted_by").order_by("created_at"),
        "form": form or DecisionForm(),
    }
    return render(request, "frontend/access/request_detail.html", context)


@login_required
@require_POST
def request_decide(request: HttpRequest, pk: int) -> HttpResponse:
    access_request, dataset, can_open, _ = _visible_request(request, pk)
    person = _require_person(request)
    form = DecisionForm(request.POST)
    granted: Grant | None = None
    if form.is_valid():
        try:
            granted = access_request_decide(request=access_request, decider=person, approve=form.approve,
                                            comment=form.cleaned_data["comment"])
        except PermissionDenied:
            if not _is_htmx(request):
                raise
            form.add_error(None, "You cannot decide this request (any more): someone else is its approver now.")
        except ValidationError as error:
            apply_service_errors(form, error)
            access_request.refresh_from_db()
            if not _is_htmx(request) and access_request.status != AccessRequest.Status.PENDING:
                # Decided meanwhile (another tab, a double click): the page shows no decision form to hold the error.
                messages.error(request, " ".join(error.messages))
                return redirect("frontend:access-request", pk=access_request.pk)
        else:
            access_request.refresh_from_db()
            if not _is_htmx(request):
                verdict = "approved" if form.approve else "denied"
                messages.success(request, f"Request {verdict}. {access_request.requester} has been told.")
                return redirect(_next_or(request, reverse("frontend:access-request", args=[access_request.pk])))
    if _is_htmx(request):
        row = VisibleRequest(access_request, dataset, can_open, can_decide=False)
        context = {"row": row, "form": form, "grant": granted, "decided": form.is_bound and not form.errors}
        response = render(request, "frontend/access/_inbox_row.html", context)
        if not form.errors:
            response["HX-Trigger"] = INBOX_CHANGED
        return response
    return request_detail(request, pk, form=form)


@login_required
@require_POST
def request_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    access_request = _visible_request(request, pk).access_request
    person = _require_person(request)
    try:
        access_request_withdraw(request=access_request, requester=person)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "Request withdrawn. You can ask again at any time.")
    return redirect(_next_or(request, reverse("frontend:access-requests")))


# --- approvals inbox ----------------------------------------------------------------------------------------


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    person = person_for_user(request.user)
    rows = inbox_rows(user=request.user, person=person) if person is not None else []
    return render(request, "frontend/access/inbox.html", {"rows": rows, "form": DecisionForm()})


@login_required
def inbox_badge(request: HttpRequest) -> HttpResponse:
    """The count in the navigation, loaded after the page so that no page waits for it."""
    person = person_for_user(request.user)
    count = len(requests_awaiting(person=person)) if person is not None else 0
    return render(request, "frontend/access/_inbox_badge.html", {"count": count})


# --- grants on a dataset ------------------------------------------------------------------------------------


def _managed_dataset(request: HttpRequest, slug: str) -> Dataset:
    dataset = dataset_or_404(request, slug)
    if not dataset_can_change(user=request.user, dataset=dataset):
        raise PermissionDenied("Only the dataset's owner, its stewards and staff manage who has access to it.")
    return dataset


def _grants_page(request: HttpRequest, dataset: Dataset, *, form: GrantForm | None = None,
                 revoke_errors: dict[int, list[str]] | None = None) -> HttpResponse:
    active = list(dataset_grants(dataset=dataset))
    active_ids = {grant.pk for grant in active}
    past = [grant for grant in dataset_grants(dataset=dataset, include_inactive=True) if grant.pk not in active_ids]
    context = {
        "dataset": dataset,
        "active": active,
        "past": past,
        "form": form or GrantForm(),
        "revoke_errors": revoke_errors or {},
    }
    return render(request, "frontend/access/grants.html", context)


@login_required
def grants(request: HttpRequest, slug: str) -> HttpResponse:
    dataset = _managed_dataset(request, slug)
    if dataset.slug != slug and request.method == "GET":
        return HttpResponsePermanentRedirect(reverse("frontend:dataset-grants", args=[dataset.slug]))
    if request.method != "POST":
        return _grants_page(request, dataset)
    form = GrantForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            created = grant_create(
                target=dataset, level=data["level"], basis=Grant.Basis.MANUAL,
                granted_by=person_for_user(request.user), grantee_person=data["person"],
                grantee_unit=data["unit"], justification=data["justification"], expires_at=form.expires_at,
            )
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, f"Granted {created.get_level_display().lower()} to {created.grantee_label}.")
            return redirect("frontend:dataset-grants", slug=dataset.slug)
    return _grants_page(request, dataset, form=form)


@login_required
@require_POST
def grant_revoke_view(request: HttpRequest, slug: str, grant_id: int) -> HttpResponse:
    dataset = _managed_dataset(request, slug)
    grant = dataset_grants(dataset=dataset, include_inactive=True).filter(pk=grant_id).first()
    if grant is None:
        raise Http404("No such grant on this dataset.")
    if grant.revoked_at is not None:  # revoked meanwhile (another tab, someone else): say so, keep their reason
        by = f" by {grant.revoked_by.display_name}" if grant.revoked_by else ""
        notice = f"This grant was already revoked{by} on {grant.revoked_at:%Y-%m-%d}; nothing changed."
        if _is_htmx(request):
            return render(request, "frontend/access/_grant_row.html",
                          {"dataset": dataset, "grant": grant, "error": [], "just_revoked": True})
        messages.info(request, notice)
        return redirect("frontend:dataset-grants", slug=dataset.slug)
    form = RevokeForm(request.POST)
    error: list[str] = []
    if form.is_valid():
        try:
            grant = grant_revoke(grant=grant, actor=person_for_user(request.user), reason=form.cleaned_data["reason"])
        except ValidationError as problem:
            error = problem.messages
    else:
        error = [str(message) for messages_ in form.errors.values() for message in messages_]
    if _is_htmx(request):
        return render(request, "frontend/access/_grant_row.html",
                      {"dataset": dataset, "grant": grant, "error": error, "just_revoked": not error})
    if error:
        return _grants_page(request, dataset, revoke_errors={grant.pk: error})
    messages.success(request, f"Revoked {grant.get_level_display().lower()} of {grant.grantee_label}.")
    return redirect("frontend:dataset-grants", slug=dataset.slug)


# --- left behind --------------------------------------------------------------------------------------------


def _left_behind_page(request: HttpRequest, form: ReassignForm | None = None) -> HttpResponse:
    groups = left_behind_groups(user=request.user)
    # What each leaver left in storage that no dataset accounts for, listed beside what they owned.
    findings = findings_pointing_to(user=request.user, people=[group.person for group in groups])
    left_data = left_data_by_location(user=request.user, location_ids=[
        location.pk for group in groups for row in group.rows for location in row.locations or []])
    changeable = sorted(str(row.dataset.pk) for group in groups for row in group.rows if row.can_reassign)
    if form is None and changeable:
        form = ReassignForm(dataset_choices=[(pk, pk) for pk in changeable])
    selected = set(form["datasets"].value() or []) if form is not None and form.is_bound else set()
    context = {"groups": groups, "findings": findings, "left_data": left_data, "is_steward": is_steward(request.user),
               "form": form, "selected": selected, "any_reassignable": bool(changeable)}
    return render(request, "frontend/access/left_behind.html", context)


@login_required
def left_behind(request: HttpRequest) -> HttpResponse:
    return _left_behind_page(request)


@login_required
@require_POST
def left_behind_reassign(request: HttpRequest) -> HttpResponse:
    if not is_steward(request.user):
        raise PermissionDenied("Only stewards and catalog governance reassign left-behind datasets.")
    datasets = {str(dataset.pk): dataset for dataset in left_behind_datasets(user=request.user)}
    allowed = datasets_by_id(user=request.user, ids=datasets, action="reassign")
    form = ReassignForm(request.POST, dataset_choices=[(pk, pk) for pk in sorted(allowed)])
    if not form.is_valid():
        return _left_behind_page(request, form)
    chosen = [datasets[pk] for pk in form.cleaned_data["datasets"]]
    reason = form.cleaned_data["reason"].strip() or "Left behind: the owner departed"
    try:
        plan = datasets_reassign_owner(
            datasets=chosen, new_owner=form.new_owner_person(), actor=person_for_user(request.user), reason=reason
        )
    except ValidationError as error:
        apply_service_errors(form, error)
        return _left_behind_page(request, form)
    names = ", ".join(owner.display_name for owner in plan)
    messages.success(request, f"Reassigned {len(chosen)} dataset{'s' if len(chosen) != 1 else ''} to {names}.")
    return redirect("frontend:left-behind")


# --- audit log ----------------------------------------------------------------------------------------------

AUDIT_ACTIONS = ["request.", "grant.", "dataset.", "org.", "person.", "membership.", "request.approved",
                 "request.denied", "grant.revoked", "dataset.ownership_changed", "person.departed"]


@login_required
def audit_log(request: HttpRequest) -> HttpResponse:
    if not is_steward(request.user):
        raise PermissionDenied("The audit log is for stewards and catalog governance.")
    events = audit_events_visible(user=request.user)
    params = {key: str(value) for key, value in request.GET.items() if key != "page" and str(value).strip()}
    form = AuditFilterForm(params or None)
    if form.is_bound and form.is_valid():
        try:
            events = filter_audit(events, form.api_params())
        except ApiValidationError as error:
            form.add_error(None, str(error.detail))
            events = events.none()
    elif form.is_bound:
        events = events.none()
    page = Paginator(events, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    dataset_ids = [row.target_id for row in rows if row.target_type and row.target_type.model == "dataset"]
    context = {
        "form": form,
        "page": page,
        "rows": rows,
        "datasets": datasets_by_id(user=request.user, ids=dataset_ids),
        "filtering": bool(params),
        "actions": AUDIT_ACTIONS,
    }
    return render(request, "frontend/access/audit.html", context)


# --- organisation -------------------------------------------------------------------------------------------


def _require_governance(request: HttpRequest) -> None:
    if not is_governance(request.user):
        raise PermissionDenied("Reorganising units is for staff and catalog governance.")


@login_required
def org_overview(request: HttpRequest) -> HttpResponse:
    _require_governance(request)
    context = {
        "units": org_unit_tree(),
        "queue": governance_queue(),
        "events": org_events_recent(),
        "kinds": [(kind, form.title) for kind, form in ORG_FORMS.items()],
    }
    return render(request, "frontend/access/org.html", context)


KIND_TITLES = {
    "unit": "Units",
    "grant": "Unit grants",
    "membership": "Memberships",
    "ownership": "Dataset ownership",
    "governance": "Governance queue",
    "request": "Pending requests",
}


def _grouped(summary: list[dict[str, str]]) -> list[tuple[str, list[str]]]:
    groups: dict[str, list[str]] = {}
    for change in summary:
        groups.setdefault(change["kind"], []).append(change["description"])
    order = list(KIND_TITLES)
    kinds = sorted(groups, key=lambda kind: order.index(kind) if kind in order else len(order))
    return [(KIND_TITLES.get(kind, kind.title()), groups[kind]) for kind in kinds]


@login_required
def org_event(request: HttpRequest, kind: str) -> HttpResponse:
    """Plan an org event and show its preview; "Apply" re-plans and applies only if the plan is unchanged."""
    _require_governance(request)
    form_class = ORG_FORMS.get(kind)
    if form_class is None:
        raise Http404("No such reorganisation.")
    actor = person_for_user(request.user)
    preview: list[tuple[str, list[str]]] | None = None
    digest = ""
    changed = False
    if request.method == "POST":
        form: OrgEventForm = form_class(request.POST)
        if form.is_valid():
            try:
                plan = form.plan(actor)
            except ValidationError as error:
                apply_service_errors(form, error)
            else:
                summary = plan.summary()
                digest = plan.digest()
                if request.POST.get("step") == "apply":
                    if request.POST.get("preview_digest") == digest:
                        try:
                            event = org_event_apply(plan=plan, actor=actor, reason=form.cleaned_data["reason"])
                        except ValidationError as error:  # another reorganisation got there first
                            apply_service_errors(form, error)
                        else:
                            messages.success(request, f"{form.title.split()[0]} applied: {len(summary)} "
                                                      f"change{'s' if len(summary) != 1 else ''} (event #{event.pk}).")
                            return redirect("frontend:org")
                    changed = True  # the form or the organisation changed since the preview: show it again
                preview = _grouped(summary)
    else:
        initial = {key: request.GET[key] for key in ("unit", "source") if request.GET.get(key)}
        form = form_class(initial=initial)
    context = {"form": form, "kind": kind, "preview": preview, "digest": digest, "changed": changed,
               "kinds": [(other, other_form.title) for other, other_form in ORG_FORMS.items()]}
    return render(request, "frontend/access/org_event.html", context)
