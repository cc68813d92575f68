"""OWL 2 RL rules as SPARQL, for the forward chainer in :mod:`virtkg.reasoning.materialize`.

Three kinds of rules:

* schema rules (``scm-*``): generic ``INSERT``s over the TBox, run first until nothing is new;
* instance rules: compiled from the closed TBox by :func:`compile_rules` into one concrete
  ``INSERT`` per axiom group, each tagged with the inputs (predicates, class memberships) it reads
  and the outputs it writes, so the chainer can order them producers first and re-run a rule only
  on the triples its inputs got since it last ran (semi-naive evaluation);
* consistency checks: ``SELECT``s listing the violations of the ``false``-headed rules.

Every ``INSERT`` writes its conclusion to the default graph (so later rules see it at once) and to
a graph of the rule run's own (so the chainer knows what each run added; later semi-naive runs read
those graphs as their delta). Only IRIs of TBox terms read from
the graph are written into the SPARQL text, always serialized by pyoxigraph (``str(NamedNode)``);
literal values (``owl:hasValue "x"``) are joined from the graph, never formatted in. Blank nodes are
skolemized to IRIs under :data:`SKOLEM_PREFIX` before reasoning, so every TBox term is an IRI.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from pyoxigraph import NamedNode, Store

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OWL = "http://www.w3.org/2002/07/owl#"

RUN_GRAPH_PREFIX = "urn:virtkg:reasoning:run:"
SKOLEM_PREFIX = "urn:virtkg:skolem:"

PREFIXES = {"rdf": RDF, "rdfs": RDFS, "owl": OWL}

#: Input key of a rule: ("p", predicate IRI) or ("t", class IRI for rdf:type).
Key = tuple[str, str]

#: Predicates and types that make up the TBox; a new triple using one forces a recompile.
SCHEMA_PREDICATES = (
    frozenset(RDFS + name for name in ("subClassOf", "subPropertyOf", "domain", "range"))
    | frozenset(
        OWL + name
        for name in (
            "equivalentClass",
            "equivalentProperty",
            "inverseOf",
            "onProperty",
            "hasValue",
            "someValuesFrom",
            "allValuesFrom",
            "intersectionOf",
            "unionOf",
        )
    )
    | {RDF + "first", RDF + "rest"}
)
SCHEMA_TYPES = frozenset({OWL + "TransitiveProperty", OWL + "SymmetricProperty"})


@dataclass(frozen=True)
class Atom:
    """A data pattern of a rule body, the keys it reads, the variables the rest of the rule uses
    and, if its class or predicate is a variable, the VALUES block binding it."""

    pattern: str
    keys: frozenset[Key]
    keep: frozenset[str]
    values: str = ""


@dataclass(frozen=True)
class Rule:
    """One SPARQL ``INSERT`` rule: ``head`` (triple patterns) if ``where`` holds.

    :meth:`sparql` reads the whole default graph. With ``atoms`` the rule also has a semi-naive
    form (:meth:`delta_sparql`). ``inputs`` are the keys the rule reads (None: any), ``outputs``
    the keys it may write (None: any); each atom carries the keys it reads.

    Every data atom is evaluated on its own (:func:`_scan`) and joined by hash: Oxigraph would
    otherwise join atoms sharing a variable by looking the next atom up once per solution, and a
    lookup walks every quad of the subject (hundreds here), ~20 us each; scanning an atom's class
    or predicate costs well under 1 us per quad (cls-int1 at 300k triples: 1.9 s -> 0.16 s).
    """

    name: str
    head: str
    where: str
    inputs: frozenset[Key] | None = None
    outputs: frozenset[Key] | None = None
    atoms: tuple[Atom, ...] = ()
    tbox: str = ""
    filters: str = ""
    guard: str = ""

    def sparql(self, target: str) -> str:
        """The full form: new conclusions go to the default graph and to graph ``target``."""
        return _insert(self.head, self.where, target, self.guard)

    def delta_sparql(
        self, delta: Callable[[frozenset[Key]], Sequence[str]], target: str
    ) -> str | None:
        """The semi-naive form: one branch per atom that ``delta`` (keys -> graphs of new triples
        with those keys) gives graphs for, that atom read from those graphs and the others from
        the default graph. None if no atom has new triples.
        """
        branches = []
        for atom in self.atoms:
            if graphs := delta(atom.keys):
                # The new triples are scanned whole (they are few) and filtered by the VALUES.
                names = " ".join(f"<{g}>" for g in graphs)
                new = _scan(
                    f"VALUES ?delta {{ {names} }} GRAPH ?delta {{ {atom.pattern} }}",
                    atom.keep | _variables(atom.values),
                )
                others = [
                    _scan(f"{a.values} {a.pattern}", a.keep) for a in self.atoms if a is not atom
                ]
                branches.append(f"{{ {new} {atom.values} {' '.join(others)} }}")
        if not branches:
            return None
        where = f"{self.tbox} {' UNION '.join(branches)} {self.filters}"
        return _insert(self.head, where, target, self.guard)


def _variables(text: str) -> frozenset[str]:
    return frozenset(re.findall(r"\?\w+", text))


def _scan(atom: str, keep: frozenset[str]) -> str:
    """``atom`` as a subquery: Oxigraph evaluates it once and hash-joins it with the rest.

    Only the variables in ``keep`` are projected, each solution once if that drops any (but
    ``?delta``): prp-dom reads each subject's triples, one per predicate, to type it once.
    """
    projection = " ".join(sorted(keep)) or "*"
    if _variables(atom) - keep <= {"?delta"}:
        return f"{{ SELECT {projection} WHERE {{ {atom} }} }}"
    return f"{{ SELECT DISTINCT {projection} WHERE {{ {atom} }} }}"


def _insert(head: str, where: str, target: str, guard: str = "") -> str:
    """An INSERT of ``head`` (if new) into the default graph and graph ``target``.

    "If new" is a MINUS (a hash anti-join in Oxigraph, ~15x faster here than FILTER NOT EXISTS).
    ``guard`` narrows what the MINUS side scans: TBox patterns that every solution of ``where``
    satisfies with the values it binds. MINUS compares the variables both sides share: the head's
    and the guard's, so the guard never changes what is removed. The solutions are not made
    DISTINCT first: inserting a quad twice is a no-op, and Oxigraph's DISTINCT cost more than the
    duplicates (0.23 s of 0.47 s for cls-hv2 at 300k triples).
    """
    return (
        f"INSERT {{ {head} GRAPH <{target}> {{ {head} }} }}\n"
        f"WHERE {{ {where} MINUS {{ {guard} {head} }} }}"
    )


_TYPE_ATOM = re.compile(r"^\?\w+ a <([^>]+)> \.$")
_PROPERTY_ATOM = re.compile(r"^\?\w+ <([^>]+)> \?\w+ \.$")


def _atom_key(atom: str) -> Key | None:
    """The key an atom (or a head) reads or writes, if it names its class or predicate."""
    if m := _TYPE_ATOM.match(atom):
        return ("t", m.group(1))
    if m := _PROPERTY_ATOM.match(atom):
        return ("p", m.group(1))
    return None


def make_rule(
    name: str,
    head: str,
    atoms: Sequence[str],
    inputs: Iterable[Key],
    tbox: str = "",
    filters: str = "",
    semi_naive: bool = True,
    guard: str = "",
    outputs: Iterable[Key] | None = None,
    values: str = "",
) -> Rule:
    """A rule whose body is ``tbox`` (schema patterns) + data ``atoms`` + ``filters``.

    An atom whose class or predicate is a variable reads all of ``inputs`` and is evaluated with
    ``values``, the VALUES block binding that variable. ``outputs`` defaults to the key of
    ``head`` (a single triple pattern naming its class or predicate).
    """
    inputs = frozenset(inputs)
    if outputs is None:
        key = _atom_key(head)
        outputs = [key] if key else None
    if outputs is not None:
        outputs = list(outputs)
        if any(kind == "t" for kind, _ in outputs):
            outputs.append(("p", RDF + "type"))
    parsed = []
    for i, pattern in enumerate(atoms):
        rest = " ".join([head, tbox, filters, *atoms[:i], *atoms[i + 1 :]])
        key = _atom_key(pattern)
        if key:
            parsed.append(Atom(pattern, frozenset([key]), _variables(pattern) & _variables(rest)))
        else:
            keep = _variables(f"{values} {pattern}") & _variables(rest)
            parsed.append(Atom(pattern, inputs, keep, values))
    where = f"{tbox} {' '.join(_scan(f'{a.values} {a.pattern}', a.keep) for a in parsed)} {filters}"
    keyed = tuple(parsed) if semi_naive else ()
    return Rule(
        name,
        head,
        where,
        inputs,
        None if outputs is None else frozenset(outputs),
        keyed,
        tbox,
        filters,
        guard,
    )


def _values(var: str, iris: Iterable[str]) -> str:
    return f"VALUES ?{var} {{ {' '.join(str(NamedNode(i)) for i in sorted(iris))} }}"


def _n(iri: str) -> str:
    return str(NamedNode(iri))


SCO, SPO, EQC, EQP = (
    "rdfs:subClassOf",
    "rdfs:subPropertyOf",
    "owl:equivalentClass",
    ("owl:equivalentProperty"),
)
MEMBER = "rdf:rest*/rdf:first"

#: Schema rules: generic over the TBox, run to a fixpoint before the instance rules are compiled.
SCHEMA_RULES: tuple[Rule, ...] = (
    Rule("scm-sco", "?a rdfs:subClassOf ?c .", f"?a {SCO} ?b . ?b {SCO} ?c . FILTER(?a != ?c)"),
    Rule(
        "scm-eqc1",
        "?a rdfs:subClassOf ?b .",
        f"{{ ?a {EQC} ?b }} UNION {{ ?b {EQC} ?a }} FILTER(?a != ?b)",
    ),
    Rule(
        "scm-eqc2", "?a owl:equivalentClass ?b .", f"?a {SCO} ?b . ?b {SCO} ?a . FILTER(?a != ?b)"
    ),
    Rule("scm-spo", "?a rdfs:subPropertyOf ?c .", f"?a {SPO} ?b . ?b {SPO} ?c . FILTER(?a != ?c)"),
    Rule(
        "scm-eqp1",
        "?a rdfs:subPropertyOf ?b .",
        f"{{ ?a {EQP} ?b }} UNION {{ ?b {EQP} ?a }} FILTER(?a != ?b)",
    ),
    Rule(
        "scm-eqp2",
        "?a owl:equivalentProperty ?b .",
        f"?a {SPO} ?b . ?b {SPO} ?a . FILTER(?a != ?b)",
    ),
    Rule("scm-dom1", "?p rdfs:domain ?c2 .", f"?p rdfs:domain ?c1 . ?c1 {SCO} ?c2 ."),
    Rule("scm-dom2", "?p1 rdfs:domain ?c .", f"?p2 rdfs:domain ?c . ?p1 {SPO} ?p2 ."),
    Rule("scm-rng1", "?p rdfs:range ?c2 .", f"?p rdfs:range ?c1 . ?c1 {SCO} ?c2 ."),
    Rule("scm-rng2", "?p1 rdfs:range ?c .", f"?p2 rdfs:range ?c . ?p1 {SPO} ?p2 ."),
    Rule(
        "scm-int",
        "?c rdfs:subClassOf ?m .",
        f"?c owl:intersectionOf ?l . ?l {MEMBER} ?m . FILTER(?c != ?m)",
    ),
    Rule(
        "scm-uni",
        "?m rdfs:subClassOf ?c .",
        f"?c owl:unionOf ?l . ?l {MEMBER} ?m . FILTER(?c != ?m)",
    ),
)


def _select(store: Store, sparql: str) -> list[tuple[str, ...]]:
    """Run a SELECT over the TBox and return rows of IRIs (rows with non-IRIs are skipped)."""
    rows = []
    for solution in store.query(sparql, prefixes=PREFIXES):
        values = [solution[i] for i in range(len(solution))]
        if all(isinstance(v, NamedNode) for v in values):
            rows.append(tuple(v.value for v in values))
    return rows


def _members(store: Store, predicate: str) -> dict[str, list[str]]:
    """Class -> member classes of its ``owl:intersectionOf`` / ``owl:unionOf`` list."""
    out: dict[str, list[str]] = defaultdict(list)
    for c, m in _select(store, f"SELECT ?c ?m WHERE {{ ?c {predicate} ?l . ?l {MEMBER} ?m }}"):
        out[c].append(m)
    return out


def merged_restrictions(store: Store, disabled: Collection[str] = ()) -> dict[str, str]:
    """Anonymous ``owl:hasValue`` restrictions -> the one of them that stands for all those on the
    same property and value.

    cls-hv1 and cls-hv2 make ``x`` a member of ``[p value v]`` exactly when ``x p v`` holds, so all
    such restrictions have the same members, and the instance rules and checks can read and write
    one of them for all: our ontologies repeat ``[satisfies value R]`` in every axiom, and this
    halves the memberships the chainer stores. Only skolemized restrictions with a single property
    and value are replaced, never named classes; nothing is merged if either rule is disabled.
    """
    if {"cls-hv1", "cls-hv2"} & set(disabled):
        return {}
    rows = store.query(
        "SELECT ?r (SAMPLE(?p) AS ?prop) (SAMPLE(?v) AS ?value) "
        "WHERE { ?r owl:hasValue ?v ; owl:onProperty ?p } GROUP BY ?r "
        "HAVING (COUNT(DISTINCT ?p) = 1 && COUNT(DISTINCT ?v) = 1)",
        prefixes=PREFIXES,
    )
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for row in rows:
        r, prop, value = row[0], row[1], row[2]
        if r.value.startswith(SKOLEM_PREFIX) and isinstance(prop, NamedNode):
            groups[(prop.value, str(value))].append(r.value)
    return {r: min(group) for group in groups.values() for r in group}


def compile_rules(
    store: Store,
    disabled: Collection[str] = (),
    merged: Mapping[str, str] | None = None,
    all_rules: bool = False,
) -> list[Rule]:
    """Read the (closed) TBox in ``store`` and generate the concrete instance rules.

    Classes in ``merged`` are replaced by their representative (default: as
    :func:`merged_restrictions` finds them). cls-int2 and cls-uni conclude nothing that cax-sco
    does not, given the ``c ⊑ member`` / ``member ⊑ c`` axioms of scm-int / scm-uni; they are
    compiled only if those rules are disabled, or with ``all_rules``.
    """
    thing = OWL + "Thing"
    rules: list[Rule] = []
    if merged is None:
        merged = merged_restrictions(store, disabled)
    if not all_rules:
        if not {"scm-int", "cax-sco"} & set(disabled):
            disabled = {*disabled, "cls-int2"}
        if not {"scm-uni", "cax-sco"} & set(disabled):
            disabled = {*disabled, "cls-uni"}

    def cls(iri: str) -> str:
        return merged.get(iri, iri)

    def add(name: str, head: str, atoms: Sequence[str], inputs: Iterable[Key], **kw) -> None:
        if name not in disabled:
            rules.append(make_rule(name, head, atoms, inputs, **kw))

    # prp-spo1 (and prp-eqp1/2 via scm-eqp1): grouped by super-property.
    supers: dict[str, set[str]] = defaultdict(set)
    for p1, p2 in _select(store, f"SELECT ?a ?b WHERE {{ ?a {SPO} ?b FILTER(?a != ?b) }}"):
        supers[p2].add(p1)
    for p2, subs in supers.items():
        add(
            "prp-spo1",
            f"?x {_n(p2)} ?y .",
            ["?x ?p ?y ."],
            (("p", p) for p in subs),
            values=_values("p", subs),
        )

    # prp-inv1/2, prp-symp, prp-trp.
    not_literal = "FILTER(!isLiteral(?y))"
    for p1, p2 in _select(store, "SELECT ?a ?b WHERE { ?a owl:inverseOf ?b }"):
        add(
            "prp-inv1", f"?y {_n(p2)} ?x .", [f"?x {_n(p1)} ?y ."], [("p", p1)], filters=not_literal
        )
        add(
            "prp-inv2", f"?y {_n(p1)} ?x .", [f"?x {_n(p2)} ?y ."], [("p", p2)], filters=not_literal
        )
    for (p,) in _select(store, "SELECT ?p WHERE { ?p a owl:SymmetricProperty }"):
        add("prp-symp", f"?y {_n(p)} ?x .", [f"?x {_n(p)} ?y ."], [("p", p)], filters=not_literal)
    for (p,) in _select(store, "SELECT ?p WHERE { ?p a owl:TransitiveProperty }"):
        # One pass of the property path gives the whole transitive closure.
        add(
            "prp-trp",
            f"?x {_n(p)} ?z .",
            [f"?x {_n(p)} ?y . ?y {_n(p)}+ ?z ."],
            [("p", p)],
            semi_naive=False,
        )

    # prp-dom / prp-rng: grouped by class.
    for rule, query, var, literal_filter in (
        ("prp-dom", "SELECT ?p ?c WHERE { ?p rdfs:domain ?c }", "x", ""),
        ("prp-rng", "SELECT ?p ?c WHERE { ?p rdfs:range ?c }", "y", not_literal),
    ):
        by_class: dict[str, set[str]] = defaultdict(set)
        for p, c in _select(store, query):
            if c != thing:
                by_class[cls(c)].add(p)
        for c, props in by_class.items():
            add(
                rule,
                f"?{var} a {_n(c)} .",
                ["?x ?p ?y ."],
                (("p", p) for p in props),
                filters=literal_filter,
                values=_values("p", props),
            )

    # cax-sco (and cax-eqc1/2 via scm-eqc1): grouped by superclass.
    subs_of: dict[str, set[str]] = defaultdict(set)
    for c, d in _select(store, f"SELECT ?c ?d WHERE {{ ?c {SCO} ?d FILTER(?c != ?d) }}"):
        if d != thing and cls(c) != cls(d):
            subs_of[cls(d)].add(cls(c))
    for d, subs in subs_of.items():
        add(
            "cax-sco",
            f"?x a {_n(d)} .",
            ["?x a ?c ."],
            (("t", c) for c in subs),
            values=_values("c", subs),
        )

    # cls-hv1 / cls-hv2: grouped by property; the value is joined from the graph.
    hv: dict[str, set[str]] = defaultdict(set)
    for r, p in _select(store, "SELECT ?r ?p WHERE { ?r owl:hasValue ?v ; owl:onProperty ?p }"):
        hv[p].add(cls(r))
    for p, restrictions in hv.items():
        tbox = f"{_values('r', restrictions)} ?r owl:hasValue ?v ."
        add(
            "cls-hv1",
            f"?x {_n(p)} ?v .",
            ["?x a ?r ."],
            (("t", r) for r in restrictions),
            tbox=tbox,
            guard=f"{{ SELECT DISTINCT ?v WHERE {{ {tbox} }} }}",
            values=_values("r", restrictions),
        )
        add(
            "cls-hv2",
            "?x a ?r .",
            [f"?x {_n(p)} ?v ."],
            [("p", p)],
            tbox=tbox,
            guard=_values("r", restrictions),
            outputs=(("t", r) for r in restrictions),
        )

    # cls-int1 / cls-int2 / cls-uni.
    for c, members in _members(store, "owl:intersectionOf").items():
        c, members = cls(c), list(dict.fromkeys(cls(m) for m in members if m != thing))
        if not members:
            continue
        add(
            "cls-int1",
            f"?x a {_n(c)} .",
            [f"?x a {_n(m)} ." for m in members],
            (("t", m) for m in members),
        )
        for m in members:
            add("cls-int2", f"?x a {_n(m)} .", [f"?x a {_n(c)} ."], [("t", c)])
    for c, members in _members(store, "owl:unionOf").items():
        c, members = cls(c), {cls(m) for m in members}
        add(
            "cls-uni",
            f"?x a {_n(c)} .",
            ["?x a ?m ."],
            (("t", m) for m in members),
            values=_values("m", members),
        )

    # cls-svf1 / cls-svf2 / cls-avf.
    for r, p, y in _select(
        store, "SELECT ?r ?p ?y WHERE { ?r owl:someValuesFrom ?y ; owl:onProperty ?p }"
    ):
        r, y = cls(r), cls(y)
        if y == thing:
            add("cls-svf2", f"?x a {_n(r)} .", [f"?x {_n(p)} ?v ."], [("p", p)])
        else:
            add(
                "cls-svf1",
                f"?x a {_n(r)} .",
                [f"?x {_n(p)} ?v .", f"?v a {_n(y)} ."],
                [("p", p), ("t", y)],
            )
    for r, p, y in _select(
        store, "SELECT ?r ?p ?y WHERE { ?r owl:allValuesFrom ?y ; owl:onProperty ?p }"
    ):
        r, y = cls(r), cls(y)
        if y != thing:
            add(
                "cls-avf",
                f"?v a {_n(y)} .",
                [f"?u a {_n(r)} .", f"?u {_n(p)} ?v ."],
                [("t", r), ("p", p)],
                filters="FILTER(!isLiteral(?v))",
            )
    return rules


@dataclass(frozen=True)
class Check:
    """A consistency check: a SELECT whose rows are violations of an OWL 2 RL ``false`` rule."""

    name: str
    sparql: str
    template: str  # formatted with the row's short names: x, a, b
    #: Optional TBox query for (?a ?b) pairs, bound into ``sparql`` as a VALUES block ({pairs}).
    pairs: str = ""

    def queries(self, store: Store, merged: Mapping[str, str] | None = None) -> list[str]:
        """The SELECT to run (none if the TBox has no pairs for it); classes in the pairs are
        replaced as in ``merged`` (:func:`merged_restrictions`)."""
        if not self.pairs:
            return [self.sparql]
        rows = _select(store, self.pairs)
        if not rows:
            return []
        merged = merged or {}
        values = " ".join(f"({_n(merged.get(a, a))} {_n(merged.get(b, b))})" for a, b in rows)
        return [self.sparql.replace("{pairs}", f"VALUES (?a ?b) {{ {values} }}")]


_SAME = "(owl:sameAs|^owl:sameAs)+"

CHECKS: tuple[Check, ...] = (
    # Disjoint pairs are read from the TBox first: joining per pair is ~8x faster at 100k triples.
    Check(
        "cax-dw",
        "SELECT ?x ?a ?b WHERE { {pairs} ?x a ?a . ?x a ?b . }",
        "{x} is both {a} and {b}, declared disjoint (owl:disjointWith)",
        pairs="SELECT DISTINCT ?a ?b WHERE { ?a owl:disjointWith ?b }",
    ),
    Check(
        "cax-adc",
        "SELECT ?x ?a ?b WHERE { {pairs} ?x a ?a . ?x a ?b . }",
        "{x} is both {a} and {b}, declared disjoint (owl:AllDisjointClasses)",
        pairs=f"SELECT DISTINCT ?a ?b WHERE {{ ?d a owl:AllDisjointClasses ; owl:members ?l . "
        f"?l {MEMBER} ?a . ?l {MEMBER} ?b . FILTER(STR(?a) < STR(?b)) }}",
    ),
    Check(
        "cls-com",
        "SELECT ?x ?a ?b WHERE { {pairs} ?x a ?a . ?x a ?b . }",
        "{x} is both {a} and its complement {b}",
        pairs="SELECT DISTINCT ?a ?b WHERE { ?a owl:complementOf ?b }",
    ),
    Check(
        "cls-nothing2",
        "SELECT ?x ?a ?b WHERE { ?x a owl:Nothing . BIND(owl:Nothing AS ?a) BIND(?a AS ?b) }",
        "{x} is a member of owl:Nothing",
    ),
    Check(
        "prp-irp",
        "SELECT ?x ?a ?b WHERE { ?a a owl:IrreflexiveProperty . ?x ?a ?x . BIND(?x AS ?b) }",
        "{x} {a} itself, but {a} is irreflexive",
    ),
    Check(
        "prp-asyp",
        "SELECT ?x ?a ?b WHERE { ?a a owl:AsymmetricProperty . ?x ?a ?b . ?b ?a ?x . }",
        "{x} {a} {b} and back, but {a} is asymmetric",
    ),
    Check(
        "prp-pdw",
        "SELECT ?x ?a ?b WHERE { ?a owl:propertyDisjointWith ?p2 . ?x ?a ?y . ?x ?p2 ?y . "
        "BIND(?p2 AS ?b) }",
        "{x} is linked to the same value by {a} and {b}, declared disjoint properties",
    ),
    Check(
        "prp-adp",
        f"SELECT DISTINCT ?x ?a ?b WHERE {{ ?d a owl:AllDisjointProperties ; owl:members ?l . "
        f"?l {MEMBER} ?a . ?l {MEMBER} ?b . FILTER(STR(?a) < STR(?b)) ?x ?a ?y . ?x ?b ?y . }}",
        "{x} is linked to the same value by {a} and {b}, declared disjoint properties",
    ),
    Check(
        "eq-diff1",
        f"SELECT ?x ?a ?b WHERE {{ ?a owl:differentFrom ?b . ?a {_SAME} ?b . BIND(?a AS ?x) }}",
        "{a} and {b} are declared different (owl:differentFrom) but inferred the same",
    ),
    Check(
        "eq-diff2",
        f"SELECT DISTINCT ?x ?a ?b WHERE {{ ?d a owl:AllDifferent ; "
        f"owl:members|owl:distinctMembers ?l . ?l {MEMBER} ?a . ?a {_SAME} ?b . "
        f"FILTER(?a != ?b) ?l {MEMBER} ?b . FILTER(STR(?a) < STR(?b)) BIND(?a AS ?x) }}",
        "{a} and {b} are declared different (owl:AllDifferent) but are the same",
    ),
)
