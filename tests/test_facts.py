"""Facts with their sources (virtkg.facts): the reader and the one JSON shape, on a tiny store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pyoxigraph import RdfFormat, parse

from virtkg.facts import read_facts
from virtkg.store import DATA_GRAPH, INFERRED_GRAPH, ONTOLOGY_GRAPH, EmbeddedStore

XSD = "http://www.w3.org/2001/XMLSchema#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
RDF_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"
VKG = "https://w3id.org/virtkg/ontology#"
TECH = "https://w3id.org/virtkg/technology/"
SRC = "https://w3id.org/virtkg/source/"

PREFIXES = """
@prefix vkg: <https://w3id.org/virtkg/ontology#> .
@prefix tech: <https://w3id.org/virtkg/technology/> .
@prefix src: <https://w3id.org/virtkg/source/> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix dcterms: <http://purl.org/dc/terms/> .
"""
ONTOLOGY = """
vkg:startupTimeMs rdfs:label "start-up time (ms)"@en .
vkg:isolationBoundary rdfs:label "isolation boundary"@en .
vkg:HardwareVirtualizationBoundary rdfs:label "hardware virtualization boundary"@en .
vkg:MicroVM rdfs:label "microVM"@en .
"""
# One fact backed by two axioms (sources S10 and S2, two comments, two years), one source with
# two URLs, a language-tagged literal, a fact without any annotation, and a blank-node value.
DATA = """
src:S2 a vkg:Source ; rdfs:label "S2 A study"@en ;
    rdfs:seeAlso <https://b.example/study> , <https://a.example/study> .
src:S10 a vkg:Source ; rdfs:label "S10 A repository"@en ; rdfs:seeAlso <https://c.example/repo> .

tech:fc a vkg:MicroVM ; vkg:startupTimeMs 125.0 , "150"^^xsd:decimal ;
    vkg:isolationBoundary vkg:HardwareVirtualizationBoundary ;
    vkg:maintainer "AWS"@en ;
    vkg:oddValue [] .
[] a owl:Axiom ; owl:annotatedSource tech:fc ; owl:annotatedProperty vkg:startupTimeMs ;
   owl:annotatedTarget 125.0 ; dcterms:source src:S10 ; rdfs:comment "to /sbin/init" ;
   vkg:evidence "V" ; vkg:measuredIn "2021" .
[] a owl:Axiom ; owl:annotatedSource tech:fc ; owl:annotatedProperty vkg:startupTimeMs ;
   owl:annotatedTarget 125.0 ; dcterms:source src:S2 ; rdfs:comment "a cold start" ;
   vkg:evidence "V2" ; vkg:measuredIn "2019" .
[] a owl:Axiom ; owl:annotatedSource tech:fc ; owl:annotatedProperty vkg:isolationBoundary ;
   owl:annotatedTarget vkg:HardwareVirtualizationBoundary ; dcterms:source src:S10 .
[] a owl:Axiom ; owl:annotatedSource tech:fc ; owl:annotatedProperty vkg:maintainer ;
   owl:annotatedTarget "AWS"@en ; dcterms:source src:S99 .

tech:other a vkg:MicroVM ; vkg:startupTimeMs 1.0 .
"""
INFERRED = "tech:fc a vkg:Technology . tech:other a vkg:Technology ."


def _triples(text: str) -> list:
    return [q.triple for q in parse(PREFIXES + text, format=RdfFormat.TURTLE)]


@pytest.fixture(scope="module")
def store() -> Iterator[EmbeddedStore]:
    kb = EmbeddedStore()
    kb.replace_graph(ONTOLOGY_GRAPH, _triples(ONTOLOGY))
    kb.replace_graph(DATA_GRAPH, _triples(DATA))
    kb.replace_graph(INFERRED_GRAPH, _triples(INFERRED))
    yield kb
    kb.close()


def test_one_shape_for_every_fact(store: EmbeddedStore) -> None:
    facts = [f.to_dict() for f in read_facts(store, TECH + "fc")[TECH + "fc"]]
    assert [(f["property"]["name"], f["value"]) for f in facts] == [
        ("type", {"iri": VKG + "MicroVM", "label": "microVM"}),
        (
            "isolationBoundary",
            {
                "iri": VKG + "HardwareVirtualizationBoundary",
                "label": "hardware virtualization boundary",
            },
        ),
        ("maintainer", {"literal": "AWS", "datatype": RDF_LANG_STRING, "language": "en"}),
        ("startupTimeMs", {"literal": "125", "datatype": XSD + "decimal"}),  # canonical form
        ("startupTimeMs", {"literal": "150", "datatype": XSD + "decimal"}),
    ]  # numbers ascend within a property; the blank-node value is not a fact
    for fact in facts:
        assert set(fact) == {"property", "value", "sources", "comment", "evidence", "measured_in"}
        assert set(fact["property"]) == {"iri", "name", "label"}
    kind, _, maintainer, startup, unsourced = facts
    assert kind == {
        "property": {"iri": RDF_TYPE, "name": "type", "label": "type"},
        "value": {"iri": VKG + "MicroVM", "label": "microVM"},
        "sources": [],
        "comment": None,
        "evidence": None,
        "measured_in": None,
    }
    # two axioms: sources by number, their texts axiom by axiom in that order
    assert startup["property"] == {
        "iri": VKG + "startupTimeMs",
        "name": "startupTimeMs",
        "label": "start-up time (ms)",
    }
    assert startup["sources"] == [
        {"id": "S2", "iri": SRC + "S2", "label": "S2 A study", "url": "https://a.example/study"},
        {
            "id": "S10",
            "iri": SRC + "S10",
            "label": "S10 A repository",
            "url": "https://c.example/repo",
        },
    ]
    assert startup["comment"] == "a cold start; to /sbin/init"
    assert startup["evidence"] == "V2; V"
    assert startup["measured_in"] == "2019; 2021"
    assert unsourced["sources"] == [] and unsourced["comment"] is None
    # an undeclared source still shows its IRI, its id as label, no URL
    assert maintainer["sources"] == [{"id": "S99", "iri": SRC + "S99", "label": "S99", "url": None}]


def test_one_technology_or_all_read_the_same(store: EmbeddedStore) -> None:
    every = read_facts(store)
    assert set(every) == {TECH + "fc", TECH + "other"}
    for tech, facts in every.items():
        assert read_facts(store, tech) == {tech: facts}
    assert read_facts(store, TECH + "nothing") == {}
