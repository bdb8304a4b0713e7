from django.apps import AppConfig


class AnnotationsConfig(AppConfig):
    name = "annotations"
    verbose_name = "Annotation rules"

    def ready(self) -> None:
        from annotations.catalog_link import GuidelineRevisionsForCatalog
        from catalog.guideline_hooks import register_guideline_revisions

        register_guideline_revisions(GuidelineRevisionsForCatalog())
