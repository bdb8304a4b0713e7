"""DVC support: reading training repositories' history and decoding DVC remote objects.

Nothing here imports the ``dvc`` package: the file formats are small and stable, its internals are not.
"""
