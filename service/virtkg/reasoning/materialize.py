"""Forward-chaining OWL 2 RL materialization over a scratch in-memory pyoxigraph store.

The TBox is closed with the generic schema rules, then compiled into concrete SPARQL ``INSERT``s
(:func:`virtkg.reasoning.rules.compile_rules`), ordered so that the rules writing a predicate or
class run before those reading it (strongly connected components in topological order). Passes
over the rules run until a pass adds nothing. A rule's first run reads the whole graph; later runs
are semi-naive: they happen only if the rule's inputs got new triples since its last run, and each
branch joins the new triples of one atom with the whole graph for the others. Each run writes its
new triples to the default graph and to a graph of its own, never copied or cleared (the in-memory
store keeps removed quads until it is dropped); the inferred triples are the union of these
graphs. After the fixpoint the consistency
checks run; a violation raises :class:`~virtkg.errors.InconsistentKnowledgeBase`.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial

from pyoxigraph import BlankNode, DefaultGraph, NamedNode, Quad, Store, Triple, Variable

from virtkg.errors import InconsistentKnowledgeBase
from virtkg.reasoning.rules import (
    CHECKS,
    OWL,
    PREFIXES,
    RDF,
    RDFS,
    RUN_GRAPH_PREFIX,
    SCHEMA_PREDICATES,
    SCHEMA_RULES,
    SCHEMA_TYPES,
    SKOLEM_PREFIX,
    Key,
    Rule,
    compile_rules,
    merged_restrictions,
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
    """New triples (never already asserted), passes over the instance rules, wall seconds."""

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


def _keys(store: Store, graph: str, outputs: frozenset[Key] | None = None) -> set[Key]:
    """Keys (predicates, classes) of the triples in ``graph``, which a run of a rule with
    ``outputs`` wrote: read from the graph unless ``outputs`` names them exactly (one class, or
    one predicate other than rdf:type)."""
    if not store.contains_named_graph(NamedNode(graph)):
        return set()
    if outputs is not None:
        classes = [key for key in outputs if key[0] == "t"]
        predicates = [key for key in outputs if key[0] == "p"]
        one_class = len(classes) == 1 and predicates == [("p", _TYPE)]
        one_predicate = not classes and len(predicates) == 1 and predicates != [("p", _TYPE)]
        if one_class or one_predicate:
            return set(outputs)
    keys: set[Key] = set()
    for row in store.query(f"SELECT DISTINCT ?p WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}"):
        keys.add(("p", row[0].value))
    if not keys:
        return keys
    for row in store.query(f"SELECT DISTINCT ?c WHERE {{ GRAPH <{graph}> {{ ?s a ?c }} }}"):
        # ("t", "") stands for rdf:type triples whose object is a literal: no rule reads them.
        keys.add(("t", row[0].value if isinstance(row[0], NamedNode) else ""))
    return keys


class _Written:
    """The graphs the chainer wrote new triples to, in order, with the keys found in each."""

    def __init__(self) -> None:
        self.graphs: list[str] = []
        self.keys: list[set[Key]] = []
        self._by_key: dict[Key, list[int]] = defaultdict(list)
        self._named = 0

    def __len__(self) -> int:
        return len(self.graphs)

    def new_name(self) -> str:
        """A fresh graph name for the next run's new triples."""
        self._named += 1
        return f"{RUN_GRAPH_PREFIX}{self._named}"

    def record(self, store: Store, graph: str, outputs: frozenset[Key] | None = None) -> set[Key]:
        """Keep ``graph`` if the run that wrote it (with ``outputs``) added triples; return their
        keys."""
        keys = _keys(store, graph, outputs)
        if keys:
            for key in keys:
                self._by_key[key].append(len(self.graphs))
            self.graphs.append(graph)
            self.keys.append(keys)
        return keys

    def since(self, start: int, keys: frozenset[Key] | None) -> list[str]:
        """Graphs from position ``start`` on that hold triples with one of ``keys`` (None: any)."""
        if keys is None:
            return self.graphs[start:]
        found: set[int] = set()
        for key in keys:
            positions = self._by_key.get(key, [])
            found.update(positions[bisect_left(positions, start) :])
        return [self.graphs[i] for i in sorted(found)]


def _components(edges: list[list[int]]) -> list[list[int]]:
    """Strongly connected components of a graph given as adjacency lists (iterative Tarjan),
    each listed after every component it has an edge to."""
    index = [-1] * len(edges)
    low = [0] * len(edges)
    on_stack = [False] * len(edges)
    stack: list[int] = []
    components: list[list[int]] = []
    counter = 0
    for root in range(len(edges)):
        if index[root] != -1:
            continue
        work = [(root, 0)]
        while work:
            v, next_edge = work.pop()
            if next_edge == 0:
                index[v] = low[v] = counter
                counter += 1
                stack.append(v)
                on_stack[v] = True
            for j in range(next_edge, len(edges[v])):
                w = edges[v][j]
                if index[w] == -1:
                    work += [(v, j + 1), (w, 0)]
                    break
                if on_stack[w]:
                    low[v] = min(low[v], index[w])
            else:
                if low[v] == index[v]:
                    component = []
                    while not component or component[-1] != v:
                        component.append(stack.pop())
                        on_stack[component[-1]] = False
                    components.append(sorted(component))
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[v])
    return components


