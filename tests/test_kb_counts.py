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
