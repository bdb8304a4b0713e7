"""Load a page of rows by key after the keys were ordered and sliced on their own.

A search can match thousands of datasets; joined to owners and units before the sort picks one page, every
match paid for joins it never shows. Ordering bare keys and loading that page's rows afterwards does the
join work for one page only.
"""

from collections.abc import Iterable
from typing import Any, TypeVar

from django.core.paginator import EmptyPage, Page, Paginator
from django.db.models import Count, Model, QuerySet, Window
from django.utils.functional import cached_property

M = TypeVar("M", bound=Model)


def keys_of(queryset: "QuerySet[M]") -> "QuerySet[Any]":
    return queryset.values_list("pk", flat=True)


def rows_in_key_order(queryset: "QuerySet[M]", keys: Iterable[Any]) -> list[M]:
    wanted = list(keys)
    rows = {row.pk: row for row in queryset.filter(pk__in=wanted).order_by()}
    return [rows[key] for key in wanted if key in rows]  # a row deleted in between is simply left out


class _CountedPaginator(Paginator):
    """A paginator told its count: the statement that fetched the page's keys counted them all along."""

    def __init__(self, keys: "QuerySet[Any]", per_page: int, count: int) -> None:
        super().__init__(keys, per_page)
        self._known_count = count

    @cached_property
    def count(self) -> int:
        return self._known_count


def page_counted_along(queryset: "QuerySet[Any]", number: int, per_page: int) -> Page:
    """Page ``number`` of ``queryset``'s keys, in its order, with the total from the same statement.

    For a search: PostgreSQL reads and sorts every match to pick one page anyway, and a separate COUNT
    would read them all again. Raises EmptyPage past the last page (the caller decides what to show then);
    an empty first page is a valid page of nothing.
    """
    if number < 1:
        raise EmptyPage("That page number is less than 1")
    offset = (number - 1) * per_page
    counted = queryset.annotate(kura_total=Window(Count("*"))).values_list("pk", "kura_total")
    rows = list(counted[offset : offset + per_page])
    if not rows and number > 1:
        raise EmptyPage("That page contains no results")
    paginator = _CountedPaginator(keys_of(queryset), per_page, rows[0][1] if rows else 0)
    return Page([key for key, _ in rows], number, paginator)
