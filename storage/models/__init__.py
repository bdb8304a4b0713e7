"""Storage models, one module per concern; other apps import them from here."""

from storage.models.connections import StorageConnection
from storage.models.dvc_remotes import (
    DvcDirManifest,
    DvcDirMember,
    DvcKeptRun,
    DvcKeptTotals,
    DvcRemoteFolder,
    DvcScanAggregate,
)
from storage.models.findings import Finding
from storage.models.repos import DvcImport, DvcReference, DvcRemoteConfig, IndexingWarning, TrainingRepo
from storage.models.scans import ScanAggregate, ScanRun, ScanShard

__all__ = [
    "DvcDirManifest",
    "DvcDirMember",
    "DvcImport",
    "DvcKeptRun",
    "DvcKeptTotals",
    "DvcReference",
    "DvcRemoteConfig",
    "DvcRemoteFolder",
    "DvcScanAggregate",
    "Finding",
    "IndexingWarning",
    "ScanAggregate",
    "ScanRun",
    "ScanShard",
    "StorageConnection",
    "TrainingRepo",
]
