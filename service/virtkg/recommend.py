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
4. least mechanism: the lower isolation rank of its boundary (process and language sandbox 1,
   user-space kernel 2, hardware virtualization 3; none recorded last). Among technologies that
   meet the same requirements, the one with less isolation machinery has less overhead (Felter et
   al., S1) — ask for isolation explicitly when you want more;
5. smaller memory overhead (largest recorded value; without one last): per-instance figures are
   the most comparable across sources;
6. smaller startup time (largest recorded value; without one last): startup figures are measured
   under very different conditions, so they only order what is otherwise equal;
7. label, case-insensitively.

Everything is fetched in three SPARQL queries (vocabulary and scenarios; facts with their sources,
read by :func:`virtkg.facts.read_facts` as for every other view of facts; technologies with kinds,
inferred satisfaction, fit and caveats) into a :class:`KnowledgeSnapshot`
(:func:`load_snapshot`), a cache of those triples that a caller may keep while the knowledge base
does not change (the REST layer does); ranking a snapshot runs no query.
IRIs placed in VALUES blocks come from the graph, never from user input.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from pyoxigraph import Literal, NamedNode

from virtkg.errors import InvalidParameter, NotFound, UnknownRequirement
from virtkg.facts import Fact, Source, SourceSet, read_facts
from virtkg.store.base import DATA_GRAPH, KnowledgeStore, SelectResult, Term

VKG = "https://w3id.org/virtkg/ontology#"
TECH_BASE = "https://w3id.org/virtkg/technology/"
SCENARIO_BASE = "https://w3id.org/virtkg/scenario/"
CAVEAT_BASE = "https://w3id.org/virtkg/caveat/"
STARTUP_PROPERTY = VKG + "startupTimeMs"
MEMORY_PROPERTY = VKG + "memoryOverheadMiB"

