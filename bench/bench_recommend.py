"""Benchmark recommendations in-process on the embedded store, against rdflib as a reference.

    python bench/bench_recommend.py [--repeat 200]

Loads the real knowledge base (asserted + reasoned graphs), then times ``recommend`` and
``recommend_for_scenario`` (median and 95th percentile per call). The reference runs the *same*
code against rdflib's SPARQL engine over the same quads (through a small adapter that converts
terms), checks that the rankings are identical, and prints the speed ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Mapping

import pyoxigraph as ox
import rdflib
from virtkg.config import load_settings
from virtkg.kb import load_knowledge_base
from virtkg.recommend import load_vocabulary, recommend, recommend_for_scenario
from virtkg.store import EmbeddedStore, SelectResult, open_store

CASES: list[tuple[str, Callable]] = [
    ("ad hoc: isolation+startup+gpu",
     lambda s, v: recommend(s, {"isolation": "hardware", "max_startup_ms": 200, "gpu": "any"},
                            vocabulary=v)),
    ("ad hoc: 6 requirements",
     lambda s, v: recommend(s, {"isolation": "user-space-kernel", "untrusted_multitenant": True,
                                "guest": "host-kernel", "host_arch": "x86_64",
                                "container_ecosystem": "oci", "max_memory_overhead_mib": 64},
                            vocabulary=v)),
    ("scenario: ci-untrusted-builds",
     lambda s, v: recommend_for_scenario(s, "ci-untrusted-builds", vocabulary=v)),
]


class RdflibStore:
    """Just enough of KnowledgeStore over an rdflib Dataset (union default graph)."""

    name = "rdflib"

    def __init__(self, quads: list[ox.Quad]) -> None:
        self.dataset = rdflib.Dataset(default_union=True)
        for q in quads:
            graph = self.dataset.graph(rdflib.URIRef(q.graph_name.value))
            graph.add((to_rdflib(q.subject), to_rdflib(q.predicate), to_rdflib(q.object)))

    def query(self, sparql: str, *, bindings: Mapping | None = None, dataset=None) -> SelectResult:
        init = {k: to_rdflib(v) for k, v in (bindings or {}).items()}
        result = self.dataset.query(sparql, initBindings=init)
        names = [str(v) for v in result.vars]
        rows = []
        for row in result:
            rows.append({n: to_ox(t) for n, t in zip(names, row, strict=True) if t is not None})
        return SelectResult(variables=names, rows=rows)


def to_rdflib(term):
    if isinstance(term, ox.NamedNode):
        return rdflib.URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return rdflib.BNode(term.value)
    if term.language:
        return rdflib.Literal(term.value, lang=term.language)
    return rdflib.Literal(term.value, datatype=rdflib.URIRef(term.datatype.value))


def to_ox(term):
    if isinstance(term, rdflib.URIRef):
        return ox.NamedNode(str(term))
    if isinstance(term, rdflib.BNode):
        return ox.BlankNode(str(term))
    if term.language:
        return ox.Literal(str(term), language=term.language)
    if term.datatype:
        return ox.Literal(str(term), datatype=ox.NamedNode(str(term.datatype)))
    return ox.Literal(str(term))


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Median and 95th percentile in ms."""
    fn()  # warm up
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def ranking(recommendation) -> list[tuple[str, bool, str]]:
    return [(r.id, r.fits, ",".join(q.status for q in r.requirements))
            for r in recommendation.results]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args(argv)
    settings = load_settings(cache_dir=tempfile.mkdtemp(prefix="virtkg-bench-"))
    store = open_store(settings)
    report = load_knowledge_base(store, settings)
    assert isinstance(store, EmbeddedStore)
    print(f"KB: {sum(report.triples.values())} triples ({report.inferred} inferred)")
    reference = RdflibStore(list(store.engine.quads_for_pattern(None, None, None, None)))
    vocabulary = load_vocabulary(store)
    ref_vocabulary = load_vocabulary(reference)
    rows = []
    for label, case in CASES:
        same = ranking(case(store, None)) == ranking(case(reference, None))
        full = timed(lambda case=case: case(store, None), args.repeat)
        cached = timed(lambda case=case: case(store, vocabulary), args.repeat)
        ref = timed(lambda case=case: case(reference, ref_vocabulary), max(5, args.repeat // 20))
        rows.append((label, full, cached, ref, same))
    print(f"{'case':34} {'oxigraph ms':>16} {'+cached vocab':>16} {'rdflib ms':>10} "
          f"{'ratio':>6} same")
    for label, full, cached, ref, same in rows:
        print(f"{label:34} {full[0]:7.2f} p95 {full[1]:5.2f} {cached[0]:7.2f} p95 {cached[1]:5.2f}"
              f" {ref[0]:10.1f} {ref[0] / cached[0]:5.0f}x {'yes' if same else 'NO'}")
    return 0 if all(r[4] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
