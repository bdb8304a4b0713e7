from django.apps import AppConfig


class LineageConfig(AppConfig):
    name = "lineage"
    verbose_name = "Lineage"

    def ready(self) -> None:
        from catalog.lifecycle import register_retirement_listener
        from lineage.retirement import LineageRetirementListener

        register_retirement_listener(LineageRetirementListener())
