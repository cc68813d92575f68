"""Read-only views of the knowledge base: technologies, scenarios, their facts and sources.

These are the core lookups behind the REST API and the HTML pages; they need only a
:class:`~virtkg.store.base.KnowledgeStore` and never Flask.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pyoxigraph import NamedNode

from virtkg.errors import InvalidParameter, NotFound
from virtkg.facts import SourceSet, facts_of, value_json
from virtkg.store.base import SelectResult, Term

VKG = "https://w3id.org/virtkg/ontology#"
TECH = "https://w3id.org/virtkg/technology/"
SCENARIO = "https://w3id.org/virtkg/scenario/"

PREFIXES = """
PREFIX vkg: <https://w3id.org/virtkg/ontology#>
PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX owl: <http://www.w3.org/2002/07/owl#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX dcterms: <http://purl.org/dc/terms/>
"""

_LIST_TECHNOLOGIES = (
    PREFIXES
    + """
SELECT ?tech ?label ?kind ?kindLabel WHERE {
  ?tech a vkg:Technology ; rdfs:label ?label .
  FILTER(LANGMATCHES(LANG(?label), "en") || LANG(?label) = "")
  OPTIONAL {
    GRAPH <https://w3id.org/virtkg/graph/data> { ?tech a ?kind }
    FILTER(STRSTARTS(STR(?kind), STR(vkg:)))
    OPTIONAL { ?kind rdfs:label ?kindLabel }
  }
}
ORDER BY LCASE(STR(?label))
"""
)

_DESCRIBE = (
    PREFIXES
    + """
SELECT ?label ?comment ?definition ?seeAlso ?match WHERE {
  ?subject rdfs:label ?label .
  OPTIONAL { ?subject rdfs:comment ?comment }
  OPTIONAL { ?subject skos:definition ?definition }
  OPTIONAL { ?subject rdfs:seeAlso ?seeAlso }
  OPTIONAL { ?subject skos:exactMatch ?match }
}
"""
)

_CAVEATS = (
    PREFIXES
    + """
SELECT ?caveat ?label ?text ?dimension ?dimName ?src ?srcLabel ?srcUrl WHERE {
  ?caveat a vkg:Caveat ; vkg:appliesTo ?subject .
  OPTIONAL { ?caveat rdfs:label ?label }
  OPTIONAL { ?caveat vkg:caveatText ?text }
  OPTIONAL { ?caveat vkg:caveatDimension ?dimension OPTIONAL { ?dimension vkg:apiName ?dimName } }
  OPTIONAL {
    ?caveat dcterms:source ?src .
    OPTIONAL { ?src rdfs:label ?srcLabel }
    OPTIONAL { ?src rdfs:seeAlso ?srcUrl }
  }
}
"""
)

_FITS = (
    PREFIXES
    + """
SELECT ?scenario ?label WHERE {
  ?scenario a vkg:Scenario ; vkg:fitClass ?fit ; rdfs:label ?label .
  ?subject a ?fit .
}
ORDER BY ?scenario
"""
)

_LIST_SCENARIOS = (
    PREFIXES
    + """
SELECT ?scenario ?label ?definition ?requirement ?reqLabel ?apiValue ?dimName WHERE {
  ?scenario a vkg:Scenario ; rdfs:label ?label .
  OPTIONAL { ?scenario skos:definition ?definition }
  OPTIONAL {
    ?scenario vkg:requires ?requirement .
    OPTIONAL { ?requirement rdfs:label ?reqLabel }
    OPTIONAL { ?requirement vkg:apiValue ?apiValue }
    OPTIONAL { ?requirement vkg:inDimension/vkg:apiName ?dimName }
  }
}
ORDER BY ?scenario
"""
)

_RATIONALE = (
    PREFIXES
    + """
SELECT ?rationale ?fit ?src ?srcLabel ?srcUrl WHERE {
  ?subject vkg:rationale ?rationale .
  OPTIONAL { ?subject vkg:fitClass ?fit }
  OPTIONAL {
    ?axiom owl:annotatedSource ?subject ; owl:annotatedProperty vkg:rationale ;
           owl:annotatedTarget ?rationale ; dcterms:source ?src .
    OPTIONAL { ?src rdfs:label ?srcLabel }
    OPTIONAL { ?src rdfs:seeAlso ?srcUrl }
  }
}
"""
)

_FITTING = (
    PREFIXES
    + """
