from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "catalog"
    verbose_name = "Dataset catalog"

    def ready(self) -> None:
        from access.hooks import register_unit_dependents
        from catalog.dependents import DatasetUnitDependents

        register_unit_dependents(DatasetUnitDependents())
