from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from annotations.models import AnnotationGuideline, CorrectionExample, GuidelineRevision


class GuidelineRevisionInline(admin.TabularInline):
    model = GuidelineRevision
    extra = 0
    fields = ("number", "change_note", "created_by", "created_at")
    readonly_fields = (*fields,)
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # revisions are appended by the guideline service, never edited here


@admin.register(AnnotationGuideline)
class AnnotationGuidelineAdmin(admin.ModelAdmin):
    list_display = ["dataset", "created_at"]
    search_fields = ["dataset__slug", "dataset__name"]
    inlines = [GuidelineRevisionInline]
    raw_id_fields = ["dataset"]


@admin.register(GuidelineRevision)
class GuidelineRevisionAdmin(admin.ModelAdmin):
    list_display = ["guideline", "number", "change_note", "created_at"]
    search_fields = ["guideline__dataset__slug"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # append-only; the database refuses it too


@admin.register(CorrectionExample)
class CorrectionExampleAdmin(admin.ModelAdmin):
    list_display = ["guideline", "rule_title", "revision", "added_by", "created_at"]
    search_fields = ["guideline__dataset__slug", "rule_title"]
    # Examples are added on the guideline page, which checks the files' content, and served only there.
    exclude = ["before_image", "after_image"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
