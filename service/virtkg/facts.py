"""Facts with their sources: one reader, one record type, one JSON shape.

A fact is an asserted triple of a technology in the data graph, ``tech vkg:p value`` (or
``tech rdf:type vkg:Class``), together with what its OWL axiom annotation(s) say: the sources
(``dcterms:source``), the comment, the evidence grade and the year of measurement. The technology
view, the comparison and every recommendation read facts with :func:`read_facts` and render them
with :meth:`Fact.to_dict`, so a fact looks the same wherever the API shows it::

    {"property": {"iri", "name", "label"},
     "value": {"iri", "label"} | {"literal", "datatype"[, "language"]},
     "sources": [{"id", "iri", "label", "url"}, ...],
     "comment": str | null, "evidence": str | null, "measured_in": str | null}

Sources are ordered by their number (S2 before S10); a source with several ``rdfs:seeAlso`` URLs
shows the smallest. A fact asserted by several axioms lists the sources of all of them, and joins
their distinct comments (evidence grades, years) with "; ", axiom by axiom in source order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from pyoxigraph import Literal, NamedNode

from virtkg.store.base import KnowledgeStore, SelectResult, Term

VKG = "https://w3id.org/virtkg/ontology#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
SOURCE_BASE = "https://w3id.org/virtkg/source/"

PREFIXES = """PREFIX vkg: <https://w3id.org/virtkg/ontology#>
PREFIX owl: <http://www.w3.org/2002/07/owl#>
PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX dcterms: <http://purl.org/dc/terms/>
"""

# Facts of technologies asserted in the data graph, the axiom annotations carrying their sources,
# and the sources' labels and URLs: one query, three branches tagged by ?part and joined in Python
# (narrow rows: nested OPTIONALs over the axioms, with a row per source URL, are several times
# slower). ?subject is bound by the engine for one technology, left open for all of them. A
# blank-node value is not a fact anyone can cite, so it is not read.
FACTS_QUERY = (
    PREFIXES
    + """SELECT ?part ?subject ?p ?o ?pLabel ?oLabel ?axiom ?src ?srcLabel ?srcUrl ?comment
       ?evidence ?measured WHERE {
  {
    BIND("fact" AS ?part)
    ?subject a vkg:Technology .
    GRAPH <https://w3id.org/virtkg/graph/data> { ?subject ?p ?o }
    FILTER(!ISBLANK(?o))
    FILTER(STRSTARTS(STR(?p), STR(vkg:)) || (?p = rdf:type && STRSTARTS(STR(?o), STR(vkg:))))
    OPTIONAL { ?p rdfs:label ?pLabel FILTER(LANGMATCHES(LANG(?pLabel), "en")) }
    OPTIONAL { ?o rdfs:label ?oLabel FILTER(LANGMATCHES(LANG(?oLabel), "en")) }
  } UNION {
    BIND("axiom" AS ?part)
    ?subject a vkg:Technology .
    ?axiom owl:annotatedSource ?subject ; owl:annotatedProperty ?p ; owl:annotatedTarget ?o .
    OPTIONAL { ?axiom dcterms:source ?src }
    OPTIONAL { ?axiom rdfs:comment ?comment }
    OPTIONAL { ?axiom vkg:evidence ?evidence }
    OPTIONAL { ?axiom vkg:measuredIn ?measured }
  } UNION {
    BIND("source" AS ?part)
    ?src a vkg:Source .
    OPTIONAL { ?src rdfs:label ?srcLabel }
    OPTIONAL { ?src rdfs:seeAlso ?srcUrl }
  }
}"""
)


def local_name(iri: str) -> str:
    """The last segment of an IRI (``...ontology#cpuOverhead`` -> ``cpuOverhead``)."""
    return iri.rsplit("#", 1)[-1].rsplit("/", 1)[-1]


def property_name(iri: str) -> str:
    """A fact property's name: ``type`` for rdf:type, else its local name (``cpuOverhead``)."""
    return "type" if iri == RDF_TYPE else local_name(iri)


def source_id(iri: str) -> str:
    """The id of a source IRI (``.../source/S19`` -> ``S19``); another IRI stays whole."""
    return iri[len(SOURCE_BASE) :] if iri.startswith(SOURCE_BASE) else iri


def source_order(sid: str) -> tuple[int, str]:
    """Sort key of a source id: by its number (S2 before S10), then by the id."""
    digits = "".join(ch for ch in sid if ch.isdigit())
    return (int(digits) if digits else 10**9, sid)


@dataclass(frozen=True)
class Source:
    """A cited source: its IRI, label (its id when it has none) and URL (or None)."""

    iri: str
    label: str
    url: str | None = None

    @property
    def id(self) -> str:
        return source_id(self.iri)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "iri": self.iri, "label": self.label, "url": self.url}


