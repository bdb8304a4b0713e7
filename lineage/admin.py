from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from lineage.models import Consumer, ExternalDataset, Model, ModelVersion, RawLineageEvent, TrainingRun
from lineage.services import model_update


class ReadOnlyAdmin(admin.ModelAdmin):
    """Lineage is written by CI through the API; the admin is for looking, not for editing edges by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(TrainingRun)
class TrainingRunAdmin(ReadOnlyAdmin):
    list_display = ["job_namespace", "job_name", "external_run_id", "status", "started_at", "ended_at"]
    list_filter = ["status", "job_namespace"]
    search_fields = ["external_run_id", "job_name", "code_repository", "code_commit"]


@admin.register(Model)
class ModelAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "created_at"]
    search_fields = ["name"]
    fields = ["name", "owner", "description"]
    autocomplete_fields = ["owner"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["name"]

    def save_model(self, request: HttpRequest, obj: Model, form: Any, change: bool) -> None:
        model_update(model=obj, owner=form.cleaned_data["owner"], description=form.cleaned_data["description"])


@admin.register(ModelVersion)
class ModelVersionAdmin(ReadOnlyAdmin):
    list_display = ["model", "version", "stage", "produced_by", "created_at"]
    list_filter = ["stage"]
    search_fields = ["model__name", "version"]


@admin.register(Consumer)
class ConsumerAdmin(ReadOnlyAdmin):
    list_display = ["name", "kind", "owner"]
    list_filter = ["kind"]
    search_fields = ["name"]


@admin.register(ExternalDataset)
class ExternalDatasetAdmin(ReadOnlyAdmin):
    list_display = ["namespace", "name", "created_at"]
    search_fields = ["namespace", "name"]


@admin.register(RawLineageEvent)
class RawLineageEventAdmin(ReadOnlyAdmin):
    list_display = ["event_type", "event_time", "run", "received_at", "digest"]
    list_filter = ["event_type"]
    search_fields = ["digest", "run__external_run_id"]
