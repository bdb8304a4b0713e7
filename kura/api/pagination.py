from collections.abc import Sequence
from typing import Any

from django.db.models import QuerySet
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.views import APIView

from kura.keyset import keys_of, rows_in_key_order


class KuraPageNumberPagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500


class KeysFirstPagination(KuraPageNumberPagination):
    """Orders and slices primary keys, then loads only the page's rows (see ``kura.keyset``)."""

    def paginate_queryset(
        self, queryset: "QuerySet[Any, Any] | Sequence[Any]", request: Request, view: APIView | None = None
    ) -> list[Any] | None:
        if not isinstance(queryset, QuerySet):
            return super().paginate_queryset(queryset, request, view)
        keys = super().paginate_queryset(keys_of(queryset), request, view)
        return None if keys is None else rows_in_key_order(queryset, keys)
