"""Rank virtualization technologies for a set of requirements, with sourced explanations.

The decision comes from the reasoned graph: a categorical requirement is *met* when the store holds
``tech vkg:satisfies requirement`` (only ever inferred by the ontology's rules), *unknown* when the
technology has no value for the dimension's ``vkg:judgedBy`` property, and *unmet* otherwise.
A numeric requirement (a bound) is met when the largest recorded value is <= the bound, unmet when
it is above, unknown when nothing is recorded. For a scenario, ``fits`` is read from
``tech rdf:type fit:{scenario}`` in the reasoned graph.

Ranking (see docs/recommendation.md), best first:

1. technologies that fit (every requirement met) before the others;
2. higher score, where score = met / number of requirements (unknown counts 0: it is not evidence;
   1.0 when there are no requirements);
3. fewer unmet requirements (so "unknown" ranks above "unmet" at equal score);
4. smaller startup time (largest recorded value; technologies without one last);
5. smaller memory overhead (largest recorded value; without one last);
6. label, case-insensitively.

Everything is fetched in three SPARQL queries (vocabulary and scenarios; facts with their sources;
technologies with kinds, inferred satisfaction, fit and caveats) and combined in Python.
IRIs placed in VALUES blocks come from the graph, never from user input.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from pyoxigraph import Literal, NamedNode

from virtkg.errors import InvalidParameter, NotFound, UnknownRequirement
from virtkg.store.base import DATA_GRAPH, KnowledgeStore, SelectResult, Term

VKG = "https://w3id.org/virtkg/ontology#"
TECH_BASE = "https://w3id.org/virtkg/technology/"
SCENARIO_BASE = "https://w3id.org/virtkg/scenario/"
SOURCE_BASE = "https://w3id.org/virtkg/source/"
CAVEAT_BASE = "https://w3id.org/virtkg/caveat/"
STARTUP_PROPERTY = VKG + "startupTimeMs"
MEMORY_PROPERTY = VKG + "memoryOverheadMiB"

#: The ranking key, in order, as documented (also returned in every recommendation).
RANKING = (
    "fits (all requirements met) first",
    "score = met / requirements, descending (unknown counts 0)",
    "fewer unmet requirements",
    "smaller startup time (largest recorded value; none recorded last)",
    "smaller memory overhead (largest recorded value; none recorded last)",
    "label",
)

PREFIXES = """PREFIX vkg: <https://w3id.org/virtkg/ontology#>
PREFIX owl: <http://www.w3.org/2002/07/owl#>
PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX dcterms: <http://purl.org/dc/terms/>
"""

# Each query is a UNION of branches tagged by ?part, projecting a few shared variables: one round
# trip, and narrow rows (turning result rows into Python objects costs more than evaluating).
VOCABULARY_QUERY = (
    PREFIXES
    + """SELECT ?part ?s ?o ?label ?def ?x WHERE {
  {
    BIND("dim" AS ?part)
    ?s a vkg:RequirementDimension ; vkg:apiName ?x ; vkg:judgedBy ?o .
    OPTIONAL { ?s rdfs:label ?label }
    OPTIONAL { ?s skos:definition ?def }
  } UNION {
    BIND("req" AS ?part)
    ?s vkg:inDimension ?o .
    OPTIONAL { ?s vkg:apiValue ?x }
    OPTIONAL { ?s rdfs:label ?label }
    OPTIONAL { ?s skos:definition ?def }
  } UNION {
    BIND("unit" AS ?part)
    ?s vkg:inDimension [] ; vkg:unit ?x .
  } UNION {
    BIND("numeric" AS ?part)
    ?s a vkg:NumericRequirement .
  } UNION {
    BIND("rule" AS ?part)
    ?sup owl:onProperty vkg:satisfies ; owl:hasValue ?s .
    ?sub rdfs:subClassOf ?sup .
    ?sub (owl:intersectionOf|owl:unionOf|rdf:first|rdf:rest)* ?node .
    ?node owl:onProperty ?o .
    FILTER(?o != vkg:satisfies)
  } UNION {
    BIND("scenario" AS ?part)
    ?s a vkg:Scenario .
    OPTIONAL { ?s rdfs:label ?label }
    OPTIONAL { ?s vkg:fitClass ?o }
    OPTIONAL { ?s vkg:rationale ?def }
  } UNION {
    BIND("requires" AS ?part)
    ?s a vkg:Scenario ; vkg:requires ?o .
  }
}"""
)

# Facts, their axiom annotations and all sources are separate branches joined in Python:
# nested OPTIONALs over owl:Axiom nodes are several times slower in pyoxigraph.
FACTS_QUERY = (
    PREFIXES
    + """SELECT ?part ?s ?p ?o ?label ?src ?x ?y WHERE {
  {
    BIND("fact" AS ?part)
    VALUES ?p { %(properties)s }
    ?s ?p ?o .
    OPTIONAL { ?o rdfs:label ?label }
  } UNION {
    BIND("annotation" AS ?part)
    VALUES ?p { %(properties)s }
    ?ax owl:annotatedProperty ?p ; owl:annotatedSource ?s ; owl:annotatedTarget ?o .
    OPTIONAL { ?ax dcterms:source ?src }
    OPTIONAL { ?ax rdfs:comment ?label }
    OPTIONAL { ?ax vkg:measuredIn ?x }
    OPTIONAL { ?ax vkg:evidence ?y }
  } UNION {
    BIND("property" AS ?part)
    VALUES ?p { %(properties)s }
    ?p rdfs:label ?label .
  } UNION {
    BIND("source" AS ?part)
    ?src a vkg:Source .
    OPTIONAL { ?src rdfs:label ?label }
    OPTIONAL { ?src rdfs:seeAlso ?o }
  }
}"""
)

TECHNOLOGIES_QUERY = (
    PREFIXES
    + """SELECT ?part ?s ?o ?label ?x ?y WHERE {
  {
    BIND("technology" AS ?part)
    GRAPH <%(data)s> { ?s a ?o }
    ?o rdfs:subClassOf* vkg:Technology .
    FILTER NOT EXISTS {
      GRAPH <%(data)s> { ?s a ?other }
      ?other rdfs:subClassOf+ ?o .
      FILTER(?other != ?o)
    }
    OPTIONAL { ?s rdfs:label ?label }
    OPTIONAL { ?o rdfs:label ?x }
  } UNION {
    BIND("satisfies" AS ?part)
    VALUES ?o { %(requirements)s }
    ?s vkg:satisfies ?o .
  } UNION {
    BIND("fits" AS ?part)
    VALUES ?o { %(fit)s }
    ?s a ?o .
  } UNION {
    BIND("caveat" AS ?part)
    ?o vkg:appliesTo ?s .
    OPTIONAL { ?o rdfs:label ?label }
    OPTIONAL { ?o vkg:caveatText ?x }
    OPTIONAL { ?o vkg:caveatDimension ?y }
  } UNION {
    BIND("caveat-source" AS ?part)
    ?s vkg:appliesTo [] ; dcterms:source ?o .
  }
}"""
)


# ------------------------------------------------------------------------------------------------
# vocabulary


@dataclass(frozen=True)
class RequirementValue:
    """One requirement individual (a value of a dimension)."""

    iri: str
    value: str | None  # vkg:apiValue; None for a numeric requirement
    label: str
    description: str | None = None
    evidence_properties: tuple[str, ...] = ()  # properties the satisfaction rules look at

    def to_dict(self) -> dict:
        return {
            "value": self.value,
            "label": self.label,
            "description": self.description,
            "iri": self.iri,
        }


@dataclass(frozen=True)
class Dimension:
    """A requirement dimension: its REST name, the fact property that judges it, its values."""

    name: str
    iri: str
    label: str
    description: str | None
    judged_by: str
    kind: str  # "categorical" | "numeric"
    values: tuple[RequirementValue, ...] = ()
    unit: str | None = None

    @property
    def is_boolean(self) -> bool:
        """A categorical dimension whose only value is "true"."""
        return self.kind == "categorical" and [v.value for v in self.values] == ["true"]

    def to_dict(self) -> dict:
        data = {
            "name": self.name,
            "label": self.label,
            "description": self.description,
            "kind": self.kind,
            "iri": self.iri,
            "judged_by": self.judged_by,
        }
        if self.kind == "numeric":
            data["unit"] = self.unit
            data["requirement"] = self.values[0].iri if self.values else None
        else:
            data["values"] = [v.to_dict() for v in self.values]
        return data


@dataclass(frozen=True)
class Scenario:
    """A scenario: what it requires and the class of technologies that fit it."""

    id: str
    iri: str
    label: str
    fit_class: str | None
    requirements: tuple[str, ...]  # requirement IRIs
    rationale: str | None = None

    def to_dict(self, vocabulary: Vocabulary | None = None) -> dict:
        reqs: list[dict] = []
        for iri in self.requirements:
            found = vocabulary.requirement(iri) if vocabulary else None
            if found:
                reqs.append({"dimension": found[0].name, "value": found[1].value, "iri": iri})
            else:
                reqs.append({"dimension": None, "value": None, "iri": iri})
        return {
            "id": self.id,
            "iri": self.iri,
            "label": self.label,
            "fit_class": self.fit_class,
            "rationale": self.rationale,
            "requirements": reqs,
        }


@dataclass
class Vocabulary:
    """The dimensions and scenarios of the graph, as read by one query."""

    dimensions: dict[str, Dimension]
    scenarios: dict[str, Scenario]

    def requirement(self, iri: str) -> tuple[Dimension, RequirementValue] | None:
        for dim in self.dimensions.values():
            for value in dim.values:
                if value.iri == iri:
                    return dim, value
        return None


def _text(term: Term | None) -> str | None:
    return term.value if term is not None else None


class _Labels:
    """Collects labels per key and picks English, then untagged, then any."""

    def __init__(self) -> None:
        self._seen: dict[str, dict[str, str]] = {}

    def add(self, key: str, term: Term | None) -> None:
        if isinstance(term, Literal):
            self._seen.setdefault(key, {}).setdefault(term.language or "", term.value)

    def get(self, key: str, default: str | None = None) -> str | None:
        found = self._seen.get(key)
        if not found:
            return default
        for lang in ("en", ""):
            if lang in found:
                return found[lang]
        return found[sorted(found)[0]]


def _rows(result: object) -> list[dict[str, Term]]:
    if not isinstance(result, SelectResult):
        raise TypeError("expected a SELECT result")
    return result.rows


def _local(iri: str, base: str) -> str:
    return iri[len(base) :] if iri.startswith(base) else iri.rsplit("/", 1)[-1].rsplit("#", 1)[-1]


def load_vocabulary(store: KnowledgeStore) -> Vocabulary:
    """Read the requirement dimensions, their values and the scenarios (one query)."""
    rows = _rows(store.query(VOCABULARY_QUERY))
    labels, definitions = _Labels(), _Labels()
    dims: dict[str, dict] = {}
    reqs: dict[str, dict] = {}
    numeric: set[str] = set()
    rule_props: dict[str, list[str]] = {}
    scenarios: dict[str, dict] = {}
    for row in rows:
        part, iri = row["part"].value, row["s"].value
        if part == "dim":
            dims.setdefault(iri, {"name": row["x"].value, "judged_by": row["o"].value})
            labels.add(iri, row.get("label"))
            definitions.add(iri, row.get("def"))
        elif part == "req":
            req = reqs.setdefault(iri, {})
            req["dim"] = row["o"].value
            if "x" in row:
                req["value"] = row["x"].value
            labels.add(iri, row.get("label"))
            definitions.add(iri, row.get("def"))
        elif part == "unit":
            reqs.setdefault(iri, {})["unit"] = row["x"].value
        elif part == "numeric":
            numeric.add(iri)
        elif part == "rule":
            props = rule_props.setdefault(iri, [])
            if row["o"].value not in props:
                props.append(row["o"].value)
        elif part in ("scenario", "requires"):
            scn = scenarios.setdefault(iri, {"reqs": [], "fit": None, "rationale": None})
            if part == "requires":
                if row["o"].value not in scn["reqs"]:
                    scn["reqs"].append(row["o"].value)
                continue
            labels.add(iri, row.get("label"))
            scn["fit"] = scn["fit"] or _text(row.get("o"))
            scn["rationale"] = scn["rationale"] or _text(row.get("def"))

    dimensions: dict[str, Dimension] = {}
    for iri, dim in dims.items():
        members = sorted((r_iri, r) for r_iri, r in reqs.items() if r.get("dim") == iri)
        is_numeric = any(r_iri in numeric for r_iri, _ in members)
        values = []
        for r_iri, r in members:
            if not is_numeric and "value" not in r:
                continue  # a categorical requirement without an API value is not addressable
            extra = tuple(p for p in rule_props.get(r_iri, []) if p != dim["judged_by"])
            values.append(
                RequirementValue(
                    iri=r_iri,
                    value=None if is_numeric else r["value"],
                    label=labels.get(r_iri, r.get("value") or _local(r_iri, VKG)),
                    description=definitions.get(r_iri),
                    evidence_properties=(dim["judged_by"], *extra),
                )
            )
        unit = next((r["unit"] for _, r in members if "unit" in r), None)
        dimensions[dim["name"]] = Dimension(
            name=dim["name"],
            iri=iri,
            label=labels.get(iri, dim["name"]),
            description=definitions.get(iri),
            judged_by=dim["judged_by"],
            kind="numeric" if is_numeric else "categorical",
            values=tuple(values),
            unit=unit,
        )
    scenario_map = {}
    for iri, scn in scenarios.items():
        sid = _local(iri, SCENARIO_BASE)
        scenario_map[sid] = Scenario(
            id=sid,
            iri=iri,
            label=labels.get(iri, sid),
            fit_class=scn["fit"],
            requirements=tuple(scn["reqs"]),
            rationale=scn["rationale"],
        )
    return Vocabulary(
        dimensions=dict(sorted(dimensions.items())), scenarios=dict(sorted(scenario_map.items()))
    )


def requirement_vocabulary(store: KnowledgeStore) -> list[Dimension]:
    """The requirement dimensions (with their values), sorted by name."""
    return list(load_vocabulary(store).dimensions.values())


def list_scenarios(store: KnowledgeStore) -> list[dict]:
    """Every scenario as a JSON-able dict (id, iri, label, fit_class, rationale, requirements)."""
    vocabulary = load_vocabulary(store)
    return [s.to_dict(vocabulary) for s in vocabulary.scenarios.values()]


# ------------------------------------------------------------------------------------------------
# request validation


@dataclass(frozen=True)
class Wanted:
    """One requested requirement: categorical (``bound`` is None) or numeric."""

    dimension: Dimension
    requirement: RequirementValue
    bound: Decimal | None = None

    def to_dict(self) -> dict:
        data = {
            "dimension": self.dimension.name,
            "value": _number(self.bound) if self.bound is not None else self.requirement.value,
            "requirement": self.requirement.iri,
            "label": self.requirement.label,
        }
        if self.bound is not None:
            data["unit"] = self.dimension.unit
        return data


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _parse_bound(dim: Dimension, raw: object) -> Decimal:
    problem = InvalidParameter(
        f"requirement {dim.name!r} must be a positive number ({dim.unit or 'no unit'}),"
        f" got {raw!r}",
        details={
            "name": dim.name,
            "value": repr(raw),
            "expected": "positive number",
            "unit": dim.unit,
        },
    )
    if isinstance(raw, bool) or not isinstance(raw, int | float | Decimal | str):
        raise problem
    try:
        bound = Decimal(str(raw).strip())
    except InvalidOperation:
        raise problem from None
    if not bound.is_finite() or bound <= 0 or (isinstance(raw, float) and math.isnan(raw)):
        raise problem
    return bound


def _categorical(dim: Dimension, raw: object) -> RequirementValue | None:
    allowed = [v.value for v in dim.values]
    text = raw
    if isinstance(raw, bool):
        text = "true" if raw else "false"
    if dim.is_boolean and isinstance(text, str) and text.strip().lower() == "false":
        return None  # false means "not required"
    if isinstance(text, str):
        wanted = text.strip().lower()
        for value in dim.values:
            if value.value is not None and value.value.lower() == wanted:
                return value
    shown = [*allowed, "false"] if dim.is_boolean else allowed
    raise UnknownRequirement(
        f"unknown value {raw!r} for requirement {dim.name!r}; allowed: {', '.join(shown)}",
        details={
            "name": dim.name,
            "value": repr(raw) if not isinstance(raw, str) else raw,
            "allowed": shown,
        },
    )


def parse_requirements(vocabulary: Vocabulary, requirements: Mapping[str, object]) -> list[Wanted]:
    """Check names and values against the vocabulary; return the requested requirements.

    A categorical dimension also takes a list of values (all are required); ``None`` or
    ``false`` (boolean dimensions) means "not required".
    """
    if not isinstance(requirements, Mapping):
        raise InvalidParameter(
            "requirements must be an object mapping names to values",
            details={"allowed": list(vocabulary.dimensions)},
        )
    wanted: list[Wanted] = []
    for name, raw in requirements.items():
        dim = vocabulary.dimensions.get(name) if isinstance(name, str) else None
        if dim is None:
            raise UnknownRequirement(
                f"unknown requirement {name!r}; allowed: {', '.join(vocabulary.dimensions)}",
                details={"name": str(name), "allowed": list(vocabulary.dimensions)},
            )
        if raw is None:
            continue
        if dim.kind == "numeric":
            if not dim.values:
                raise UnknownRequirement(f"dimension {name!r} has no requirement individual")
            wanted.append(Wanted(dim, dim.values[0], _parse_bound(dim, raw)))
            continue
        items = list(raw) if isinstance(raw, list | tuple) else [raw]
        for item in items:
            value = _categorical(dim, item)
            if value is not None and all(w.requirement != value for w in wanted):
                wanted.append(Wanted(dim, value))
    return wanted


# ------------------------------------------------------------------------------------------------
# results


@dataclass
class Fact:
    """One asserted fact of a technology with the sources of its axiom annotation(s)."""

    property: str
    value: Term
    value_label: str | None = None
    sources: dict[str, dict] = field(default_factory=dict)
    comments: list[str] = field(default_factory=list)
    measured_in: str | None = None
    evidence: str | None = None

    def number(self) -> Decimal | None:
        if not isinstance(self.value, Literal):
            return None
        try:
            number = Decimal(self.value.value)
        except InvalidOperation:
            return None
        return number if number.is_finite() else None

    def to_dict(self, property_labels: Mapping[str, str]) -> dict:
        if isinstance(self.value, NamedNode):
            value: dict = {
                "iri": self.value.value,
                "label": self.value_label or _local(self.value.value, VKG),
            }
        else:
            value = {"literal": self.value.value}
            if isinstance(self.value, Literal):
                value["datatype"] = self.value.datatype.value
                if self.value.language:
                    value["language"] = self.value.language
        data = {
            "property": {
                "iri": self.property,
                "label": property_labels.get(self.property, _local(self.property, VKG)),
            },
            "value": value,
            "sources": [
                dict(s) for s in sorted(self.sources.values(), key=lambda s: _source_order(s["id"]))
            ],
            "comment": "; ".join(self.comments) or None,
        }
        if self.measured_in:
            data["measured_in"] = self.measured_in
        if self.evidence:
            data["evidence"] = self.evidence
        return data


def _source_order(source_id: str) -> tuple[int, str]:
    digits = "".join(ch for ch in source_id if ch.isdigit())
    return (int(digits) if digits else 10**9, source_id)


def _source(iri: str, sources: Mapping[str, dict]) -> dict:
    """The JSON of a source (declared or not: an undeclared one still shows its IRI)."""
    known = sources.get(iri)
    if known is not None:
        return known
    return {"id": _local(iri, SOURCE_BASE), "iri": iri, "label": None, "url": None}


@dataclass
class RequirementResult:
    """How one technology fares on one requested requirement, with the facts behind it."""

    wanted: Wanted
    status: str  # met | unmet | unknown
    facts: list[Fact]
    largest: Decimal | None = None

    def to_dict(self, property_labels: Mapping[str, str]) -> dict:
        data = self.wanted.to_dict()
        data["status"] = self.status
        if self.wanted.bound is not None:
            data["largest_recorded"] = _number(self.largest) if self.largest is not None else None
        data["facts"] = [f.to_dict(property_labels) for f in self.facts]
        return data


@dataclass
class Caveat:
    """A caveat attached to a technology; ``relevant`` when its dimension was requested."""

    iri: str
    label: str | None
    text: str | None
    dimension: str | None  # apiName
    relevant: bool
    sources: list[dict]

    def to_dict(self) -> dict:
        return {
            "id": _local(self.iri, CAVEAT_BASE),
            "iri": self.iri,
            "label": self.label,
            "text": self.text,
            "dimension": self.dimension,
            "relevant": self.relevant,
            "sources": [dict(s) for s in self.sources],
        }


@dataclass
class TechnologyResult:
    """One ranked technology."""

    iri: str
    label: str
    kind_iri: str | None
    kind_label: str | None
    fits: bool
    requirements: list[RequirementResult]
    caveats: list[Caveat]
    startup_ms: Decimal | None
    memory_overhead_mib: Decimal | None
    rank: int = 0

    @property
    def id(self) -> str:
        return _local(self.iri, TECH_BASE)

    def count(self, status: str) -> int:
        return sum(1 for r in self.requirements if r.status == status)

    @property
    def score(self) -> float:
        if not self.requirements:
            return 1.0
        return self.count("met") / len(self.requirements)

    def to_dict(self, property_labels: Mapping[str, str]) -> dict:
        return {
            "rank": self.rank,
            "technology": {
                "id": self.id,
                "iri": self.iri,
                "label": self.label,
                "kind": {"iri": self.kind_iri, "label": self.kind_label},
            },
            "fits": self.fits,
            "score": round(self.score, 4),
            "met": self.count("met"),
            "unmet": self.count("unmet"),
            "unknown": self.count("unknown"),
            "startup_ms": _number(self.startup_ms) if self.startup_ms is not None else None,
            "memory_overhead_mib": (
                _number(self.memory_overhead_mib) if self.memory_overhead_mib is not None else None
            ),
            "requirements": [r.to_dict(property_labels) for r in self.requirements],
            "caveats": [c.to_dict() for c in self.caveats],
        }


def sort_key(result: TechnologyResult) -> tuple:
    """The documented ranking key (smaller sorts first)."""
    return (
        not result.fits,
        -result.score,
        result.count("unmet"),
        result.startup_ms is None,
        result.startup_ms if result.startup_ms is not None else Decimal(0),
        result.memory_overhead_mib is None,
        result.memory_overhead_mib if result.memory_overhead_mib is not None else Decimal(0),
        result.label.casefold(),
    )


@dataclass
class Recommendation:
    """A ranked list of technologies for a requirement set (and optionally a scenario)."""

    requirements: list[Wanted]
    results: list[TechnologyResult]
    scenario: Scenario | None = None
    vocabulary: Vocabulary | None = None
    property_labels: dict[str, str] = field(default_factory=dict)

    @property
    def fitting(self) -> list[TechnologyResult]:
        return [r for r in self.results if r.fits]

    def to_dict(self) -> dict:
        return {
            "scenario": self.scenario.to_dict(self.vocabulary) if self.scenario else None,
            "requirements": [w.to_dict() for w in self.requirements],
            "ranking": list(RANKING),
            "results": [r.to_dict(self.property_labels) for r in self.results],
        }


# ------------------------------------------------------------------------------------------------
# the computation


def _values(terms: Iterable[str]) -> str:
    """A VALUES body of IRIs taken from the graph (serialized by pyoxigraph).

    An empty set becomes owl:Nothing, which nothing satisfies or is typed with in a consistent KB
    (some engines, e.g. rdflib, fail on an empty VALUES block).
    """
    iris = sorted(set(terms)) or ["http://www.w3.org/2002/07/owl#Nothing"]
    return " ".join(str(NamedNode(iri)) for iri in iris)


def _rank(
    store: KnowledgeStore,
    vocabulary: Vocabulary,
    wanted: list[Wanted],
    scenario: Scenario | None = None,
) -> Recommendation:
    properties = {STARTUP_PROPERTY, MEMORY_PROPERTY}
    for w in wanted:
        properties.update(w.requirement.evidence_properties)
    labels = _Labels()

    # 1. facts of every technology for the relevant properties, their annotations, all sources
    facts: dict[str, dict[str, dict[Term, Fact]]] = {}
    annotations: list[dict[str, Term]] = []
    sources: dict[str, dict] = {}
    for row in _rows(store.query(FACTS_QUERY % {"properties": _values(properties)})):
        part = row["part"].value
        if part == "fact":
            tech, prop, value = row["s"].value, row["p"].value, row["o"]
            by_value = facts.setdefault(tech, {}).setdefault(prop, {})
            if value not in by_value:
                by_value[value] = Fact(prop, value)
            if isinstance(value, NamedNode):
                labels.add(value.value, row.get("label"))
        elif part == "annotation":
            annotations.append(row)
        elif part == "property":
            labels.add(row["p"].value, row.get("label"))
        elif part == "source":
            iri = row["src"].value
            labels.add(iri, row.get("label"))
            source = sources.setdefault(
                iri, {"id": _local(iri, SOURCE_BASE), "iri": iri, "label": None, "url": None}
            )
            source["url"] = source["url"] or _text(row.get("o"))
    for row in annotations:
        fact = facts.get(row["s"].value, {}).get(row["p"].value, {}).get(row["o"])
        if fact is None:
            continue  # an annotation whose target is not asserted (a check reports it)
        if "src" in row:
            fact.sources.setdefault(row["src"].value, _source(row["src"].value, sources))
        comment = _text(row.get("label"))
        if comment and comment not in fact.comments:
            fact.comments.append(comment)
        fact.measured_in = fact.measured_in or _text(row.get("x"))
        fact.evidence = fact.evidence or _text(row.get("y"))

    # 2. technologies: kind, inferred satisfaction, fit class membership, caveats
    query = TECHNOLOGIES_QUERY % {
        "data": DATA_GRAPH,
        "requirements": _values(w.requirement.iri for w in wanted if w.bound is None),
        "fit": _values([scenario.fit_class] if scenario and scenario.fit_class else []),
    }
    techs: dict[str, dict] = {}
    satisfied: set[tuple[str, str]] = set()
    fitting: set[str] = set()
    caveats: dict[str, dict[str, dict]] = {}
    caveat_sources: list[tuple[str, str]] = []
    for row in _rows(store.query(query)):
        part, subject = row["part"].value, row["s"].value
        if part == "technology":
            techs.setdefault(subject, {"kinds": set()})["kinds"].add(row["o"].value)
            labels.add(subject, row.get("label"))
            labels.add(row["o"].value, row.get("x"))
        elif part == "satisfies":
            satisfied.add((subject, row["o"].value))
        elif part == "fits":
            fitting.add(subject)
        elif part == "caveat":
            cav = caveats.setdefault(subject, {}).setdefault(
                row["o"].value, {"text": None, "dim": None, "sources": {}}
            )
            labels.add(row["o"].value, row.get("label"))
            cav["text"] = cav["text"] or _text(row.get("x"))
            cav["dim"] = cav["dim"] or _text(row.get("y"))
        elif part == "caveat-source":
            caveat_sources.append((subject, row["o"].value))
    for caveat, source in caveat_sources:
        for by_caveat in caveats.values():
            if caveat in by_caveat:
                by_caveat[caveat]["sources"].setdefault(source, _source(source, sources))

    for iri, source in sources.items():
        source["label"] = labels.get(iri, source["id"])
    dim_names = {d.iri: d.name for d in vocabulary.dimensions.values()}
    requested_dims = {w.dimension.name for w in wanted}
    results = []
    for tech, info in techs.items():
        tech_facts = facts.get(tech, {})
        reqs = []
        for w in wanted:
            shown = [
                f for p in w.requirement.evidence_properties for f in tech_facts.get(p, {}).values()
            ]
            if w.bound is not None:
                numbers = [n for f in shown if (n := f.number()) is not None]
                largest = max(numbers) if numbers else None
                status = "unknown"
                if largest is not None:
                    status = "met" if largest <= w.bound else "unmet"
                reqs.append(RequirementResult(w, status, shown, largest))
                continue
            if (tech, w.requirement.iri) in satisfied:
                status = "met"
            elif tech_facts.get(w.dimension.judged_by):
                status = "unmet"
            else:
                status = "unknown"
            reqs.append(RequirementResult(w, status, shown))
        tech_caveats = [
            Caveat(
                iri=iri,
                label=labels.get(iri),
                text=c["text"],
                dimension=dim_names.get(c["dim"]) if c["dim"] else None,
                relevant=bool(c["dim"]) and dim_names.get(c["dim"]) in requested_dims,
                sources=sorted(c["sources"].values(), key=lambda s: _source_order(s["id"])),
            )
            for iri, c in sorted(caveats.get(tech, {}).items())
        ]
        kind = sorted(info["kinds"])[0] if info["kinds"] else None
        # a scenario's fit is read from the reasoned graph; ad hoc it is "every requirement met"
        fits = all(r.status == "met" for r in reqs)
        if scenario is not None:
            fits = tech in fitting
        results.append(
            TechnologyResult(
                iri=tech,
                label=labels.get(tech, _local(tech, TECH_BASE)) or tech,
                kind_iri=kind,
                kind_label=labels.get(kind) if kind else None,
                fits=fits,
                requirements=reqs,
                caveats=sorted(tech_caveats, key=lambda c: (not c.relevant, c.iri)),
                startup_ms=_largest(tech_facts.get(STARTUP_PROPERTY, {}).values()),
                memory_overhead_mib=_largest(tech_facts.get(MEMORY_PROPERTY, {}).values()),
            )
        )
    results.sort(key=sort_key)
    for position, result in enumerate(results, start=1):
        result.rank = position
    for result in results:
        for req in result.requirements:
            for fact in req.facts:
                if isinstance(fact.value, NamedNode):
                    fact.value_label = labels.get(fact.value.value)
    property_labels = {d.judged_by: d.label for d in vocabulary.dimensions.values()}
    for prop in properties:
        property_labels[prop] = labels.get(prop, property_labels.get(prop)) or _local(prop, VKG)
    return Recommendation(
        requirements=wanted,
        results=results,
        scenario=scenario,
        vocabulary=vocabulary,
        property_labels=property_labels,
    )


def _largest(facts: Iterable[Fact]) -> Decimal | None:
    numbers = [n for f in facts if (n := f.number()) is not None]
    return max(numbers) if numbers else None


def recommend(
    store: KnowledgeStore,
    requirements: Mapping[str, object],
    *,
    vocabulary: Vocabulary | None = None,
) -> Recommendation:
    """Rank every technology for ad-hoc requirements ``{apiName: apiValue | number | bool}``.

    ``vocabulary`` (from :func:`load_vocabulary`, cached by the caller per KB state) saves a query.
    """
    vocabulary = vocabulary or load_vocabulary(store)
    return _rank(store, vocabulary, parse_requirements(vocabulary, requirements))


def recommend_for_scenario(
    store: KnowledgeStore, scenario_id: str, *, vocabulary: Vocabulary | None = None
) -> Recommendation:
    """Rank every technology for a scenario; ``fits`` is membership of the scenario's fit class."""
    vocabulary = vocabulary or load_vocabulary(store)
    scenario = vocabulary.scenarios.get(scenario_id) if isinstance(scenario_id, str) else None
    if scenario is None:
        raise NotFound(
            f"unknown scenario {scenario_id!r}; known: {', '.join(vocabulary.scenarios)}",
            details={"scenario": str(scenario_id), "allowed": list(vocabulary.scenarios)},
        )
    wanted = []
    for iri in scenario.requirements:
        found = vocabulary.requirement(iri)
        if found is not None:
            wanted.append(Wanted(found[0], found[1]))
    wanted.sort(key=lambda w: (w.dimension.name, w.requirement.value or ""))
    return _rank(store, vocabulary, wanted, scenario)