def order_rules(rules: list[Rule]) -> list[Rule]:
    """The rules with writers before readers: strongly connected components of the "writes a key
    that reads" graph in topological order, rules within one in their given order."""
    readers: dict[Key, set[int]] = defaultdict(set)
    read_all = {i for i, rule in enumerate(rules) if rule.inputs is None}
    for i, rule in enumerate(rules):
        for key in rule.inputs or ():
            readers[key].add(i)
    edges = []
    for rule in rules:
        if rule.outputs is None:
            edges.append(list(range(len(rules))))
        else:
            found = set(read_all).union(*(readers.get(key, ()) for key in rule.outputs))
            edges.append(sorted(found))
    return [rules[i] for component in reversed(_components(edges)) for i in component]


def _touches_schema(keys: set[Key]) -> bool:
    return any(
        (kind == "p" and iri in SCHEMA_PREDICATES) or (kind == "t" and iri in SCHEMA_TYPES)
        for kind, iri in keys
    )


def _close_schema(store: Store, disabled: Collection[str], written: _Written) -> int:
    """Run the schema rules until nothing is new; return the number of rule runs."""
    runs = 0
    while True:
        target = written.new_name()
        for rule in SCHEMA_RULES:
            if rule.name not in disabled:
                store.update(rule.sparql(target), prefixes=PREFIXES)
                runs += 1
        if not written.record(store, target):
            return runs


def _only_anonymous_memberships(keys: set[Key]) -> bool:
    """Whether a graph with these keys holds only memberships of skolemized classes (no output;
    most of what the chainer writes)."""
    return all(
        key == ("p", _TYPE) or (key[0] == "t" and key[1].startswith(SKOLEM_PREFIX)) for key in keys
    )


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
        "FILTER NOT EXISTS { GRAPH ?run { ?x a ?c } } "
        "FILTER(isIRI(?c) && !STRSTARTS(STR(?c), STR(owl:))) }",
        prefixes=PREFIXES,
        substitutions={Variable("x"): entity},
    )
    return sorted(short_name(row["c"]) for row in rows)


def check_consistency(
    store: Store,
    disabled: Collection[str] = (),
    limit: int = 20,
    merged: Mapping[str, str] | None = None,
) -> None:
    """Run the ``false``-headed rules; raise InconsistentKnowledgeBase listing the violations.

    ``merged``: the restrictions whose members are stored under another (default: as
    :func:`~virtkg.reasoning.rules.merged_restrictions` finds them).
    """
    violations: list[dict] = []
    if merged is None:
        merged = merged_restrictions(store, disabled)
    for check in CHECKS:
        if check.name in disabled:
            continue
        rows = [
            row
            for sparql in check.queries(store, merged)
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


def materialize(
    asserted: Iterable[Triple], *, disabled: Collection[str] = (), naive: bool = False
) -> MaterializeResult:
    """Infer the OWL 2 RL consequences of ``asserted`` that our ontology needs.

    Returns only triples that were not asserted, without blank nodes (inferences about anonymous
    restriction classes are intermediate), trivial ``x owl:sameAs x`` or ``rdf:type owl:Thing``.
    ``disabled`` names rules (e.g. ``"cax-sco"``) or checks to leave out (for tests).
    ``naive`` (the reference for tests) runs every rule on the whole graph in every pass, in
    compile order, without merging repeated restrictions or leaving out redundant rules.
    Raises InconsistentKnowledgeBase when a consistency check fails.
    """
    start = time.perf_counter()
    stats: dict[str, float] = {}
    store = Store()
    store.extend(_quads(asserted))
    stats["load"] = time.perf_counter() - start

    written = _Written()
    passes = runs = 0
    rules: list[Rule] = []
    last_run: list[int | None] = []  # per rule: len(written) when it last ran (None: never)
    merged: dict[str, str] = {}
    schema_dirty = True
    while True:
        if schema_dirty:
            t = time.perf_counter()
            runs += _close_schema(store, disabled, written)
            merged = {} if naive else merged_restrictions(store, disabled)
            rules = compile_rules(store, disabled, merged, all_rules=naive)
            if not naive:
                rules = order_rules(rules)
            last_run = [None] * len(rules)
            stats["schema"] = stats.get("schema", 0.0) + time.perf_counter() - t
            schema_dirty = False
        passes += 1
        before = len(written)
        for i, rule in enumerate(rules):
            seen = None if naive else last_run[i]
            target = written.new_name()
            # First run, or a rule without a semi-naive form (prp-trp) whose inputs changed: whole.
            if seen is None or (not rule.atoms and written.since(seen, rule.inputs)):
                sparql = rule.sparql(target)
            elif rule.atoms:
                sparql = rule.delta_sparql(partial(written.since, seen), target)
            else:
                sparql = None
            if sparql is None:
                continue
            last_run[i] = len(written)
            store.update(sparql, prefixes=PREFIXES)
            runs += 1
            if _touches_schema(written.record(store, target, rule.outputs)):
                schema_dirty = True
                break
        if len(written) == before:
            break
    stats["rules"] = time.perf_counter() - start - stats["load"] - stats["schema"]

    t = time.perf_counter()
    check_consistency(store, disabled, merged=merged)
    stats["checks"] = time.perf_counter() - t

    t = time.perf_counter()
    inferred = [
        q.triple
        for graph, keys in zip(written.graphs, written.keys, strict=True)
        if not _only_anonymous_memberships(keys)
        for q in store.quads_for_pattern(None, None, None, NamedNode(graph))
        if _is_output(q)
    ]
    stats["output"] = time.perf_counter() - t
    return MaterializeResult(
        inferred=inferred,
        rounds=passes,
        seconds=time.perf_counter() - start,
        rule_runs=runs,
        rules=len(rules),
        stats=stats,
    )