SELECT ?tech ?label WHERE {
  ?subject vkg:fitClass ?fit .
  ?tech a ?fit ; rdfs:label ?label .
}
ORDER BY LCASE(STR(?label))
"""
)


def local_id(iri: str, base: str) -> str:
    """The id of an IRI under ``base`` (``.../technology/gvisor`` -> ``gvisor``)."""
    return iri[len(base) :] if iri.startswith(base) else iri


def _value(term: Term | None) -> str | None:
    return None if term is None else term.value


def _select(store, sparql: str, **bindings: Term) -> SelectResult:  # noqa: ANN001
    result = store.query(sparql, bindings=bindings or None)
    assert isinstance(result, SelectResult)
    return result


def caveats_for(store, subject_iri: str) -> list[dict[str, Any]]:  # noqa: ANN001
    """Caveats that apply to a technology, with their sources."""
    caveats: dict[str, dict[str, Any]] = {}
    sources: dict[str, SourceSet] = {}
    for row in _select(store, _CAVEATS, subject=NamedNode(subject_iri)).rows:
        iri = row["caveat"].value
        caveat = caveats.setdefault(
            iri,
            {
                "iri": iri,
                "id": local_id(iri, "https://w3id.org/virtkg/caveat/"),
                "label": _value(row.get("label")),
                "text": _value(row.get("text")),
                "dimension": _value(row.get("dimName")),
                "sources": [],
            },
        )
        found = sources.setdefault(iri, SourceSet())
        if row.get("src") is not None:
            found.add(row["src"].value, row.get("srcLabel"), row.get("srcUrl"))
        caveat["sources"] = [s.to_dict() for s in found.ordered()]
    return list(caveats.values())


def list_technologies(store) -> list[dict[str, Any]]:  # noqa: ANN001
    """Every technology with its id, IRI, label and kind, ordered by label."""
    techs: dict[str, dict[str, Any]] = {}
    for row in _select(store, _LIST_TECHNOLOGIES).rows:
        iri = row["tech"].value
        tech = techs.setdefault(
            iri,
            {"id": local_id(iri, TECH), "iri": iri, "label": row["label"].value, "kind": None},
        )
        if tech["kind"] is None and row.get("kind") is not None:
            tech["kind"] = value_json(row["kind"], _value(row.get("kindLabel")))
    return list(techs.values())


def technology_ids(store) -> list[str]:  # noqa: ANN001
    """The ids of every technology."""
    return [t["id"] for t in list_technologies(store)]


def _require_technology(store, tech_id: str) -> dict[str, Any]:  # noqa: ANN001
    for tech in list_technologies(store):
        if tech["id"] == tech_id:
            return tech
    raise NotFound(f"no technology with id {tech_id!r}", details={"allowed": technology_ids(store)})


def technology_detail(store, tech_id: str) -> dict[str, Any]:  # noqa: ANN001
    """A technology with its description, sourced facts, caveats and fitting scenarios."""
    tech = _require_technology(store, tech_id)
    subject = NamedNode(tech["iri"])
    described = _select(store, _DESCRIBE, subject=subject).rows
    tech["comment"] = next((_value(r.get("comment")) for r in described if r.get("comment")), None)
    tech["see_also"] = sorted({r["seeAlso"].value for r in described if r.get("seeAlso")})
    tech["wikidata"] = sorted({r["match"].value for r in described if r.get("match")})
    tech["facts"] = [f.to_dict() for f in facts_of(store, tech["iri"])]
    tech["caveats"] = caveats_for(store, tech["iri"])
    tech["scenarios"] = [
        {"id": local_id(r["scenario"].value, SCENARIO), "label": r["label"].value}
        for r in _select(store, _FITS, subject=subject).rows
    ]
    return tech


def list_scenarios(store) -> list[dict[str, Any]]:  # noqa: ANN001
    """Every scenario with its requirements (as REST name/value pairs)."""
    scenarios: dict[str, dict[str, Any]] = {}
    for row in _select(store, _LIST_SCENARIOS).rows:
        iri = row["scenario"].value
        scenario = scenarios.setdefault(
            iri,
            {
                "id": local_id(iri, SCENARIO),
                "iri": iri,
                "label": row["label"].value,
                "description": _value(row.get("definition")),
                "requirements": {},
            },
        )
        if row.get("dimName") is not None and row.get("apiValue") is not None:
            scenario["requirements"][row["dimName"].value] = row["apiValue"].value
    return list(scenarios.values())


def scenario_detail(store, scenario_id: str) -> dict[str, Any]:  # noqa: ANN001
    """A scenario with its requirements, sourced rationale, fit class and fitting technologies."""
    scenarios = list_scenarios(store)
    scenario = next((s for s in scenarios if s["id"] == scenario_id), None)
    if scenario is None:
        raise NotFound(
            f"no scenario with id {scenario_id!r}",
            details={"allowed": [s["id"] for s in scenarios]},
        )
    subject = NamedNode(scenario["iri"])
    rows = _select(store, _RATIONALE, subject=subject).rows
    scenario["rationale"] = next((_value(r.get("rationale")) for r in rows), None)
    scenario["fit_class"] = next((_value(r.get("fit")) for r in rows if r.get("fit")), None)
    sources = SourceSet()
    for r in rows:
        if r.get("src") is not None:
            sources.add(r["src"].value, r.get("srcLabel"), r.get("srcUrl"))
    scenario["sources"] = [s.to_dict() for s in sources.ordered()]
    scenario["fitting"] = [
        {"id": local_id(r["tech"].value, TECH), "label": r["label"].value}
        for r in _select(store, _FITTING, subject=subject).rows
    ]
    return scenario


def compare(store, ids: Sequence[str]) -> dict[str, Any]:  # noqa: ANN001
    """Side-by-side facts of 2 to 6 technologies: one row per property, in each row the facts
    of every technology (as :meth:`~virtkg.facts.Fact.to_dict`, possibly none)."""
    given = [i.strip() for i in ids if i.strip()]
    unique = list(dict.fromkeys(given))
    if len(unique) < len(given):
        twice = sorted({i for i in given if given.count(i) > 1})
        raise InvalidParameter(
            f"compare ids must be distinct; given more than once: {', '.join(twice)}",
            details={"repeated": twice},
        )
    if not 2 <= len(unique) <= 6:
        raise InvalidParameter(
            f"compare needs 2 to 6 distinct technology ids, got {len(unique)}",
            details={"allowed": technology_ids(store)},
        )
    techs = [_require_technology(store, tech_id) for tech_id in unique]
    rows: dict[str, dict[str, Any]] = {}
    for tech in techs:
        for fact in facts_of(store, tech["iri"]):
            data = fact.to_dict()
            row = rows.setdefault(
                fact.property,
                {"property": data["property"], "values": {t["id"]: [] for t in techs}},
            )
            row["values"][tech["id"]].append(data)
    ordered = sorted(
        rows.values(), key=lambda r: (r["property"]["name"] != "type", r["property"]["name"])
    )
    return {"technologies": techs, "properties": ordered}
