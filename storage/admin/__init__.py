"""Admin for storage: read-only scans and findings, and training repositories edited through their services."""

from storage.admin import repos, scans

__all__ = ["repos", "scans"]
