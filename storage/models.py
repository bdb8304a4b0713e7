# Storage connections, scan runs and findings arrive with the storage-scanning work.
