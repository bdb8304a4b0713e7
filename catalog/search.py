"""Dataset search: PostgreSQL full-text search with prefix matching, plain substring matching elsewhere.

The expression below must stay identical to the GIN index created in migration 0009, or PostgreSQL
will not use the index.
"""

import re

from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.functions import Lower

from catalog.datasheet import FIELD_NAMES as DATASHEET_FIELDS
from catalog.models import Dataset

# What a search reads: the dataset's own words, then its datasheet's answers ("faces", "CC-BY", "dashcam").
SEARCHED_FIELDS = ("name", "slug", "purpose", "description", *DATASHEET_FIELDS)
SEARCH_DOCUMENT_SQL = (
    "to_tsvector('simple'::regconfig, "
    + " || ' ' || ".join(f"coalesce(catalog_dataset.{field}, '')" for field in SEARCHED_FIELDS)
    + ")"
)
MAX_TERMS = 8
_TERM = re.compile(r"[\w]+", re.UNICODE)


def search_terms(query: str) -> list[str]:
    return [term.lower() for term in _TERM.findall(query)][:MAX_TERMS]


def counts_with_its_page(query: str) -> bool:
    """Whether a list searched for ``query`` should count its matches in the statement that picks a page
    (``kura.keyset.page_counted_along``): a search reads and sorts every match anyway, so a COUNT of its own
    would read them all again. Without terms, the unfiltered count has its own fast path
    (``DatasetQuerySet.count``)."""
    return bool(search_terms(query))


def search_datasets(queryset: "QuerySet[Dataset]", query: str) -> "QuerySet[Dataset]":
    terms = search_terms(query)
    if not terms:
        return queryset
    if connection.vendor == "postgresql":
        # Every term must match, each also as a prefix, so "stree" finds "street-signs".
        tsquery = " & ".join(f"{term}:*" for term in terms)
        matching = queryset.extra(  # noqa: S610 - static SQL, the user's terms travel as a parameter
            where=[f"{SEARCH_DOCUMENT_SQL} @@ to_tsquery('simple'::regconfig, %s)"], params=[tsquery]
        )
        # Case-insensitive name order, which people expect anyway, and which no index serves: ordered by the
        # indexed name, PostgreSQL walks that index testing every dataset against the query until a page is
        # full, slow for terms that are neither rare nor common; here it takes the GIN matches and sorts them.
        return matching.order_by(Lower("name"), "slug")
    condition = Q()
    for term in terms:
        matches_term = Q()
        for field in SEARCHED_FIELDS:
            matches_term |= Q(**{f"{field}__icontains": term})
        condition &= matches_term
    return queryset.filter(condition)