class SourceSet:
    """Sources met in query rows, one per IRI: the smallest label and the smallest URL seen.

    RDF gives a source's ``rdfs:seeAlso`` URLs in no order; taking the smallest keeps every
    answer the same whatever order the engine returns rows in.
    """

    def __init__(self) -> None:
        self._found: dict[str, tuple[str | None, str | None]] = {}

    def add(self, iri: str, label: Term | None = None, url: Term | None = None) -> None:
        old_label, old_url = self._found.get(iri, (None, None))
        self._found[iri] = (
            _smallest(old_label, label.value if label is not None else None),
            _smallest(old_url, url.value if url is not None else None),
        )

    def get(self, iri: str) -> Source:
        label, url = self._found.get(iri, (None, None))
        return Source(iri, label or source_id(iri), url)

    def ordered(self, iris: Iterable[str] | None = None) -> tuple[Source, ...]:
        """The sources of ``iris`` (default: all), in :func:`source_order`."""
        chosen = [self.get(iri) for iri in (self._found if iris is None else iris)]
        return tuple(sorted(chosen, key=lambda s: source_order(s.id)))


def _smallest(old: str | None, new: str | None) -> str | None:
    if old is None or (new is not None and new < old):
        return new
    return old


@dataclass(frozen=True)
class Fact:
    """One asserted fact of a technology with everything its axiom annotations say.

    Facts are shared (a recommendation snapshot keeps them): they are immutable.
    """

    subject: str
    property: str
    property_label: str
    value: NamedNode | Literal
    value_label: str | None
    sources: tuple[Source, ...] = ()
    comment: str | None = None
    evidence: str | None = None
    measured_in: str | None = None

    @property
    def property_name(self) -> str:
        return property_name(self.property)

    def number(self) -> Decimal | None:
        """The value as a number, when it is a literal that reads as a finite one."""
        if not isinstance(self.value, Literal):
            return None
        try:
            number = Decimal(self.value.value)
        except InvalidOperation:
            return None
        return number if number.is_finite() else None

    def to_dict(self) -> dict[str, Any]:
        """The fact's JSON: the one shape the API uses everywhere (see the module docstring)."""
        return {
            "property": {
                "iri": self.property,
                "name": self.property_name,
                "label": self.property_label,
            },
            "value": value_json(self.value, self.value_label),
            "sources": [s.to_dict() for s in self.sources],
            "comment": self.comment,
            "evidence": self.evidence,
            "measured_in": self.measured_in,
        }


def value_json(term: NamedNode | Literal, label: str | None = None) -> dict[str, Any]:
    """A fact value: ``{"iri", "label"}``, or ``{"literal", "datatype"}`` (+ ``"language"``)."""
    if isinstance(term, NamedNode):
        return {"iri": term.value, "label": label or local_name(term.value)}
    out: dict[str, Any] = {"literal": term.value, "datatype": term.datatype.value}
    if term.language:
        out["language"] = term.language
    return out


def fact_order(fact: Fact) -> tuple:
    """Sort key: rdf:type first, then by property name; within one, numbers ascending, then
    other values by IRI or text."""
    number = fact.number()
    return (
        fact.property_name != "type",
        fact.property_name,
        number is None,
        number if number is not None else Decimal(0),
        fact.value.value,
        str(fact.value),
    )


