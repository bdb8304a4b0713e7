"""Load a page of rows by key after the keys were ordered and sliced on their own.

A search can match thousands of datasets; joined to owners and units before the sort picks one page, every
match paid for joins it never shows. Ordering bare keys and loading that page's rows afterwards does the
join work for one page only.
"""

from collections.abc import Iterable
from typing import Any, TypeVar

from django.db.models import Model, QuerySet

M = TypeVar("M", bound=Model)


def keys_of(queryset: "QuerySet[M]") -> "QuerySet[Any]":
    return queryset.values_list("pk", flat=True)


def rows_in_key_order(queryset: "QuerySet[M]", keys: Iterable[Any]) -> list[M]:
    wanted = list(keys)
    rows = {row.pk: row for row in queryset.filter(pk__in=wanted).order_by()}
    return [rows[key] for key in wanted if key in rows]  # a row deleted in between is simply left out
