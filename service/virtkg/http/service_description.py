"""The SPARQL 1.1 Service Description of ``/sparql`` (answered to a GET with no query).

It states what the service really does: the default graph is the union of every graph, including
the triples materialized at load time by a subset of the OWL 2 RL rules, so the default
entailment regime is declared as OWL 2 RL with an ``rdfs:comment`` saying it is a materialized
subset; the asserted graphs themselves use simple entailment.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyoxigraph as ox

from virtkg.store.base import DATA_GRAPH, INFERRED_GRAPH, ONTOLOGY_GRAPH

if TYPE_CHECKING:
    from virtkg.http import ServiceState

SD = "http://www.w3.org/ns/sparql-service-description#"
ENT = "http://www.w3.org/ns/entailment/"
FORMATS = "http://www.w3.org/ns/formats/"
RDF_TYPE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
RDFS_COMMENT = ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#comment")
RDFS_LABEL = ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#label")
VOID_TRIPLES = ox.NamedNode("http://rdfs.org/ns/void#triples")

_RDF_FORMATS = {
    "text/turtle": ox.RdfFormat.TURTLE,
    "application/n-triples": ox.RdfFormat.N_TRIPLES,
    "application/rdf+xml": ox.RdfFormat.RDF_XML,
    "application/ld+json": ox.RdfFormat.JSON_LD,
}
_RESULT_FORMATS = (
    "SPARQL_Results_JSON",
    "SPARQL_Results_XML",
    "SPARQL_Results_CSV",
    "SPARQL_Results_TSV",
    "Turtle",
    "N-Triples",
    "RDF_XML",
    "JSON-LD",
)
_GRAPHS = {
    ONTOLOGY_GRAPH: ("ontology", "The ontology (TBox and requirement vocabulary), as asserted."),
    DATA_GRAPH: ("data", "Technologies, scenarios, sources and caveats, as asserted."),
    INFERRED_GRAPH: (
        "inferred",
        "Only the triples materialized from the two asserted graphs by virtkg's OWL 2 RL rule "
        "subset, at load time and again after every SPARQL update.",
    ),
}
DEFAULT_GRAPH_COMMENT = (
    "The default graph is the union of every named graph: the asserted ontology and data graphs "
    "plus the inferred graph, i.e. the asserted triples plus those entailed by a subset of the "
    "OWL 2 RL/RDF rules, materialized when the knowledge base is loaded and after every update "
    "(queries do not reason at query time). Use inference=none, or default-graph-uri with the "
    "ontology and data graph IRIs, for the asserted triples only."
)


def _sd(name: str) -> ox.NamedNode:
    return ox.NamedNode(SD + name)


def service_description(state: ServiceState, endpoint: str, media_type: str) -> bytes:
    """Serialize the service description of ``endpoint`` in ``media_type``."""
    service = ox.NamedNode(endpoint)
    triples: list[ox.Triple] = []

    def add(s: ox.NamedNode | ox.BlankNode, p: ox.NamedNode, o: object) -> None:
        triples.append(ox.Triple(s, p, o))  # type: ignore[arg-type]

    add(service, RDF_TYPE, _sd("Service"))
    add(service, _sd("endpoint"), service)
    add(service, RDFS_LABEL, ox.Literal("virtkg SPARQL endpoint"))
    add(service, _sd("supportedLanguage"), _sd("SPARQL11Query"))
    if state.settings.update_token:
        add(service, _sd("supportedLanguage"), _sd("SPARQL11Update"))
    for name in _RESULT_FORMATS:
        add(service, _sd("resultFormat"), ox.NamedNode(FORMATS + name))
    add(service, _sd("feature"), _sd("UnionDefaultGraph"))
    if state.settings.fetch_allow:
        add(service, _sd("feature"), _sd("BasicFederatedQuery"))
    add(service, _sd("defaultEntailmentRegime"), ox.NamedNode(ENT + "OWL-RL"))
    add(service, RDFS_COMMENT, ox.Literal(DEFAULT_GRAPH_COMMENT, language="en"))

    dataset = ox.BlankNode()
    add(service, _sd("defaultDataset"), dataset)
    add(dataset, RDF_TYPE, _sd("Dataset"))
    default_graph = ox.BlankNode()
    add(dataset, _sd("defaultGraph"), default_graph)
    add(default_graph, RDF_TYPE, _sd("Graph"))
    add(default_graph, RDFS_COMMENT, ox.Literal(DEFAULT_GRAPH_COMMENT, language="en"))
    counts = _counts(state)
    if counts.get(None) is not None:
        add(default_graph, VOID_TRIPLES, ox.Literal(str(counts[None]), datatype=_xsd("integer")))
    for iri, (label, comment) in _GRAPHS.items():
        named = ox.BlankNode()
        graph = ox.BlankNode()
        add(dataset, _sd("namedGraph"), named)
        add(named, RDF_TYPE, _sd("NamedGraph"))
        add(named, _sd("name"), ox.NamedNode(iri))
        add(named, _sd("entailmentRegime"), ox.NamedNode(ENT + "Simple"))
        add(named, RDFS_LABEL, ox.Literal(label))
        add(named, _sd("graph"), graph)
        add(graph, RDF_TYPE, _sd("Graph"))
        add(graph, RDFS_COMMENT, ox.Literal(comment, language="en"))
        if counts.get(iri) is not None:
            add(graph, VOID_TRIPLES, ox.Literal(str(counts[iri]), datatype=_xsd("integer")))
    return ox.serialize(
        triples,
        format=_RDF_FORMATS[media_type],
        prefixes={
            "sd": SD,
            "ent": ENT,
            "formats": FORMATS,
            "void": "http://rdfs.org/ns/void#",
            "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
        }
        if media_type == "text/turtle"
        else None,
    )


def _xsd(name: str) -> ox.NamedNode:
    return ox.NamedNode("http://www.w3.org/2001/XMLSchema#" + name)


def _counts(state: ServiceState) -> dict[str | None, int]:
    """Triples per KB graph and in total (empty when the store cannot say)."""
    try:
        counts: dict[str | None, int] = {iri: state.store.count(iri) for iri in _GRAPHS}
        counts[None] = state.store.count()
    except Exception:  # noqa: BLE001 - counts are informative only
        return {}
    return counts
