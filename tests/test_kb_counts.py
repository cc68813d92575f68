"""The knowledge base's size and sourcing, counted by SPARQL over the loaded, reasoned store."""

from __future__ import annotations

import pytest

from virtkg.config import load_settings
from virtkg.kb import load_knowledge_base
from virtkg.store import open_store
from virtkg.store.base import SelectResult

PREFIXES = """
PREFIX vkg: <https://w3id.org/virtkg/ontology#>
PREFIX owl: <http://www.w3.org/2002/07/owl#>
PREFIX dcterms: <http://purl.org/dc/terms/>
PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>
"""
TECHNOLOGY_FACTS = """
  GRAPH <https://w3id.org/virtkg/graph/data> { ?tech ?p ?o }
  ?tech a vkg:Technology .
  FILTER(STRSTARTS(STR(?p), STR(vkg:)) || (?p = rdf:type && STRSTARTS(STR(?o), STR(vkg:))))
"""
FACTS = PREFIXES + "SELECT (COUNT(*) AS ?n) WHERE {" + TECHNOLOGY_FACTS + "}"
UNSOURCED = (
    PREFIXES
    + "SELECT (COUNT(*) AS ?n) WHERE {"
    + TECHNOLOGY_FACTS
    + """
  FILTER NOT EXISTS {
    ?axiom owl:annotatedSource ?tech ; owl:annotatedProperty ?p ; owl:annotatedTarget ?o ;
           dcterms:source ?source .
    ?source a vkg:Source .
  }
}
"""
)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    settings = load_settings({}, cache_dir=str(tmp_path_factory.mktemp("cache")))
    store = open_store(settings)
    load_knowledge_base(store, settings)
    yield store
    store.close()


def count(store, sparql: str) -> int:  # noqa: ANN001
    result = store.query(sparql)
    assert isinstance(result, SelectResult)
    return int(result.rows[0]["n"].value)


def test_at_least_15_technologies(store) -> None:  # noqa: ANN001
    assert (
        count(store, PREFIXES + "SELECT (COUNT(DISTINCT ?t) AS ?n) { ?t a vkg:Technology }") >= 15
    )


def test_at_least_12_scenarios_each_with_a_fit_class(store) -> None:  # noqa: ANN001
    query = PREFIXES + "SELECT (COUNT(DISTINCT ?s) AS ?n) { ?s a vkg:Scenario ; vkg:fitClass ?f }"
    assert count(store, query) >= 12


def test_no_technology_fact_without_a_source(store) -> None:  # noqa: ANN001
    assert count(store, FACTS) > 200  # the query sees the facts it should
    assert count(store, UNSOURCED) == 0


def test_every_source_has_its_own_link_and_mirrors_are_not_links(store) -> None:  # noqa: ANN001
    """The API shows a source's rdfs:seeAlso as its link; copies it was read in are vkg:readAt."""
    rdfs = "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n"
    without_link = (
        PREFIXES
        + rdfs
        + "SELECT (COUNT(*) AS ?n) { ?s a vkg:Source FILTER NOT EXISTS { ?s rdfs:seeAlso ?u } }"
    )
    assert count(store, without_link) == 0
    mirror_as_link = (
        PREFIXES + rdfs + "SELECT (COUNT(*) AS ?n) { ?s vkg:readAt ?u ; rdfs:seeAlso ?u }"
    )
    assert count(store, mirror_as_link) == 0
    assert count(store, PREFIXES + "SELECT (COUNT(*) AS ?n) { ?s vkg:readAt ?u }") == 4


def test_source_links_in_the_api_are_the_sources_own_pages(store) -> None:  # noqa: ANN001
    from virtkg.facts import read_facts

    shown = {
        source.url
        for facts in read_facts(store).values()
        for fact in facts
        for source in fact.sources
        if source.url is not None
    }
    assert shown
    assert not any("docslib.org" in u or "filegear" in u or "blabley" in u for u in shown)