@dataclass
class _Draft:
    """A fact being read: its labels and, per axiom, what the annotation says."""

    property_label: str | None = None
    value_label: str | None = None
    axioms: dict[str, _Axiom] = field(default_factory=dict)


@dataclass
class _Axiom:
    sources: set[str] = field(default_factory=set)
    comments: set[str] = field(default_factory=set)
    evidence: set[str] = field(default_factory=set)
    measured_in: set[str] = field(default_factory=set)


def read_facts(store: KnowledgeStore, subject: str | None = None) -> dict[str, list[Fact]]:
    """The facts of one technology (``subject``), or of every technology, in one query.

    Returns technology IRI -> its facts in :func:`fact_order`; facts are grouped by
    (property, value), whatever the number of axioms and sources behind them.
    """
    bindings = {"subject": NamedNode(subject)} if subject is not None else None
    result = store.query(FACTS_QUERY, bindings=bindings)
    if not isinstance(result, SelectResult):
        raise TypeError("expected a SELECT result")
    drafts: dict[tuple[str, str, Term], _Draft] = {}
    axiom_rows: list[dict[str, Term]] = []
    sources = SourceSet()
    for row in result.rows:
        part = row["part"].value
        if part == "fact":
            key = (row["subject"].value, row["p"].value, row["o"])
            draft = drafts.setdefault(key, _Draft())
            draft.property_label = _smallest(draft.property_label, _text(row.get("pLabel")))
            draft.value_label = _smallest(draft.value_label, _text(row.get("oLabel")))
        elif part == "axiom":
            axiom_rows.append(row)
        elif part == "source":
            sources.add(row["src"].value, row.get("srcLabel"), row.get("srcUrl"))
    for row in axiom_rows:
        draft = drafts.get((row["subject"].value, row["p"].value, row["o"]))
        if draft is None:
            continue  # an annotation whose target is not asserted (a check reports it)
        axiom = draft.axioms.setdefault(str(row["axiom"]), _Axiom())
        if "src" in row:
            axiom.sources.add(row["src"].value)
        if "comment" in row:
            axiom.comments.add(row["comment"].value)
        if "evidence" in row:
            axiom.evidence.add(row["evidence"].value)
        if "measured" in row:
            axiom.measured_in.add(row["measured"].value)
    out: dict[str, list[Fact]] = {}
    for (tech, prop, value), draft in drafts.items():
        assert isinstance(value, NamedNode | Literal)
        out.setdefault(tech, []).append(_fact(tech, prop, value, draft, sources))
    for tech_facts in out.values():
        tech_facts.sort(key=fact_order)
    return out


def facts_of(store: KnowledgeStore, subject: str) -> list[Fact]:
    """The facts of one technology, in :func:`fact_order` (empty for an unknown IRI)."""
    return read_facts(store, subject).get(subject, [])


def _fact(
    tech: str, prop: str, value: NamedNode | Literal, draft: _Draft, sources: SourceSet
) -> Fact:
    def axiom_order(axiom: _Axiom) -> tuple:
        first = min((source_order(source_id(s)) for s in axiom.sources), default=None)
        texts = (axiom.comments, axiom.evidence, axiom.measured_in)
        return (first is None, first or (0, ""), *(sorted(t) for t in texts))

    axioms = sorted(draft.axioms.values(), key=axiom_order)
    used = {iri for axiom in axioms for iri in axiom.sources}
    return Fact(
        subject=tech,
        property=prop,
        property_label=draft.property_label or property_name(prop),
        value=value,
        value_label=draft.value_label,
        sources=sources.ordered(used),
        comment=_joined(a.comments for a in axioms),
        evidence=_joined(a.evidence for a in axioms),
        measured_in=_joined(a.measured_in for a in axioms),
    )


def _joined(per_axiom: Iterable[set[str]]) -> str | None:
    """Distinct texts, axiom by axiom (each axiom's sorted), joined with "; "; None if none."""
    seen: list[str] = []
    for texts in per_axiom:
        seen.extend(t for t in sorted(texts) if t not in seen)
    return "; ".join(seen) or None


def _text(term: Term | None) -> str | None:
    return term.value if term is not None else None
