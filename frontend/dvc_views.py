"""Pages for training repositories and DVC objects; reads go through storage.dvc selectors only."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from storage.dvc.decode import decode
from storage.dvc.repos import training_repo_page_rows

MAX_QUERY = 2048  # an object's full URI, as scans list it, still fits


@login_required
def dvc_decode(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:MAX_QUERY]
    decoded = decode(query, user=request.user) if query else None
    context = {"query": query, "decoded": decoded, "invalid": bool(query) and decoded is None}
    return render(request, "frontend/dvc_decode.html", context)


@login_required
def repo_list(request: HttpRequest) -> HttpResponse:
    return render(request, "frontend/repo_list.html", {"repos": training_repo_page_rows(user=request.user)})
