"""The catalog as a paged DCAT feed: what a harvester copies, read with a real JSON-LD parser."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rdflib import RDF, Graph, Namespace, URIRef
from rdflib.namespace import DCTERMS, RDFS

from catalog.documentation import dcat_catalog
from catalog.services import dataset_update
from tests.factories import bearer, make_dataset, make_person

pytestmark = pytest.mark.django_db

DCAT = Namespace("http://www.w3.org/ns/dcat#")
ADMS = Namespace("http://www.w3.org/ns/adms#")
HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")
STATUS = Namespace("http://purl.org/adms/status/")
FEED = "/api/v1/catalog/dcat/"


def graph_of(response) -> Graph:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/ld+json; charset=utf-8"
    return Graph().parse(data=response.content, format="json-ld")


def listed_slugs(graph: Graph) -> set[str]:
    catalog = next(graph.subjects(RDF.type, DCAT.Catalog))
    return {str(graph.value(dataset, DCTERMS.identifier)) for dataset in graph.objects(catalog, DCAT.dataset)}


def page_link(graph: Graph, term: str) -> str | None:
    view = next(graph.subjects(RDF.type, HYDRA.PartialCollectionView))
    value = graph.value(view, HYDRA[term])
    return str(value) if value is not None else None


def test_the_feed_lists_what_the_caller_may_see_except_drafts_with_status_and_successor(api, owner):
    successor = make_dataset(owner, slug="signs-2026")
    old = make_dataset(owner, slug="signs-2025")
    dataset_update(dataset=old, actor=owner, status="deprecated", superseded_by=successor)
    gone = make_dataset(owner, slug="signs-2019")
    dataset_update(dataset=gone, actor=owner, status="archived")
    make_dataset(owner, slug="signs-draft", status="draft")
    make_dataset(owner, slug="faces", visibility="restricted")
    api.credentials(HTTP_AUTHORIZATION=bearer(make_person("otto")))

    graph = graph_of(api.get(FEED))

    assert listed_slugs(graph) == {"signs-2026", "signs-2025", "signs-2019"}
    by_slug = {str(graph.value(node, DCTERMS.identifier)): node for node in graph.subjects(RDF.type, DCAT.Dataset)}
    assert graph.value(by_slug["signs-2026"], ADMS.status) == STATUS.Completed
    assert graph.value(by_slug["signs-2025"], ADMS.status) == STATUS.Deprecated
    assert graph.value(by_slug["signs-2019"], ADMS.status) == STATUS.Withdrawn
    assert graph.value(by_slug["signs-2025"], DCTERMS.isReplacedBy) == by_slug["signs-2026"]
    assert graph.value(by_slug["signs-2026"], RDFS.seeAlso) == URIRef(
        "http://testserver/api/v1/datasets/signs-2026/export/dcat/"
    )
    assert not list(graph.objects(None, DCAT.distribution))  # storage stays in each dataset's own export
    assert page_link(graph, "next") is None
    assert int(graph.value(next(graph.subjects(RDF.type, HYDRA.PagedCollection)), HYDRA.totalItems)) == 3


def test_a_harvester_follows_the_pages_to_every_dataset_once(api, owner, monkeypatch):
    monkeypatch.setattr(dcat_catalog, "PAGE_SIZE", 2)
    for index in range(5):
        make_dataset(owner, slug=f"set-{index}")
    api.credentials(HTTP_AUTHORIZATION=bearer(owner))

    seen: list[str] = []
    url: str | None = f"http://testserver{FEED}"
    pages = 0
    while url is not None:
        graph = graph_of(api.get(url))
        seen.extend(sorted(listed_slugs(graph)))
        url = page_link(graph, "next")
        pages += 1
        older = next(graph.subjects(RDF.type, HYDRA.PagedCollection))
        assert (graph.value(older, HYDRA.nextPage) is None) == (url is None)  # both paging vocabularies agree

    assert pages == 3
    assert seen == [f"set-{index}" for index in range(5)]


def test_a_page_starts_after_the_slug_it_names_even_one_that_does_not_exist(api, owner, monkeypatch):
    monkeypatch.setattr(dcat_catalog, "PAGE_SIZE", 2)
    for index in range(5):
        make_dataset(owner, slug=f"set-{index}")
    api.credentials(HTTP_AUTHORIZATION=bearer(owner))

    assert sorted(listed_slugs(graph_of(api.get(FEED, {"after": "set-1"})))) == ["set-2", "set-3"]
    assert sorted(listed_slugs(graph_of(api.get(FEED, {"after": "set-10"})))) == ["set-2", "set-3"]
    assert listed_slugs(graph_of(api.get(FEED, {"after": "zzz"}))) == set()


def test_a_page_costs_the_same_queries_for_two_datasets_or_seven(api, owner):
    api.credentials(HTTP_AUTHORIZATION=bearer(owner))
    api.get(FEED)  # the token's first use stamps it; later ones within a minute do not

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert api.get(FEED).status_code == 200
        return len(captured)

    successor = make_dataset(owner, slug="next", tags=["vision"])
    make_dataset(owner, slug="only", tags=["vision", "night"], superseded_by=successor, status="deprecated")
    few = queries()
    for index in range(5):
        make_dataset(owner, slug=f"more-{index}", tags=[f"tag-{index}"], superseded_by=successor,
                     status="deprecated")

    assert queries() == few


def test_without_a_token_the_feed_answers_401(api):
    assert api.get(FEED).status_code == 401
