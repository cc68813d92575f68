"""Forward-chaining OWL 2 RL materialization over a scratch in-memory pyoxigraph store.

The TBox is closed with the generic schema rules, then compiled into concrete SPARQL ``INSERT``s
(:func:`virtkg.reasoning.rules.compile_rules`). Rounds run until a round adds nothing; in each round
only the rules whose input predicates or classes changed in the previous round run again, reading
that round's new triples. Each round writes its new triples to the default graph and to a graph of
its own, which is never copied or cleared (the in-memory store keeps removed quads until it is
dropped); the inferred triples are the union of the round graphs. After the fixpoint the
consistency checks run; a violation raises :class:`~virtkg.errors.InconsistentKnowledgeBase`.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field

from pyoxigraph import BlankNode, DefaultGraph, NamedNode, Quad, Store, Triple, Variable

from virtkg.errors import InconsistentKnowledgeBase
from virtkg.reasoning.rules import (
    CHECKS,
    OWL,
    PREFIXES,
    RDF,
    RDFS,
    ROUND_GRAPH_PREFIX,
    SCHEMA_PREDICATES,
    SCHEMA_RULES,
    SCHEMA_TYPES,
    SKOLEM_PREFIX,
    Key,
    compile_rules,
)

_TYPE = RDF + "type"
_TRIVIAL_OBJECTS = {(_TYPE, OWL + "Thing"), (RDFS + "subClassOf", OWL + "Thing")}
_REFLEXIVE = {
    OWL + "sameAs",
    RDFS + "subClassOf",
    OWL + "equivalentClass",
    RDFS + "subPropertyOf",
    OWL + "equivalentProperty",
}

#: Prefixes used to name entities in error messages.
SHORT_PREFIXES = {
    "vkg": "https://w3id.org/virtkg/ontology#",
    "tech": "https://w3id.org/virtkg/technology/",
    "scn": "https://w3id.org/virtkg/scenario/",
    "fit": "https://w3id.org/virtkg/fit/",
    "src": "https://w3id.org/virtkg/source/",
    "cav": "https://w3id.org/virtkg/caveat/",
    **PREFIXES,
}


@dataclass
class MaterializeResult:
    """New triples (never already asserted), number of instance-rule rounds, wall seconds."""

    inferred: list[Triple]
    rounds: int
    seconds: float
    rule_runs: int = 0
    rules: int = 0
    stats: dict[str, float] = field(default_factory=dict)

    def __iter__(self) -> Iterator[Triple]:
        return iter(self.inferred)

    def __len__(self) -> int:
        return len(self.inferred)


def short_name(term: object) -> str:
    """``tech:foo`` for a known namespace, ``<iri>`` otherwise, ``[anonymous]`` for blank nodes."""
    value = getattr(term, "value", str(term))
    if isinstance(term, BlankNode) or value.startswith(SKOLEM_PREFIX):
        return "[anonymous class]"
    for prefix, ns in SHORT_PREFIXES.items():
        if value.startswith(ns) and value != ns:
            return f"{prefix}:{value[len(ns) :]}"
    return str(term)


def _skolem(term):
    return NamedNode(SKOLEM_PREFIX + term.value) if isinstance(term, BlankNode) else term


def _quads(asserted: Iterable[Triple]) -> Iterator[Quad]:
    graph = DefaultGraph()
    for t in asserted:
        s, o = t.subject, t.object
        if isinstance(s, BlankNode) or isinstance(o, BlankNode):
            yield Quad(_skolem(s), t.predicate, _skolem(o), graph)
        else:
            yield Quad(s, t.predicate, o, graph)


def _round_graph(number: int) -> str:
    return f"{ROUND_GRAPH_PREFIX}{number}"


def _keys(store: Store, graph: str) -> set[Key]:
    """Keys (predicates, classes) of the triples in ``graph`` (a round's new triples)."""
    keys: set[Key] = set()
    for row in store.query(f"SELECT DISTINCT ?p WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}"):
        keys.add(("p", row[0].value))
    if not keys:
        return keys
    for row in store.query(f"SELECT DISTINCT ?c WHERE {{ GRAPH <{graph}> {{ ?s a ?c }} }}"):
        if isinstance(row[0], NamedNode):
            keys.add(("t", row[0].value))
    return keys


def _touches_schema(keys: set[Key]) -> bool:
    return any(
        (kind == "p" and iri in SCHEMA_PREDICATES) or (kind == "t" and iri in SCHEMA_TYPES)
        for kind, iri in keys
    )


def _close_schema(store: Store, disabled: Collection[str], graphs: list[str]) -> int:
    """Run the schema rules until nothing is new; return the number of rule runs.

    Each round that adds triples appends its graph to ``graphs``.
    """
    runs = 0
    while True:
        target = _round_graph(len(graphs) + 1)
        for rule in SCHEMA_RULES:
            if rule.name not in disabled:
                store.update(rule.sparql(target), prefixes=PREFIXES)
                runs += 1
        if not _keys(store, target):
            return runs
        graphs.append(target)


def _is_output(q: Quad) -> bool:
    s, p, o = q.subject, q.predicate.value, q.object
    if not isinstance(s, NamedNode) or s.value.startswith(SKOLEM_PREFIX):
        return False
    if isinstance(o, NamedNode):
        if o.value.startswith(SKOLEM_PREFIX) or (p, o.value) in _TRIVIAL_OBJECTS:
            return False
        if p in _REFLEXIVE and o == s:
            return False
    return not isinstance(o, BlankNode)


def _asserted_types(store: Store, entity: NamedNode) -> list[str]:
    rows = store.query(
        "SELECT ?x ?c WHERE { ?x a ?c "
        "FILTER NOT EXISTS { GRAPH ?round { ?x a ?c } } "
        "FILTER(isIRI(?c) && !STRSTARTS(STR(?c), STR(owl:))) }",
        prefixes=PREFIXES,
        substitutions={Variable("x"): entity},
    )
    return sorted(short_name(row["c"]) for row in rows)


def check_consistency(store: Store, disabled: Collection[str] = (), limit: int = 20) -> None:
    """Run the ``false``-headed rules; raise InconsistentKnowledgeBase listing the violations."""
    violations: list[dict] = []
    for check in CHECKS:
        if check.name in disabled:
            continue
        rows = [
            row
            for sparql in check.queries(store)
            for row in store.query(sparql + f" LIMIT {int(limit)}", prefixes=PREFIXES)
        ]
        for row in rows:
            x, a, b = row["x"], row["a"], row["b"]
            names = {"x": short_name(x), "a": short_name(a), "b": short_name(b)}
            entry = {
                "rule": check.name,
                "entity": x.value,
                "terms": [a.value, b.value],
                "message": check.template.format(**names),
            }
            if isinstance(x, NamedNode) and not x.value.startswith(SKOLEM_PREFIX):
                entry["asserted_types"] = _asserted_types(store, x)
            violations.append(entry)
    if not violations:
        return
    parts = []
    for v in violations[:5]:
        text = f"{v['message']} [{v['rule']}]"
        if v.get("asserted_types"):
            text += f" (asserted types: {', '.join(v['asserted_types'])})"
        parts.append(text)
    more = f"; and {len(violations) - 5} more" if len(violations) > 5 else ""
    raise InconsistentKnowledgeBase(
        "inconsistent knowledge base: " + "; ".join(parts) + more,
        details={"violations": violations},
    )


def materialize(asserted: Iterable[Triple], *, disabled: Collection[str] = ()) -> MaterializeResult:
    """Infer the OWL 2 RL consequences of ``asserted`` that our ontology needs.

    Returns only triples that were not asserted, without blank nodes (inferences about anonymous
    restriction classes are intermediate), trivial ``x owl:sameAs x`` or ``rdf:type owl:Thing``.
    ``disabled`` names rules (e.g. ``"cax-sco"``) or checks to leave out (for tests).
    Raises InconsistentKnowledgeBase when a consistency check fails.
    """
    start = time.perf_counter()
    stats: dict[str, float] = {}
    store = Store()
    store.extend(_quads(asserted))
    stats["load"] = time.perf_counter() - start

    graphs: list[str] = []  # the round graphs that got new triples, in order
    rounds = runs = 0
    rules: list = []
    changed: set[Key] | None = None
    schema_dirty = True
    while True:
        if schema_dirty:
            t = time.perf_counter()
            runs += _close_schema(store, disabled, graphs)
            rules = compile_rules(store, disabled)
            stats["schema"] = stats.get("schema", 0.0) + time.perf_counter() - t
            changed, schema_dirty = None, False
        rounds += 1
        target = _round_graph(len(graphs) + 1)
        for rule in rules:
            if changed is None:
                sparql = rule.sparql(target)
            elif rule.inputs is None or rule.inputs & changed:
                sparql = rule.delta_sparql(changed, graphs[-1], target)
            else:
                continue
            store.update(sparql, prefixes=PREFIXES)
            runs += 1
        changed = _keys(store, target)
        if not changed:
            break
        graphs.append(target)
        schema_dirty = _touches_schema(changed)
    stats["rules"] = time.perf_counter() - start - stats["load"] - stats["schema"]

    t = time.perf_counter()
    check_consistency(store, disabled)
    stats["checks"] = time.perf_counter() - t

    t = time.perf_counter()
    inferred = [
        q.triple
        for graph in graphs
        for q in store.quads_for_pattern(None, None, None, NamedNode(graph))
        if _is_output(q)
    ]
    stats["output"] = time.perf_counter() - t
    return MaterializeResult(
        inferred=inferred,
        rounds=rounds,
        seconds=time.perf_counter() - start,
        rule_runs=runs,
        rules=len(rules),
        stats=stats,
    )
