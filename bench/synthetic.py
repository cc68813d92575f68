"""Deterministic synthetic knowledge bases shaped like virtkg's, for reasoning benchmarks.

TBox: a kind hierarchy (Technology > 3 families > 12 kinds, families disjoint), 12 categorical
fact properties with domain/range and value individuals (AllDifferent), a data property,
requirement GCIs ``[p value v] ⊑ [satisfies value r]`` (some "rank" style, some intersections on
the subclass side), 20 fit classes ``≡ Technology ⊓ satisfies value r1 ⊓ ...`` and 3 defined
kind classes ``≡ Kind ⊓ p value v``. No functional properties, no cardinalities.
ABox: technology individuals typed with one kind, with label, 1-2 values per property, a decimal,
and every third fact annotated with an ``owl:Axiom`` + ``dcterms:source`` (as in data/*.ttl).

``python bench/synthetic.py 100k out.nt`` writes N-Triples.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator
from pathlib import Path

from pyoxigraph import BlankNode, Literal, NamedNode, RdfFormat, Triple, serialize

NS = "http://example.org/syn#"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OWL = "http://www.w3.org/2002/07/owl#"
XSD = "http://www.w3.org/2001/XMLSchema#"
DCT = "http://purl.org/dc/terms/"

TYPE, FIRST, REST, NIL = (NamedNode(RDF + n) for n in ("type", "first", "rest", "nil"))
SCO = NamedNode(RDFS + "subClassOf")

N_FAMILIES, KINDS_PER_FAMILY, N_PROPS, VALUES_PER_PROP = 3, 4, 12, 6
N_FIT, N_INTERSECTION_GCIS, N_SOURCES = 20, 10, 30

SIZES = {"1k": 1_000, "10k": 10_000, "100k": 100_000, "1m": 1_000_000}


def n(name: str) -> NamedNode:
    return NamedNode(NS + name)


def o(name: str) -> NamedNode:
    return NamedNode(OWL + name)


def _list(items: list, out: list[Triple]) -> BlankNode:
    head = node = BlankNode()
    for i, item in enumerate(items):
        out.append(Triple(node, FIRST, item))
        nxt = BlankNode() if i + 1 < len(items) else NIL
        out.append(Triple(node, REST, nxt))
        node = nxt
    return head


def _hv(prop: NamedNode, value: NamedNode, out: list[Triple]) -> BlankNode:
    r = BlankNode()
    out += [
        Triple(r, TYPE, o("Restriction")),
        Triple(r, o("onProperty"), prop),
        Triple(r, o("hasValue"), value),
    ]
    return r


def tbox(rng: random.Random) -> list[Triple]:
    """The synthetic ontology."""
    t: list[Triple] = []
    tech = n("Technology")
    t.append(Triple(tech, TYPE, o("Class")))
    families = [n(f"Family{i}") for i in range(N_FAMILIES)]
    for f in families:
        t += [Triple(f, TYPE, o("Class")), Triple(f, SCO, tech)]
    adc = BlankNode()
    t += [Triple(adc, TYPE, o("AllDisjointClasses")), Triple(adc, o("members"), _list(families, t))]
    for i in range(N_FAMILIES * KINDS_PER_FAMILY):
        k = n(f"Kind{i}")
        t += [Triple(k, TYPE, o("Class")), Triple(k, SCO, families[i // KINDS_PER_FAMILY])]
    satisfies = n("satisfies")
    req_class = n("Requirement")
    t += [
        Triple(satisfies, TYPE, o("ObjectProperty")),
        Triple(satisfies, NamedNode(RDFS + "domain"), tech),
        Triple(satisfies, NamedNode(RDFS + "range"), req_class),
        Triple(req_class, TYPE, o("Class")),
    ]
    reqs = []
    for p in range(N_PROPS):
        prop, vclass = n(f"prop{p}"), n(f"Value{p}")
        t += [
            Triple(prop, TYPE, o("ObjectProperty")),
            Triple(prop, NamedNode(RDFS + "domain"), tech),
            Triple(prop, NamedNode(RDFS + "range"), vclass),
            Triple(vclass, TYPE, o("Class")),
        ]
        values = [n(f"v{p}_{j}") for j in range(VALUES_PER_PROP)]
        for v in values:
            t += [Triple(v, TYPE, o("NamedIndividual")), Triple(v, TYPE, vclass)]
        diff = BlankNode()
        t += [Triple(diff, TYPE, o("AllDifferent")), Triple(diff, o("members"), _list(values, t))]
        for j, v in enumerate(values):
            r = n(f"req{p}_{j}")
            reqs.append(r)
            t += [Triple(r, TYPE, o("NamedIndividual")), Triple(r, TYPE, req_class)]
            # rank style for the first three properties: value j satisfies every r <= j
            targets = range(j + 1) if p < 3 else [j]
            for k in targets:
                t.append(Triple(_hv(prop, v, t), SCO, _hv(satisfies, n(f"req{p}_{k}"), t)))
    for g in range(N_INTERSECTION_GCIS):
        p1, p2 = rng.sample(range(N_PROPS), 2)
        parts = [
            _hv(n(f"prop{p1}"), n(f"v{p1}_{rng.randrange(VALUES_PER_PROP)}"), t),
            _hv(n(f"prop{p2}"), n(f"v{p2}_{rng.randrange(VALUES_PER_PROP)}"), t),
        ]
        r = n(f"reqX{g}")
        reqs.append(r)
        t += [Triple(r, TYPE, o("NamedIndividual")), Triple(r, TYPE, req_class)]
        inter = BlankNode()
        t += [Triple(inter, TYPE, o("Class")), Triple(inter, o("intersectionOf"), _list(parts, t))]
        t.append(Triple(inter, SCO, _hv(satisfies, r, t)))
    for s in range(N_FIT):
        fit = n(f"Fit{s}")
        chosen = rng.sample(reqs, rng.randint(2, 4))
        inter = BlankNode()
        members = [tech] + [_hv(satisfies, r, t) for r in chosen]
        t += [
            Triple(fit, TYPE, o("Class")),
            Triple(fit, o("equivalentClass"), inter),
            Triple(inter, TYPE, o("Class")),
            Triple(inter, o("intersectionOf"), _list(members, t)),
        ]
    for d in range(3):
        defined = n(f"Defined{d}")
        inter = BlankNode()
        members = [n(f"Kind{d}"), _hv(n("prop0"), n(f"v0_{d}"), t)]
        t += [
            Triple(defined, TYPE, o("Class")),
            Triple(defined, o("equivalentClass"), inter),
            Triple(inter, o("intersectionOf"), _list(members, t)),
        ]
    startup = n("startupTimeMs")
    t += [
        Triple(startup, TYPE, o("DatatypeProperty")),
        Triple(startup, NamedNode(RDFS + "domain"), tech),
        Triple(startup, NamedNode(RDFS + "range"), NamedNode(XSD + "decimal")),
    ]
    return t


def abox(rng: random.Random, target: int) -> Iterator[Triple]:
    """Technology individuals until about ``target`` triples have been produced."""
    produced = 0
    i = 0
    label = NamedNode(RDFS + "label")
    source = NamedNode(DCT + "source")
    n_kinds = N_FAMILIES * KINDS_PER_FAMILY
    while produced < target:
        x = NamedNode(f"{NS}tech{i}")
        facts = [
            Triple(x, TYPE, n(f"Kind{rng.randrange(n_kinds)}")),
            Triple(x, label, Literal(f"Technology {i}", language="en")),
            Triple(
                x,
                n("startupTimeMs"),
                Literal(str(rng.randint(1, 60000)), datatype=NamedNode(XSD + "decimal")),
            ),
        ]
        for p in range(N_PROPS):
            if rng.random() < 0.8:
                count = 2 if rng.random() < 0.2 else 1
                for j in rng.sample(range(VALUES_PER_PROP), count):
                    facts.append(Triple(x, n(f"prop{p}"), n(f"v{p}_{j}")))
        out = list(facts)
        for k, fact in enumerate(facts):
            if k % 3 == 0:
                ax = BlankNode()
                out += [
                    Triple(ax, TYPE, o("Axiom")),
                    Triple(ax, o("annotatedSource"), fact.subject),
                    Triple(ax, o("annotatedProperty"), fact.predicate),
                    Triple(ax, o("annotatedTarget"), fact.object),
                    Triple(ax, source, n(f"S{rng.randrange(N_SOURCES)}")),
                ]
        produced += len(out)
        yield from out
        i += 1


def _size(size: int | str) -> int:
    """``1k``/``10k``/``100k``/``1m``, or a plain number of triples (``300000``)."""
    if isinstance(size, int):
        return size
    if size.lower() in SIZES:
        return SIZES[size.lower()]
    if size.isdigit():
        return int(size)
    raise SystemExit(f"size {size!r}: give a number of triples or one of {', '.join(SIZES)}")


def synthetic_kb(size: int | str, seed: int = 42) -> list[Triple]:
    """A synthetic KB of about ``size`` triples (an int or one of 1k, 10k, 100k, 1m)."""
    target = _size(size)
    rng = random.Random(seed)
    schema = tbox(rng)
    return schema + list(abox(rng, target - len(schema)))


def write_synthetic(path: str | Path, size: int | str, seed: int = 42) -> int:
    """Write the KB as N-Triples; return the number of triples."""
    triples = synthetic_kb(size, seed)
    serialize(triples, str(path), RdfFormat.N_TRIPLES)
    return len(triples)


if __name__ == "__main__":
    print(write_synthetic(sys.argv[2], sys.argv[1]), "triples written to", sys.argv[2])
