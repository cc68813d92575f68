"""Query speed: virtkg's EmbeddedStore (pyoxigraph) against an rdflib Graph on the same data.

Generates a deterministic synthetic graph, loads it into both, runs the same four queries and
prints the median milliseconds per engine and the ratio rdflib / virtkg.

    python bench/bench_query.py [--triples N] [--repeat R]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable

import rdflib
from pyoxigraph import Literal, NamedNode, Triple

from virtkg.store import DATA_GRAPH, EmbeddedStore, SelectResult

EX = "http://example.org/bench/"
XSD_INTEGER = "http://www.w3.org/2001/XMLSchema#integer"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
TRIPLES_PER_PERSON = 5
GROUPS = 50

QUERIES = {
    "lookup by subject": f"SELECT ?p ?o WHERE {{ <{EX}person/123> ?p ?o }}",
    "4-pattern join + FILTER": f"""PREFIX ex: <{EX}>
        SELECT ?a ?b WHERE {{
          ?a ex:knows ?b . ?a ex:age ?x . ?b ex:age ?y . ?b ex:memberOf <{EX}group/7>
          FILTER(?x > ?y + 30)
        }}""",
    "GROUP BY + COUNT": f"""PREFIX ex: <{EX}>
        SELECT ?g (COUNT(?p) AS ?n) WHERE {{ ?p ex:memberOf ?g }} GROUP BY ?g""",
    "OPTIONAL + ORDER BY + LIMIT": f"""PREFIX ex: <{EX}>
        SELECT ?p ?name ?friend WHERE {{
          ?p a ex:Person ; ex:name ?name
          OPTIONAL {{ ?p ex:knows ?friend . ?friend ex:age ?age FILTER(?age > 60) }}
        }} ORDER BY DESC(?name) LIMIT 10""",
}


def synthetic_rows(triples: int, seed: int = 42) -> list[tuple[str, str, str | int]]:
    """(subject, predicate, object) rows: people with a type, name, age, group and a friend."""
    rng = random.Random(seed)
    people = max(1, triples // TRIPLES_PER_PERSON)
    rows: list[tuple[str, str, str | int]] = []
    for i in range(people):
        person = f"{EX}person/{i}"
        rows += [
            (person, RDF_TYPE, f"{EX}Person"),
            (person, f"{EX}name", f"Person {i:07d}"),
            (person, f"{EX}age", rng.randint(18, 90)),
            (person, f"{EX}memberOf", f"{EX}group/{rng.randrange(GROUPS)}"),
            (person, f"{EX}knows", f"{EX}person/{rng.randrange(people)}"),
        ]
    return rows[:triples]


def _oxi_object(value: str | int) -> NamedNode | Literal:
    if isinstance(value, int):
        return Literal(str(value), datatype=NamedNode(XSD_INTEGER))
    return NamedNode(value) if value.startswith("http") else Literal(value)


def _rdflib_object(value: str | int) -> rdflib.term.Node:
    if isinstance(value, int):
        return rdflib.Literal(value)
    return rdflib.URIRef(value) if value.startswith("http") else rdflib.Literal(value)


def load_virtkg(rows: list[tuple[str, str, str | int]]) -> EmbeddedStore:
    store = EmbeddedStore()
    triples = (Triple(NamedNode(s), NamedNode(p), _oxi_object(o)) for s, p, o in rows)
    store.replace_graph(DATA_GRAPH, triples)
    return store


def load_rdflib(rows: list[tuple[str, str, str | int]]) -> rdflib.Graph:
    graph = rdflib.Graph()
    for s, p, o in rows:
        graph.add((rdflib.URIRef(s), rdflib.URIRef(p), _rdflib_object(o)))
    return graph


def median_ms(run: Callable[[], int], repeat: int) -> tuple[float, int]:
    """Median wall time of ``run`` in ms over ``repeat`` runs (after one warm-up), and its rows."""
    rows = run()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--triples", type=int, default=100_000, help="graph size (100000)")
    parser.add_argument("--repeat", type=int, default=20, help="runs per query for virtkg (20)")
    parser.add_argument(
        "--rdflib-repeat", type=int, default=3, help="runs per query for rdflib (3; it is slow)"
    )
    args = parser.parse_args()

    rows = synthetic_rows(args.triples)
    started = time.perf_counter()
    store = load_virtkg(rows)
    virtkg_load = time.perf_counter() - started
    started = time.perf_counter()
    graph = load_rdflib(rows)
    rdflib_load = time.perf_counter() - started
    print(f"{len(rows):,} triples; load: virtkg {virtkg_load:.2f} s, rdflib {rdflib_load:.2f} s")
    print(f"{'query':30} {'virtkg ms':>10} {'rdflib ms':>10} {'rdflib/virtkg':>14} {'rows':>6}")

    for name, sparql in QUERIES.items():

        def run_virtkg(sparql: str = sparql) -> int:
            result = store.query(sparql)
            return len(result.rows) if isinstance(result, SelectResult) else 0

        def run_rdflib(sparql: str = sparql) -> int:
            return len(list(graph.query(sparql)))

        ours, our_rows = median_ms(run_virtkg, args.repeat)
        theirs, their_rows = median_ms(run_rdflib, args.rdflib_repeat)
        rows_text = str(our_rows) if our_rows == their_rows else f"{our_rows}!={their_rows}"
        print(f"{name:30} {ours:10.2f} {theirs:10.1f} {theirs / ours:14.1f} {rows_text:>6}")
    store.close()


if __name__ == "__main__":
    main()
