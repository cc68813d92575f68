"""Classify the knowledge base with HermiT (through owlready2) in an isolated World.

The Turtle files are merged with rdflib (``owl:imports`` dropped: everything is given locally, so
nothing is fetched) and written as N-Triples into a temporary directory; owlready2 loads that into
a fresh :class:`owlready2.World` and runs its bundled HermiT.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import owlready2
import pyoxigraph
from rdflib import Graph
from rdflib.namespace import OWL

#: Disjointness violations over the asserted graph plus its RDFS closure (subclass, domain, range).
DISJOINT_QUERY = """
PREFIX owl: <http://www.w3.org/2002/07/owl#>
PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT DISTINCT ?x ?c1 ?c2 WHERE {
  { ?c1 owl:disjointWith ?c2 } UNION { ?c2 owl:disjointWith ?c1 }
  UNION {
    ?all a owl:AllDisjointClasses ; owl:members ?list .
    ?list rdf:rest*/rdf:first ?c1 . ?list rdf:rest*/rdf:first ?c2 .
  }
  FILTER(isIRI(?c1) && isIRI(?c2) && STR(?c1) < STR(?c2))
  { ?x rdf:type/rdfs:subClassOf* ?c1 }
  UNION { ?x ?p1 ?y1 . ?p1 rdfs:subPropertyOf*/rdfs:domain/rdfs:subClassOf* ?c1 }
  UNION { ?y2 ?p2 ?x . ?p2 rdfs:subPropertyOf*/rdfs:range/rdfs:subClassOf* ?c1 }
  { ?x rdf:type/rdfs:subClassOf* ?c2 }
  UNION { ?x ?p3 ?y3 . ?p3 rdfs:subPropertyOf*/rdfs:domain/rdfs:subClassOf* ?c2 }
  UNION { ?y4 ?p4 ?x . ?p4 rdfs:subPropertyOf*/rdfs:range/rdfs:subClassOf* ?c2 }
  FILTER(isIRI(?x))
}
ORDER BY ?x ?c1 ?c2
"""


@dataclass
class HermitResult:
    """What HermiT concluded about the files it was given."""

    consistent: bool
    unsatisfiable: list[str] = field(default_factory=list)
    memberships: dict[str, set[str]] = field(default_factory=dict)
    explanation: list[str] = field(default_factory=list)
    inconsistent_entities: list[str] = field(default_factory=list)


def merge_files(paths: Sequence[Path]) -> Graph:
    """Parse every Turtle/RDF-XML file into one graph, without owl:imports."""
    graph = Graph()
    for path in paths:
        fmt = "xml" if Path(path).suffix in {".owl", ".rdf"} else "turtle"
        try:
            graph.parse(path, format=fmt)
        except (SyntaxError, ValueError) as exc:
            raise ValueError(f"{path} does not parse: {exc}") from exc
    graph.remove((None, OWL.imports, None))
    return graph


def disjointness_violations(graph: Graph) -> list[tuple[str, str, str]]:
    """(entity, class 1, class 2): entities that belong to two disjoint classes (RDFS closure)."""
    store = pyoxigraph.Store()
    store.load(graph.serialize(format="nt").encode(), format=pyoxigraph.RdfFormat.N_TRIPLES)
    return [
        (row["x"].value, row["c1"].value, row["c2"].value) for row in store.query(DISJOINT_QUERY)
    ]


def _entities_in(text: str) -> list[str]:
    return sorted(set(re.findall(r"https?://[^\s>\"')\],]+", text)))


def _explain(graph: Graph, error: Exception) -> tuple[list[str], list[str]]:
    lines = [f"HermiT: {str(error).strip().splitlines()[-1] if str(error).strip() else error!r}"]
    entities = _entities_in(str(error))
    for x, c1, c2 in disjointness_violations(graph):
        lines.append(f"{x} is both a {c1} and a {c2}, which are disjoint")
        entities.append(x)
    return lines, sorted(set(entities))


def hermit_classify(paths: Sequence[Path]) -> HermitResult:
    """Run HermiT over ``paths``: consistency, unsatisfiable classes, every class's members."""
    graph = merge_files(paths)
    world = owlready2.World()
    try:
        with tempfile.TemporaryDirectory(prefix="virtkg-hermit-") as tmp:
            nt = Path(tmp) / "kb.nt"
            graph.serialize(nt, format="nt", encoding="utf-8")
            world.get_ontology(nt.as_uri()).load(fileobj=nt.open("rb"), format="ntriples")
            try:
                owlready2.sync_reasoner_hermit(world, infer_property_values=False, debug=0)
            except owlready2.OwlReadyInconsistentOntologyError as exc:
                lines, entities = _explain(graph, exc)
                return HermitResult(False, explanation=lines, inconsistent_entities=entities)
        unsatisfiable = sorted(c.iri for c in world.inconsistent_classes() if hasattr(c, "iri"))
        memberships: dict[str, set[str]] = {c.iri: set() for c in world.classes()}
        for individual in world.individuals():
            for cls in individual.is_a:
                if not isinstance(cls, owlready2.ThingClass):
                    continue
                for ancestor in cls.ancestors():
                    if (
                        isinstance(ancestor, owlready2.ThingClass)
                        and ancestor is not owlready2.Thing
                    ):
                        memberships.setdefault(ancestor.iri, set()).add(individual.iri)
        return HermitResult(True, unsatisfiable, memberships)
    finally:
        world.close()