#: The ranking key, in order, as documented (also returned in every recommendation).
RANKING = (
    "fits (all requirements met) first",
    "score = met / requirements, descending (unknown counts 0)",
    "fewer unmet requirements",
    "least mechanism: lower isolation rank (vkg:isolationRank of its boundary; none last)",
    "smaller memory overhead (largest recorded value; none recorded last)",
    "smaller startup time (largest recorded value; none recorded last)",
    "label",
)
#: Sorts a technology with no recorded isolation boundary after every ranked one.
_NO_RANK = 1_000

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
    OPTIONAL { ?o rdfs:label ?label }
    OPTIONAL { ?o rdfs:seeAlso ?x }
  } UNION {
    BIND("isolation" AS ?part)
    ?s vkg:isolationBoundary ?o .
    ?o vkg:isolationRank ?x .
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

#: Largest numeric bound accepted (10**15 ms is 31,000 years; 10**15 MiB is an exabyte).
MAX_BOUND = Decimal(10**15)
_MAX_BOUND_INT = 10**15
#: What may surround a requirement value given as text: JSON's whitespace (space, tab, line
#: feed, carriage return), and nothing else.
BLANK = " \t\n\r"
#: A numeric bound as text (a URL parameter, a JSON string): plain decimal notation in ASCII
#: digits with an optional "+", at most 64 characters. No exponent: text in that form is exactly
#: what the OpenAPI document can describe, and it never builds a huge number. A JSON number may
#: use any notation.
_NUMBER_TEXT = re.compile(r"\+?(?:[0-9]+\.?[0-9]*|\.[0-9]+)")
_MAX_NUMBER_TEXT = 64
_DECIMAL_TEXT = (
    "a positive decimal number of at most 64 characters, without exponent, such as 250 or 0.5"
)


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


def _shown(raw: object) -> str:
    """``repr(raw)`` for an error message, short (and safe for integers of any size)."""
    if isinstance(raw, int) and not isinstance(raw, bool) and abs(raw) > _MAX_BOUND_INT:
        return f"an integer of {len(format(abs(raw), 'x')) * 4} bits"  # str() could refuse it
    text = repr(raw)
    return text if len(text) <= 80 else text[:77] + "..."


def _parse_bound(dim: Dimension, raw: object) -> Decimal:
    """A numeric requirement: a positive finite number no larger than :data:`MAX_BOUND`.

    Text must be plain decimal notation of at most 64 characters (``BLANK`` around it is
    ignored). Absurd input (non-finite, above the maximum, longer, in exponent notation) is
    refused *before* any conversion, so ``1e999999999`` or a 5,000-digit integer never builds a
    huge number.
    """
    shown = _shown(raw)

    def problem(why: str = "a positive number") -> InvalidParameter:
        return InvalidParameter(
            f"requirement {dim.name!r} must be {why} ({dim.unit or 'no unit'}), got {shown}",
            details={"name": dim.name, "value": shown, "expected": why, "unit": dim.unit},
        )

    too_large = f"a positive number no larger than 10^{len(str(_MAX_BOUND_INT)) - 1}"
    if isinstance(raw, bool):
        raise problem()
    if isinstance(raw, int):
        if raw > _MAX_BOUND_INT:
            raise problem(too_large)
        bound = Decimal(raw)
    elif isinstance(raw, float):
        if not math.isfinite(raw):
            raise problem()
        if raw > _MAX_BOUND_INT:
            raise problem(too_large)
        bound = Decimal(repr(raw))
    elif isinstance(raw, Decimal):
        if not raw.is_finite():
            raise problem()
        if raw > MAX_BOUND:
            raise problem(too_large)
        bound = raw
    elif isinstance(raw, str):
        text = raw.strip(BLANK)
        if len(raw) > _MAX_NUMBER_TEXT or not _NUMBER_TEXT.fullmatch(text):
            raise problem(_DECIMAL_TEXT)
        bound = Decimal(text)
        if bound > MAX_BOUND:
            raise problem(too_large)
    else:
        raise problem()
    if bound <= 0:
        raise problem()
    return bound


def _folded(raw: object) -> str | None:
    """A categorical value as compared with the vocabulary: ``BLANK`` around it removed, ASCII
    letters in lower case (JSON booleans as "true"/"false"; None for anything else)."""
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if not isinstance(raw, str):
        return None
    text = raw.strip(BLANK)
    return text.lower() if text.isascii() else text


def _categorical(dim: Dimension, raw: object) -> RequirementValue | None:
    allowed = [v.value for v in dim.values]
    wanted = _folded(raw)
    if dim.is_boolean and wanted == "false":
        return None  # false means "not required"
    if wanted is not None:
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
# the snapshot: everything the ranking needs, read once per state of the knowledge base

#: Compact JSON exactly as the REST layer writes it (UTF-8 text, no spaces).
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _json_number(value: Decimal | None) -> str:
    return "null" if value is None else _encode(_number(value))


class Evidence:
    """The facts one technology shows for one requirement value, as read from the graph.

    ``judged`` is whether the technology has any value for the dimension's ``vkg:judgedBy``
    property, ``largest`` the largest recorded value (numeric requirements). ``facts_json`` is
    the serialized ``facts`` list, computed on first use and then kept with the snapshot.
    """

    __slots__ = ("facts", "judged", "largest", "_json")

    def __init__(
        self, facts: tuple[Fact, ...], judged: bool, largest: Decimal | None = None
    ) -> None:
        self.facts = facts
        self.judged = judged
        self.largest = largest
        self._json: str | None = None

    @property
    def facts_json(self) -> str:
        if self._json is None:
            self._json = _encode([f.to_dict() for f in self.facts])
        return self._json

    @property
    def largest_json(self) -> str:
        return _json_number(self.largest)


_NO_EVIDENCE = Evidence((), False)


@dataclass(frozen=True)
class CaveatEntry:
    """A caveat of a technology, with its JSON for both values of ``relevant``."""

    iri: str
    label: str | None
    text: str | None
    dimension: str | None  # apiName
    sources: tuple[Source, ...]
    json_relevant: str
    json_other: str


@dataclass(frozen=True)
class TechnologyEntry:
    """One technology of a snapshot: label, kind, headline figures, evidence, caveats."""

    iri: str
    label: str
    kind_iri: str | None
    kind_label: str | None
    startup_ms: Decimal | None
    memory_overhead_mib: Decimal | None
    evidence: Mapping[str, Evidence]  # requirement IRI -> Evidence
    caveats: tuple[CaveatEntry, ...]  # sorted by IRI
    fit_classes: frozenset[str]  # fit classes it is a member of (rdf:type in the reasoned graph)
    tiebreak: tuple  # ranking key items 4-6
    technology_json: str  # '"technology":{...}'
    figures_json: str  # '"startup_ms":...,"memory_overhead_mib":...'

    @property
    def id(self) -> str:
        return _local(self.iri, TECH_BASE)


@dataclass(frozen=True)
class KnowledgeSnapshot:
    """Everything the ranking needs, read from the reasoned graph in three SPARQL queries.

    A cache of triples, not of decisions: the vocabulary and scenarios; per technology its facts
    with their sources, the inferred ``vkg:satisfies`` triples, its fit-class memberships and its
    caveats. Build it with :func:`load_snapshot` and keep it as long as the knowledge base does not
    change (the REST layer keeps one per KB state and drops it after every SPARQL update).
    """

    vocabulary: Vocabulary
    technologies: tuple[TechnologyEntry, ...]
    satisfies: frozenset[tuple[str, str]]  # (technology IRI, requirement IRI)
    fit_members: Mapping[str, frozenset[str]]  # fit class IRI -> technology IRIs

    def technology(self, iri: str) -> TechnologyEntry | None:
        return next((t for t in self.technologies if t.iri == iri), None)


def _values(terms: Iterable[str]) -> str:
    """A VALUES body of IRIs taken from the graph (serialized by pyoxigraph).

    An empty set becomes owl:Nothing, which nothing satisfies or is typed with in a consistent KB
    (some engines, e.g. rdflib, fail on an empty VALUES block).
    """
    iris = sorted(set(terms)) or ["http://www.w3.org/2002/07/owl#Nothing"]
    return " ".join(str(NamedNode(iri)) for iri in iris)


def load_snapshot(
    store: KnowledgeStore,
    *,
    vocabulary: Vocabulary | None = None,
    only: Collection[str] | None = None,
) -> KnowledgeSnapshot:
    """Read a :class:`KnowledgeSnapshot` (three queries; two when ``vocabulary`` is given).

    ``only`` (requirement IRIs) keeps just what ranking for those requirements needs: a partial
    snapshot for a one-off call, to be used for nothing else.
    """
    vocabulary = vocabulary or load_vocabulary(store)
    dimensions = list(vocabulary.dimensions.values())
    requirement_values = [
        (d, v) for d in dimensions for v in d.values if only is None or v.iri in only
    ]
    labels = _Labels()

    # 1. facts of every technology with their sources, by property (each list in fact order)
    facts: dict[str, dict[str, list[Fact]]] = {}
    for tech, tech_facts in read_facts(store).items():
        by_property = facts[tech] = {}
        for fact in tech_facts:
            by_property.setdefault(fact.property, []).append(fact)

    # 2. technologies: kind, inferred satisfaction, fit class membership, caveats
    fit_classes = [
        s.fit_class
        for s in vocabulary.scenarios.values()
        if s.fit_class and (only is None or set(s.requirements) <= set(only))
    ]
    query = TECHNOLOGIES_QUERY % {
        "data": DATA_GRAPH,
        "requirements": _values(v.iri for d, v in requirement_values if d.kind != "numeric"),
        "fit": _values(fit_classes),
    }
    techs: dict[str, set[str]] = {}
    satisfied: set[tuple[str, str]] = set()
    fit_members: dict[str, set[str]] = {iri: set() for iri in fit_classes}
    caveats: dict[str, dict[str, dict]] = {}
    caveat_sources: dict[str, set[str]] = {}
    sources = SourceSet()
    isolation_rank: dict[str, int] = {}
    for row in _rows(store.query(query)):
        part, subject = row["part"].value, row["s"].value
        if part == "technology":
            techs.setdefault(subject, set()).add(row["o"].value)
            labels.add(subject, row.get("label"))
            labels.add(row["o"].value, row.get("x"))
        elif part == "satisfies":
            satisfied.add((subject, row["o"].value))
        elif part == "fits":
            fit_members.setdefault(row["o"].value, set()).add(subject)
        elif part == "caveat":
            cav = caveats.setdefault(subject, {}).setdefault(
                row["o"].value, {"text": None, "dim": None}
            )
            labels.add(row["o"].value, row.get("label"))
            cav["text"] = cav["text"] or _text(row.get("x"))
            cav["dim"] = cav["dim"] or _text(row.get("y"))
        elif part == "caveat-source":
            caveat_sources.setdefault(subject, set()).add(row["o"].value)
            sources.add(row["o"].value, row.get("label"), row.get("x"))
        elif part == "isolation":
            rank = int(row["x"].value)
            isolation_rank[subject] = max(rank, isolation_rank.get(subject, rank))

    # 3. labels are complete: serialize every fragment once
    dim_names = {d.iri: d.name for d in dimensions}
    entries = []
    for tech, kinds in techs.items():
        tech_facts = facts.get(tech, {})
        evidence: dict[str, Evidence] = {}
        for dim, value in requirement_values:
            shown = tuple(f for p in value.evidence_properties for f in tech_facts.get(p, ()))
            if dim.kind == "numeric":
                largest = _largest(shown)
                evidence[value.iri] = Evidence(shown, largest is not None, largest)
            else:
                judged = bool(tech_facts.get(dim.judged_by))
                evidence[value.iri] = Evidence(shown, judged)
        kind = sorted(kinds)[0] if kinds else None
        label = labels.get(tech, _local(tech, TECH_BASE)) or tech
        startup = _largest(tech_facts.get(STARTUP_PROPERTY, ()))
        memory = _largest(tech_facts.get(MEMORY_PROPERTY, ()))
        tech_caveats = []
        for iri, c in sorted(caveats.get(tech, {}).items()):
            dimension = dim_names.get(c["dim"]) if c["dim"] else None
            cav_sources = sources.ordered(caveat_sources.get(iri, ()))
            data = {
                "id": _local(iri, CAVEAT_BASE),
                "iri": iri,
                "label": labels.get(iri),
                "text": c["text"],
                "dimension": dimension,
                "relevant": False,
                "sources": [s.to_dict() for s in cav_sources],
            }
            other = _encode(data)
            data["relevant"] = True
            tech_caveats.append(
                CaveatEntry(
                    iri, labels.get(iri), c["text"], dimension, cav_sources, _encode(data), other
                )
            )
        technology = {
            "id": _local(tech, TECH_BASE),
            "iri": tech,
            "label": label,
            "kind": {"iri": kind, "label": labels.get(kind) if kind else None},
        }
        entries.append(
            TechnologyEntry(
                iri=tech,
                label=label,
                kind_iri=kind,
                kind_label=labels.get(kind) if kind else None,
                startup_ms=startup,
                memory_overhead_mib=memory,
                evidence=evidence,
                caveats=tuple(tech_caveats),
                fit_classes=frozenset(c for c, members in fit_members.items() if tech in members),
                tiebreak=(
                    isolation_rank.get(tech, _NO_RANK),
                    memory is None,
                    memory if memory is not None else Decimal(0),
                    startup is None,
                    startup if startup is not None else Decimal(0),
                    label.casefold(),
                ),
                technology_json='"technology":' + _encode(technology),
                figures_json=f'"startup_ms":{_json_number(startup)},'
                f'"memory_overhead_mib":{_json_number(memory)},'
                f'"isolation_rank":{json.dumps(isolation_rank.get(tech))}',
            )
        )
    # a stable order to start from: the ranking's own tie-break (so equal keys keep it)
    entries.sort(key=lambda e: (e.tiebreak, e.iri))
    return KnowledgeSnapshot(
        vocabulary=vocabulary,
        technologies=tuple(entries),
        satisfies=frozenset(satisfied),
        fit_members={k: frozenset(v) for k, v in fit_members.items()},
    )


def _largest(facts: Iterable[Fact]) -> Decimal | None:
    numbers = [n for f in facts if (n := f.number()) is not None]
    return max(numbers) if numbers else None


# ------------------------------------------------------------------------------------------------
# results

MET, UNMET, UNKNOWN = "met", "unmet", "unknown"


@dataclass(slots=True)
class RequirementResult:
    """How one technology fares on one requested requirement, with the facts behind it."""

    wanted: Wanted
    status: str  # met | unmet | unknown
    evidence: Evidence

    @property
    def facts(self) -> tuple[Fact, ...]:
        return self.evidence.facts

    @property
    def largest(self) -> Decimal | None:
        return self.evidence.largest

    def to_dict(self) -> dict:
        return json.loads(_requirement_json(_wanted_prefix(self.wanted), self))


@dataclass
class Caveat:
    """A caveat attached to a technology; ``relevant`` when its dimension was requested."""

    iri: str
    label: str | None
    text: str | None
    dimension: str | None  # apiName
    relevant: bool
    sources: list[Source]

    def to_dict(self) -> dict:
        return {
            "id": _local(self.iri, CAVEAT_BASE),
            "iri": self.iri,
            "label": self.label,
            "text": self.text,
            "dimension": self.dimension,
            "relevant": self.relevant,
            "sources": [s.to_dict() for s in self.sources],
        }


@dataclass(slots=True)
class TechnologyResult:
    """One ranked technology."""

    technology: TechnologyEntry
    fits: bool
    requirements: list[RequirementResult]
    met: int
    unmet: int
    requested: frozenset[str]  # requested dimension names (which caveats are relevant)
    rank: int = 0

    iri = property(lambda self: self.technology.iri)
    id = property(lambda self: self.technology.id)
    label = property(lambda self: self.technology.label)
    kind_iri = property(lambda self: self.technology.kind_iri)
    kind_label = property(lambda self: self.technology.kind_label)
    startup_ms = property(lambda self: self.technology.startup_ms)
    memory_overhead_mib = property(lambda self: self.technology.memory_overhead_mib)

    @property
    def unknown(self) -> int:
        return len(self.requirements) - self.met - self.unmet

    def count(self, status: str) -> int:
        return {MET: self.met, UNMET: self.unmet, UNKNOWN: self.unknown}.get(status, 0)

    @property
    def score(self) -> float:
        return self.met / len(self.requirements) if self.requirements else 1.0

    def _caveats(self) -> list[CaveatEntry]:
        """Relevant caveats (dimension requested) first, then the others; each by IRI."""
        found = self.technology.caveats
        if not found:
            return []
        relevant = [c for c in found if c.dimension in self.requested]
        return relevant + [c for c in found if c.dimension not in self.requested]

    @property
    def caveats(self) -> list[Caveat]:
        return [
            Caveat(c.iri, c.label, c.text, c.dimension, c.dimension in self.requested,
                   list(c.sources))
            for c in self._caveats()
        ]  # fmt: skip

    def to_dict(self) -> dict:
        return json.loads(self.to_json([_wanted_prefix(r.wanted) for r in self.requirements]))

    def to_json(self, prefixes: list[str]) -> str:
        """This result as JSON text; ``prefixes[i]`` is the opening of requirement i's object."""
        n = len(self.requirements)
        requirements = ",".join(
            _requirement_json(prefixes[i], self.requirements[i]) for i in range(n)
        )
        caveats = ",".join(
            c.json_relevant if c.dimension in self.requested else c.json_other
            for c in self._caveats()
        )
        tech = self.technology
        fits = "true" if self.fits else "false"
        return (
            f'{{"rank":{self.rank},{tech.technology_json},"fits":{fits},'
            f'"score":{round(self.score, 4)!r},"met":{self.met},"unmet":{self.unmet},'
            f'"unknown":{n - self.met - self.unmet},{tech.figures_json},'
            f'"requirements":[{requirements}],"caveats":[{caveats}]}}'
        )


def _wanted_prefix(wanted: Wanted) -> str:
    """``wanted.to_dict()`` as JSON without its closing brace."""
    return _encode(wanted.to_dict())[:-1]


def _requirement_json(prefix: str, result: RequirementResult) -> str:
    evidence = result.evidence
    if result.wanted.bound is not None:
        return (
            f'{prefix},"status":"{result.status}","largest_recorded":{evidence.largest_json},'
            f'"facts":{evidence.facts_json}}}'
        )
    return f'{prefix},"status":"{result.status}","facts":{evidence.facts_json}}}'


def sort_key(result: TechnologyResult) -> tuple:
    """The documented ranking key (smaller sorts first)."""
    return (not result.fits, -result.score, result.unmet, *result.technology.tiebreak)


_RANKING_JSON = _encode(list(RANKING))


@dataclass
class Recommendation:
    """A ranked list of technologies for a requirement set (and optionally a scenario)."""

    requirements: list[Wanted]
    results: list[TechnologyResult]
    scenario: Scenario | None = None
    vocabulary: Vocabulary | None = None

    @property
    def fitting(self) -> list[TechnologyResult]:
        return [r for r in self.results if r.fits]

    def to_json(self) -> str:
        """The JSON text of :meth:`to_dict`, assembled from the snapshot's serialized fragments."""
        prefixes = [_wanted_prefix(w) for w in self.requirements]
        scenario = _encode(self.scenario.to_dict(self.vocabulary)) if self.scenario else "null"
        wanted = ",".join(p + "}" for p in prefixes)
        results = ",".join(r.to_json(prefixes) for r in self.results)
        return (
            f'{{"scenario":{scenario},"requirements":[{wanted}],"ranking":{_RANKING_JSON},'
            f'"results":[{results}]}}'
        )

    def to_dict(self) -> dict:
        return json.loads(self.to_json())


# ------------------------------------------------------------------------------------------------
# the computation


def rank(
    snapshot: KnowledgeSnapshot, wanted: list[Wanted], scenario: Scenario | None = None
) -> Recommendation:
    """Rank every technology of ``snapshot`` for parsed requirements (no query).

    Categorical: met when the snapshot holds ``tech vkg:satisfies requirement``, unknown when
    the technology has no value for the dimension's judging property, unmet otherwise. Numeric:
    the largest recorded value against the bound. A scenario's ``fits`` is membership of its fit
    class; ad hoc it is "every requirement met".
    """
    requested = frozenset(w.dimension.name for w in wanted)
    iris = [w.requirement.iri for w in wanted]
    bounds = [w.bound for w in wanted]
    satisfies = snapshot.satisfies
    fit_class = scenario.fit_class if scenario is not None else None
    n = len(wanted)
    results = []
    for tech in snapshot.technologies:
        evidence = tech.evidence
        reqs = []
        met = unmet = 0
        for i in range(n):
            w, ev = wanted[i], evidence.get(iris[i], _NO_EVIDENCE)
            bound = bounds[i]
            if bound is None:
                if (tech.iri, iris[i]) in satisfies:
                    status = MET
                elif ev.judged:
                    status = UNMET
                else:
                    status = UNKNOWN
            elif ev.largest is None:
                status = UNKNOWN
            else:
                status = MET if ev.largest <= bound else UNMET
            if status == MET:
                met += 1
            elif status == UNMET:
                unmet += 1
            reqs.append(RequirementResult(w, status, ev))
        fits = met == n if scenario is None else fit_class in tech.fit_classes
        results.append(TechnologyResult(tech, fits, reqs, met, unmet, requested))
    results.sort(key=sort_key)
    for position, result in enumerate(results, start=1):
        result.rank = position
    return Recommendation(
        requirements=wanted,
        results=results,
        scenario=scenario,
        vocabulary=snapshot.vocabulary,
    )


def recommend(
    store: KnowledgeStore,
    requirements: Mapping[str, object],
    *,
    vocabulary: Vocabulary | None = None,
    snapshot: KnowledgeSnapshot | None = None,
) -> Recommendation:
    """Rank every technology for ad-hoc requirements ``{apiName: apiValue | number | bool}``.

    ``snapshot`` (from :func:`load_snapshot`, kept by the caller per KB state) saves every query;
    without it one is read from ``store`` (``vocabulary``, if given, saves one of the three).
    """
    if snapshot is not None:
        return rank(snapshot, parse_requirements(snapshot.vocabulary, requirements))
    vocabulary = vocabulary or load_vocabulary(store)
    wanted = parse_requirements(vocabulary, requirements)
    only = {w.requirement.iri for w in wanted}
    return rank(load_snapshot(store, vocabulary=vocabulary, only=only), wanted)


def scenario_requirements(vocabulary: Vocabulary, scenario_id: object) -> tuple[Scenario, list]:
    """A scenario and its requirements as :class:`Wanted` (``NotFound`` for an unknown id)."""
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
    return scenario, wanted


def recommend_for_scenario(
    store: KnowledgeStore,
    scenario_id: str,
    *,
    vocabulary: Vocabulary | None = None,
    snapshot: KnowledgeSnapshot | None = None,
) -> Recommendation:
    """Rank every technology for a scenario; ``fits`` is membership of the scenario's fit class."""
    if snapshot is not None:
        scenario, wanted = scenario_requirements(snapshot.vocabulary, scenario_id)
        return rank(snapshot, wanted, scenario)
    vocabulary = vocabulary or load_vocabulary(store)
    scenario, wanted = scenario_requirements(vocabulary, scenario_id)
    only = {w.requirement.iri for w in wanted}
    return rank(load_snapshot(store, vocabulary=vocabulary, only=only), wanted, scenario)
