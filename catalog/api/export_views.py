"""``GET /api/v1/datasets/{slug}/export/{format}/``: a dataset's documentation in a standard format;
``GET /api/v1/catalog/dcat/``: the catalog's, as DCAT for harvesters."""

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.views import APIView

from catalog.api.headers import add_deprecation_headers
from catalog.api.views import resolve_or_404
from catalog.documentation import dcat
from catalog.documentation.dcat_catalog import catalog_page, dcat_catalog
from catalog.documentation.document import dataset_document
from catalog.documentation.formats import EXPORT_FORMATS, json_text
from catalog.selectors import VersionNotFound


class DatasetExportView(APIView):
    @extend_schema(
        summary="The dataset's documentation as Croissant 1.1 + RAI, a Hugging Face card or DCAT 3",
        description=(
            "Metadata needs view access; storage locations and the version's files appear only with read access. "
            f"Formats: {', '.join(EXPORT_FORMATS)}."
        ),
        parameters=[
            OpenApiParameter(
                "version", OpenApiTypes.STR, description="A version label; the newest published one by default."
            )
        ],
        responses={(200, "application/ld+json"): OpenApiTypes.OBJECT, (200, "text/markdown"): OpenApiTypes.STR},
    )
    def get(self, request: Request, slug: str, export_format: str) -> HttpResponse:
        export = EXPORT_FORMATS.get(export_format)
        if export is None:
            raise exceptions.NotFound(
                f"Unknown export format '{export_format}'; known: {', '.join(EXPORT_FORMATS)}.",
                code="export_format_unknown",
            )
        dataset = resolve_or_404(request, slug)
        label = request.query_params.get("version", "latest") or "latest"
        try:
            document = dataset_document(
                user=request.user, dataset=dataset, absolute=request.build_absolute_uri, version_label=label
            )
        except VersionNotFound as missing:
            raise exceptions.NotFound(
                f"Dataset '{dataset.slug}' has no published version '{label}'.", code="version_not_found"
            ) from missing
        response = HttpResponse(export.render(document), content_type=f"{export.media_type}; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{dataset.slug}{export.suffix}"'
        return add_deprecation_headers(response, dataset)


class CatalogDcatView(APIView):
    @extend_schema(
        summary="The catalog as DCAT 3 JSON-LD, 100 datasets a page, for harvesters",
        description=(
            "Every dataset you may see except drafts, in slug order, with Hydra paging (follow hydra:next or "
            "hydra:nextPage). Versions and storage are in each dataset's own DCAT export (rdfs:seeAlso)."
        ),
        parameters=[
            OpenApiParameter(
                "after", OpenApiTypes.STR, description="Start after this slug, as the hydra:next link says."
            )
        ],
        responses={(200, "application/ld+json"): OpenApiTypes.OBJECT},
    )
    def get(self, request: Request) -> HttpResponse:
        after = request.query_params.get("after", "")
        page = catalog_page(user=request.user, after=after, absolute=request.build_absolute_uri)
        body = json_text(dcat_catalog(page, absolute=request.build_absolute_uri))
        return HttpResponse(body, content_type=f"{dcat.MEDIA_TYPE}; charset=utf-8")
