from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from access.selectors import person_for_user
from catalog.datasheet import FIELD_NAMES as DATASHEET_FIELDS
from catalog.models import Dataset, DatasetVersion, ManifestFile, SlugAlias, StorageLocation, Tag
from catalog.services import UPDATABLE_FIELDS, dataset_create, dataset_update


class StorageLocationInline(admin.TabularInline):
    model = StorageLocation
    extra = 0
    fields = ["uri", "role", "note", "last_verified_at", "last_verification_ok"]
    readonly_fields = ["last_verified_at", "last_verification_ok"]


class SlugAliasInline(admin.TabularInline):
    model = SlugAlias
    extra = 0
    readonly_fields = ["slug", "created_at"]
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class VersionInline(admin.TabularInline):
    model = DatasetVersion
    extra = 0
    fields = ("label", "status", "file_count", "total_bytes", "published_at")
    readonly_fields = (*fields,)
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "status", "visibility", "owner", "owning_unit", "updated_at"]
    list_filter = ["status", "visibility", "classification", "owning_unit"]
    search_fields = ["slug", "name", "purpose"]
    autocomplete_fields = ["owner", "owning_unit", "stewards", "superseded_by"]
    filter_horizontal = ["tags"]
    readonly_fields = ["deprecated_at", "archived_at", "created_by", "created_at", "updated_at"]
    inlines = [StorageLocationInline, SlugAliasInline, VersionInline]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # datasets are deprecated or archived, never deleted (their rules revisions are append-only)

    def save_model(self, request: HttpRequest, obj: Dataset, form: Any, change: bool) -> None:
        # Writes go through the catalog services so slug aliases and status dates stay right.
        actor = person_for_user(request.user)
        data = form.cleaned_data
        datasheet = {name: data[name] for name in DATASHEET_FIELDS if name in data}
        if change:
            fields = {name: data[name] for name in form.changed_data if name in UPDATABLE_FIELDS}
            saved = dataset_update(dataset=obj, actor=actor, slug=data["slug"], datasheet=datasheet, **fields)
        else:
            fields = {name: data[name] for name in UPDATABLE_FIELDS if name in data}
            saved = dataset_create(actor=actor, slug=data["slug"], datasheet=datasheet, **fields)
        vars(obj).update(vars(saved))


class ManifestFileInline(admin.TabularInline):
    model = ManifestFile
    extra = 0
    fields = ("path", "size", "hash")
    readonly_fields = (*fields,)
    can_delete = False
    max_num = 0


@admin.register(DatasetVersion)
class DatasetVersionAdmin(admin.ModelAdmin):
    list_display = ["__str__", "status", "file_count", "total_bytes", "source", "published_at"]
    list_filter = ["status", "source"]
    search_fields = ["dataset__slug", "label", "digest"]
    inlines = [ManifestFileInline]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # versions are created through the API or services; published ones never change

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    search_fields = ["name"]


@admin.register(SlugAlias)
class SlugAliasAdmin(admin.ModelAdmin):
    list_display = ["slug", "dataset", "created_at"]
    search_fields = ["slug", "dataset__slug"]
    raw_id_fields = ["dataset"]


@admin.register(StorageLocation)
class StorageLocationAdmin(admin.ModelAdmin):
    list_display = ["uri", "dataset", "role", "last_verified_at", "last_verification_ok"]
    list_filter = ["role", "last_verification_ok"]
    search_fields = ["uri", "dataset__slug"]
    raw_id_fields = ["dataset"]
