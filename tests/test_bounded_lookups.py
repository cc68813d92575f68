"""Bounded lookups run in the serving thread; every other query still runs in a killable worker.

``guard.is_bounded_lookup`` accepts only queries the engine answers with one index scan anchored
on a constant (their cost is bounded by the data, never by a join or an aggregate), and the
forked executor runs those inline only while a scan of the whole store fits in the timeout.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyoxigraph as ox
import pytest

from virtkg.http import executor as executor_module
from virtkg.http.executor import ForkedExecutor
from virtkg.http.guard import analyze
from virtkg.store.base import DATA_GRAPH
from virtkg.store.embedded import EmbeddedStore

JSON = "application/sparql-results+json"
EX = "http://example.org/"

BOUNDED = [
    f"SELECT ?p ?o WHERE {{ <{EX}s1> ?p ?o }}",
    f"PREFIX ex: <{EX}> SELECT * {{ ex:s1 ?p ?o . }} LIMIT 10",
    f"PREFIX ex: <{EX}> SELECT DISTINCT ?s WHERE {{ ?s a ex:C }} ORDER BY ?s LIMIT 5 OFFSET 2",
    f"SELECT ?s WHERE {{ ?s <{EX}p> 'x'@en }} ORDER BY DESC(?s)",
    f'SELECT ?s WHERE {{ ?s <{EX}p> "1"^^<http://www.w3.org/2001/XMLSchema#int> }}',
    f"ASK {{ <{EX}s1> <{EX}p> 3 }}",
    f"ASK WHERE {{ <{EX}s1> <{EX}p> true }}",
    f"DESCRIBE <{EX}s1>",
    f"DESCRIBE <{EX}s1> <{EX}s2>",
    f"SELECT ?o FROM <{EX}g> FROM NAMED <{EX}h> WHERE {{ <{EX}s1> ?p ?o }}",
    f"SELECT ?o WHERE {{ _:b <{EX}p> <{EX}o> }}",
]
UNBOUNDED = [
    f"SELECT ?s ?o WHERE {{ ?s <{EX}p> ?o }}",  # a whole predicate: no constant subject/object
    "SELECT * WHERE { ?s ?p ?o }",
    f"SELECT ?o WHERE {{ <{EX}s1> <{EX}p>* ?o }}",  # property paths
    f"SELECT ?o WHERE {{ <{EX}s1> <{EX}p>/<{EX}q> ?o }}",
    f"SELECT ?o WHERE {{ <{EX}s1> ^<{EX}p> ?o }}",
    f"SELECT ?o WHERE {{ <{EX}s1> ?p ?o . ?o ?q ?r }}",  # joins
    f"SELECT ?o WHERE {{ <{EX}s1> ?p ?o ; ?q ?r }}",
    f"SELECT ?o WHERE {{ <{EX}s1> ?p ?o , ?r }}",
    f"SELECT (COUNT(*) AS ?n) WHERE {{ <{EX}s1> ?p ?o }}",  # expressions, aggregates
    f"SELECT ?o WHERE {{ <{EX}s1> ?p ?o FILTER(?o > 1) }}",
    f"SELECT ?o WHERE {{ <{EX}s1> ?p ?o }} VALUES ?o {{ 1 }}",
    f"SELECT ?o WHERE {{ <{EX}s1> ?p ?o }} GROUP BY ?o",
    f"SELECT ?o WHERE {{ <{EX}s1> ?p ?o }} ORDER BY STR(?o)",
    f"SELECT ?o WHERE {{ SERVICE <http://x/> {{ <{EX}s1> ?p ?o }} }}",
    f"SELECT ?o WHERE {{ GRAPH ?g {{ <{EX}s1> ?p ?o }} }}",
    "SELECT ?o WHERE { { SELECT ?o WHERE { ?s ?p ?o } } }",
    f"CONSTRUCT WHERE {{ <{EX}s1> ?p ?o }}",
    "DESCRIBE ?x WHERE { ?x ?p ?o }",
    f"SELECT ?o WHERE {{ <{EX}s1> ?p ?o }} LIMIT",  # malformed: the engine says why
    f"SELECT ?o WHERE {{ <{EX}s1> ?p ?o",
    f"INSERT DATA {{ <{EX}s1> <{EX}p> 1 }}",
]


@pytest.mark.parametrize("query", BOUNDED)
def test_bounded_shapes_are_recognised(query: str) -> None:
    assert analyze(query).bounded


@pytest.mark.parametrize("query", UNBOUNDED)
def test_anything_else_is_not_bounded(query: str) -> None:
    assert not analyze(query).bounded


def _store(subjects: int) -> EmbeddedStore:
    store = EmbeddedStore()
    graph = ox.NamedNode(DATA_GRAPH)
    store.engine.extend(
        ox.Quad(ox.NamedNode(f"{EX}s{i}"), ox.NamedNode(f"{EX}p"), ox.Literal(str(i)), graph)
        for i in range(subjects)
    )
    return store


@pytest.fixture
def executor() -> Iterator[ForkedExecutor]:
    pool = ForkedExecutor(_store(200), timeout=5.0, max_rows=1000, size=1)
    yield pool
    pool.close()


def test_a_bounded_lookup_runs_inline_with_the_same_answer(executor: ForkedExecutor) -> None:
    """Same bytes as from a worker; the inline counter moves, the worker is not asked."""
    query = f"SELECT ?p ?o WHERE {{ <{EX}s7> ?p ?o }}"
    from_worker = executor.run(query, JSON, None, bounded=False)
    assert executor.inline == 0
    inline = executor.run(query, JSON, None, bounded=True)
    assert executor.inline == 1
    assert inline.raw.body == from_worker.raw.body
    assert b'"7"' in inline.raw.body


def test_other_queries_still_go_to_a_worker(executor: ForkedExecutor) -> None:
    query = f"SELECT (COUNT(*) AS ?n) WHERE {{ ?s <{EX}p> ?o }}"
    outcome = executor.run(query, JSON, None, bounded=analyze(query).bounded)
    assert executor.inline == 0
    assert b'"200"' in outcome.raw.body


def test_no_inline_lookups_when_a_full_scan_would_not_fit_the_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The store's size decides: past the budget even bounded lookups go to a worker."""
    # 200 quads at 0.1 s each would take 20 s, more than the 5 s timeout
    monkeypatch.setattr(executor_module, "INLINE_SECONDS_PER_QUAD", 0.1)
    pool = ForkedExecutor(_store(200), timeout=5.0, max_rows=1000, size=1)
    try:
        outcome = pool.run(f"ASK {{ <{EX}s1> ?p ?o }}", JSON, None, bounded=True)
        assert pool.inline == 0
        assert b"true" in outcome.raw.body
    finally:
        pool.close()


def test_the_size_is_measured_again_after_a_write(
    executor: ForkedExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    query = f"ASK {{ <{EX}s1> ?p ?o }}"
    executor.run(query, JSON, None, bounded=True)
    assert executor.inline == 1
    # as if the write had grown the store past the budget: 200 quads x 0.1 s > 5 s
    monkeypatch.setattr(executor_module, "INLINE_SECONDS_PER_QUAD", 0.1)
    executor.write(lambda: None)
    executor.run(query, JSON, None, bounded=True)
    assert executor.inline == 1
