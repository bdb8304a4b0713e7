"""Read-only views of connections, scans and findings; connections are created through the API, which validates them."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from storage.models import Finding, ScanRun, StorageConnection


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(StorageConnection)
class StorageConnectionAdmin(ReadOnlyAdmin):
    list_display = ["name", "kind", "endpoint_url", "schedule_minutes", "enabled", "credentials_source"]
    # The variable names and file paths are references, not secrets, but there is no need to show them here.
    exclude = ["access_key_env", "secret_key_env", "session_token_env", "secrets_file", "secrets_file_key"]


@admin.register(ScanRun)
class ScanRunAdmin(ReadOnlyAdmin):
    list_display = ["id", "connection", "status", "source", "trigger", "created_at", "finished_at"]
    list_filter = ["status", "connection"]


@admin.register(Finding)
class FindingAdmin(ReadOnlyAdmin):
    list_display = ["uri", "kind", "status", "object_count", "total_bytes", "connection", "last_seen_at"]
    list_filter = ["kind", "status", "connection"]
    search_fields = ["uri", "storage_owner"]
