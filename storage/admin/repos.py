from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from access.selectors import person_for_user
from kura.queue import enqueue
from storage.dvc.repos import training_repo_create, training_repo_set_datasets, training_repo_update
from storage.models import (
    DvcImport,
    DvcReference,
    DvcRemoteConfig,
    IndexingWarning,
    TrainingRepo,
)
from storage.tasks import index_training_repo


class DvcRemoteInline(admin.TabularInline):
    model = DvcRemoteConfig
    extra = 0
    fields = ("name", "url", "is_default", "is_current", "first_commit")
    readonly_fields = (*fields,)
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(TrainingRepo)
class TrainingRepoAdmin(admin.ModelAdmin):
    list_display = ["name", "url", "status", "commits_indexed", "last_indexed_at"]
    list_filter = ["status"]
    search_fields = ["name", "url"]
    filter_horizontal = ["datasets"]
    readonly_fields = [
        "status", "last_error", "indexed_heads", "default_branch", "commits_indexed", "last_run_commits",
        "last_indexed_at", "indexing_started_at", "created_at",
    ]  # fmt: skip
    inlines = [DvcRemoteInline]
    actions = ["index_now"]

    def save_model(self, request: HttpRequest, obj: TrainingRepo, form: Any, change: bool) -> None:
        # Through the services, so links and edits are validated and audited like everywhere else.
        actor = person_for_user(request.user)
        data = form.cleaned_data
        if change:
            saved = training_repo_update(repo=obj, actor=actor, name=data["name"], url=data["url"])
        else:
            saved = training_repo_create(actor=actor, name=data["name"], url=data["url"])
        vars(obj).update(vars(saved))

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)
        training_repo_set_datasets(
            repo=form.instance, actor=person_for_user(request.user), datasets=form.cleaned_data["datasets"]
        )

    @admin.action(description="Index selected repositories now")
    def index_now(self, request: HttpRequest, queryset: QuerySet[TrainingRepo]) -> None:
        for repo in queryset:
            if not enqueue(index_training_repo, repo.pk):
                self.message_user(request, "The task queue is unreachable, so nothing was queued; the hourly "
                                  "indexing picks these repositories up once it is back.", messages.ERROR)
                return
        self.message_user(request, f"Indexing queued for {queryset.count()} repositories.", messages.INFO)


class _ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written by the indexer or the scanner only."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(DvcReference)
class DvcReferenceAdmin(_ReadOnlyAdmin):
    list_display = ["md5", "is_dir", "repo", "path", "stage", "commit", "author_name", "authored_at", "is_live"]
    list_filter = ["is_live", "reachable", "is_dir", "hash_name", "repo"]
    search_fields = ["md5", "path", "commit", "author_name", "author_email"]


@admin.register(DvcImport)
class DvcImportAdmin(_ReadOnlyAdmin):
    list_display = ["repo", "path", "source_url", "rev", "rev_lock", "commit"]
    search_fields = ["path", "source_url"]


@admin.register(IndexingWarning)
class IndexingWarningAdmin(_ReadOnlyAdmin):
    list_display = ["repo", "commit", "path", "message", "created_at"]
    list_filter = ["repo"]
    search_fields = ["path", "message", "commit"]
