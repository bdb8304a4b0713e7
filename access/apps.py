from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "access"
    verbose_name = "People, units and access"

    def ready(self) -> None:
        from access.api import schema  # noqa: F401 - registers the bearer scheme with drf-spectacular
