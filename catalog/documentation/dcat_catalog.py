"""The whole catalog as a DCAT 3 ``dcat:Catalog``, a page at a time, for harvesters (CKAN's DCAT harvester,
piveau, data.europa.eu) that copy a catalog's metadata into theirs.

A page lists the datasets the caller may see that are not drafts, in slug order, each with the fields of its
own DCAT export but no version or storage (``rdfs:seeAlso`` points at that export, which has them for readers).
Paging uses the Hydra vocabulary, in both forms harvesters read: ``hydra:PartialCollectionView`` with
``hydra:next`` (Hydra Core) and ``hydra:PagedCollection`` with ``hydra:nextPage`` (the older terms CKAN reads).
The next page starts after the last slug of this one (``?after=``), so a deep page costs what the first does
and a dataset registered during a harvest shifts nothing.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.urls import reverse

from catalog.documentation.dcat import CONTEXT, dcat_dataset
from catalog.documentation.document import DatasetDocument, metadata_document
from catalog.models import Dataset
from catalog.selectors import hide_unseen_successors

PAGE_SIZE = 100
HYDRA = "http://www.w3.org/ns/hydra/core#"


@dataclass(frozen=True)
class CatalogPage:
    after: str  # the page lists slugs after this one ("" for the first page)
    total: int
    documents: list[DatasetDocument]
    next_after: str | None  # where the next page starts; None on the last page


def catalog_page(*, user: Any, after: str, absolute: Callable[[str], str]) -> CatalogPage:
    """The first PAGE_SIZE datasets after slug ``after`` that ``user`` may see, drafts left out."""
    listed = Dataset.objects.restrict(user, "view").exclude(status=Dataset.Status.DRAFT)
    rows = listed.filter(slug__gt=after) if after else listed
    page = list(rows.with_list_data().select_related("superseded_by").order_by("slug")[: PAGE_SIZE + 1])
    hide_unseen_successors(user=user, datasets=page)
    documents = [metadata_document(dataset=row, absolute=absolute) for row in page[:PAGE_SIZE]]
    next_after = documents[-1].dataset.slug if len(page) > PAGE_SIZE else None
    return CatalogPage(after=after, total=listed.count(), documents=documents, next_after=next_after)


def dcat_catalog(page: CatalogPage, *, absolute: Callable[[str], str]) -> dict[str, Any]:
    feed = absolute(reverse("api-catalog-dcat"))

    def page_url(after: str) -> str:
        return f"{feed}?{urlencode({'after': after})}" if after else feed

    view: dict[str, Any] = {
        "@id": page_url(page.after),
        "@type": ["hydra:PartialCollectionView", "hydra:PagedCollection"],
        "hydra:first": {"@id": feed},
        "hydra:firstPage": feed,
        "hydra:itemsPerPage": PAGE_SIZE,
        "hydra:totalItems": page.total,
    }
    if page.next_after is not None:
        following = page_url(page.next_after)
        view.update({"hydra:next": {"@id": following}, "hydra:nextPage": following})
    datasets = []
    for document in page.documents:
        exported = reverse("api-dataset-export", kwargs={"slug": document.dataset.slug, "export_format": "dcat"})
        datasets.append({**dcat_dataset(document), "rdfs:seeAlso": {"@id": absolute(exported)}})
    return {
        "@context": {**CONTEXT, "hydra": HYDRA},
        "@id": feed,
        "@type": ["dcat:Catalog", "hydra:Collection"],
        "dcterms:title": "Kura dataset catalog",
        "dcterms:description": (
            "The datasets this catalog's caller may see: owner, purpose, unit, status and successor of each. "
            "Versions, checksums and storage locations are in each dataset's own export (rdfs:seeAlso)."
        ),
        "foaf:homepage": {"@id": absolute(reverse("frontend:dataset-list"))},
        "hydra:view": view,
        "dcat:dataset": datasets,
    }
