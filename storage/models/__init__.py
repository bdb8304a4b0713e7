from storage.models.repos import (
    DvcImport,
    DvcReference,
    DvcRemoteConfig,
    IndexingWarning,
    TrainingRepo,
)

__all__ = ["DvcImport", "DvcReference", "DvcRemoteConfig", "IndexingWarning", "TrainingRepo"]
