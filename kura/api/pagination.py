from collections.abc import Sequence
from typing import Any

from django.core.paginator import InvalidPage
from django.db.models import QuerySet
from rest_framework import status
from rest_framework.exceptions import APIException, NotFound
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.views import APIView

from kura.keyset import keys_of, page_counted_along, rows_in_key_order
from kura.text import positive_whole_number


class InvalidPageNumber(APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "A page is a whole number from 1, or 'last'."
    default_code = "invalid_page"


class KuraPageNumberPagination(PageNumberPagination):
    """A page that is no page number is a 400 (``invalid_page``); a number past the end stays DRF's 404, which a
    client walking pages reads as "no more"."""

    page_size_query_param = "page_size"
    max_page_size = 500

    def paginate_queryset(
        self, queryset: "QuerySet[Any, Any] | Sequence[Any]", request: Request, view: APIView | None = None
    ) -> list[Any] | None:
        self.check_page_number(request)
        return super().paginate_queryset(queryset, request, view)

    def check_page_number(self, request: Request) -> None:
        number = request.query_params.get(self.page_query_param)
        if number is not None and number not in self.last_page_strings and positive_whole_number(number) is None:
            raise InvalidPageNumber()


class KeysFirstPagination(KuraPageNumberPagination):
    """Orders and slices primary keys, then loads only the page's rows (see ``kura.keyset``).

    Where ``counts_along`` says so, the total comes with the keys (``page_counted_along``) instead of from a
    COUNT of its own.
    """

    def rows_of(self, request: Request, queryset: "QuerySet[Any, Any]", keys: list[Any]) -> list[Any]:
        """The page's rows for its keys, in order; by default through ``queryset`` itself."""
        return rows_in_key_order(queryset, keys)

    def counts_along(self, request: Request) -> bool:
        """Whether the page's statement reads every row anyway (a search sorting all its matches), so that
        counting them there is cheaper than a second pass."""
        return False

    def paginate_queryset(
        self, queryset: "QuerySet[Any, Any] | Sequence[Any]", request: Request, view: APIView | None = None
    ) -> list[Any] | None:
        if not isinstance(queryset, QuerySet):
            return super().paginate_queryset(queryset, request, view)
        self.check_page_number(request)
        number = request.query_params.get(self.page_query_param) or "1"
        if not self.counts_along(request) or number in self.last_page_strings:
            keys = super().paginate_queryset(keys_of(queryset), request, view)
            return None if keys is None else self.rows_of(request, queryset, keys)
        page_size = self.get_page_size(request)
        if not page_size:
            return None
        try:
            self.page = page_counted_along(queryset, int(number), page_size)
        except (ValueError, InvalidPage) as error:
            raise NotFound(self.invalid_page_message.format(page_number=number, message=str(error))) from error
        if self.page.paginator.num_pages > 1 and self.template is not None:
            self.display_page_controls = True
        self.request = request
        return self.rows_of(request, queryset, list(self.page.object_list))
