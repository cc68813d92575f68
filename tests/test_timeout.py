"""The hard query timeout: a runaway query's worker process is killed, others are still served."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator

import pyoxigraph as ox
import pytest
import requests
from werkzeug.serving import make_server

from virtkg.config import load_settings
from virtkg.errors import QueryTimeout
from virtkg.http import create_app
from virtkg.store.base import DATA_GRAPH
from virtkg.store.embedded import EmbeddedStore

TIMEOUT = 1.0
#: 300^4 = 8.1e9 solutions: runs for minutes without a timeout.
SLOW = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"
LIGHT = "ASK { <http://example.org/s0> ?p ?o }"


@pytest.fixture(scope="module")
def live() -> Iterator[tuple[str, object]]:
    """A live server over 300 generated triples with a 1 s query timeout."""
    store = EmbeddedStore()
    graph = ox.NamedNode(DATA_GRAPH)
    store.engine.extend(
        ox.Quad(
            ox.NamedNode(f"http://example.org/s{i}"),
            ox.NamedNode("http://example.org/p"),
            ox.Literal(str(i)),
            graph,
        )
        for i in range(300)
    )
    app = create_app(load_settings(query_timeout=TIMEOUT), store=store)
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}/sparql", app.extensions["virtkg"].executor
    httpd.shutdown()
    app.extensions["virtkg"].executor.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_slow_query_is_stopped_and_its_worker_killed(live: tuple[str, object]) -> None:
    """503 query_timeout near the timeout; the worker that ran it no longer exists."""
    url, executor = live
    requests.get(url, params={"query": LIGHT}, timeout=10)  # start the pool
    before = set(executor.worker_pids())
    start = time.monotonic()
    response = requests.get(url, params={"query": SLOW}, timeout=30)
    elapsed = time.monotonic() - start
    assert response.status_code == 503
    assert "query_timeout" in response.text and "timeout" in response.text
    assert TIMEOUT * 0.9 <= elapsed < TIMEOUT + 2.0
    gone = before - set(executor.worker_pids())
    assert len(gone) == 1
    assert not any(_alive(pid) for pid in gone)
    assert len(executor.worker_pids()) == len(before)  # replaced
    # and the service still answers
    assert requests.get(url, params={"query": LIGHT}, timeout=10).status_code == 200


def test_light_query_is_served_while_a_slow_one_runs(live: tuple[str, object]) -> None:
    """A second client's light query is answered at once while the slow one burns its worker."""
    url, _ = live
    slow_result: dict[str, int] = {}

    def slow() -> None:
        slow_result["status"] = requests.get(url, params={"query": SLOW}, timeout=30).status_code

    thread = threading.Thread(target=slow)
    thread.start()
    time.sleep(0.2)
    latencies = []
    for _ in range(5):
        start = time.monotonic()
        response = requests.get(
            url, params={"query": LIGHT}, headers={"Accept": "text/csv"}, timeout=10
        )
        latencies.append(time.monotonic() - start)
        assert response.status_code == 200
    thread.join(timeout=TIMEOUT + 10)
    assert not thread.is_alive()
    assert slow_result["status"] == 503
    assert max(latencies) < 0.5, latencies


def test_timeouts_are_counted_in_metrics(live: tuple[str, object]) -> None:
    """/metrics reports the timeouts seen so far."""
    url, executor = live
    text = requests.get(url.replace("/sparql", "/metrics"), timeout=10).text
    assert f"virtkg_query_timeouts_total {executor.timeouts}" in text
    assert executor.timeouts >= 2


@pytest.mark.parametrize("workers", [0, 3])
def test_pool_size_comes_from_settings(workers: int) -> None:
    """``Settings.query_workers`` sizes the pool; 0 runs queries in-process (no hard timeout)."""
    from virtkg.http.executor import DirectExecutor, ForkedExecutor

    store = EmbeddedStore()
    store.engine.add(
        ox.Quad(ox.NamedNode("http://example.org/s0"), ox.NamedNode("http://example.org/p"),
                ox.Literal("0"), ox.NamedNode(DATA_GRAPH))
    )  # fmt: skip
    app = create_app(load_settings({}, query_workers=workers), store=store)
    executor = app.extensions["virtkg"].executor
    try:
        if workers == 0:
            assert isinstance(executor, DirectExecutor)
        else:
            assert isinstance(executor, ForkedExecutor)
            response = app.test_client().get("/sparql", query_string={"query": LIGHT})
            assert response.status_code == 200
            assert len(executor.worker_pids()) == workers
    finally:
        executor.close()


def test_large_results_and_errors_cross_the_worker_socket() -> None:
    """A result far larger than one socket read arrives whole; engine errors keep their type."""
    from virtkg.errors import QuerySyntaxError
    from virtkg.http.executor import ForkedExecutor

    store = EmbeddedStore()
    big = "x" * 300_000 + "é"
    store.engine.add(
        ox.Quad(ox.NamedNode("http://example.org/s"), ox.NamedNode("http://example.org/p"),
                ox.Literal(big), ox.NamedNode(DATA_GRAPH))
    )  # fmt: skip
    executor = ForkedExecutor(store, timeout=5.0, max_rows=0, size=1)
    try:
        outcome = executor.run("SELECT ?o WHERE { ?s ?p ?o }", "text/tab-separated-values", None)
        assert outcome.raw.media_type.startswith("text/tab-separated-values")
        assert outcome.raw.body.decode("utf-8").splitlines()[1] == f'"{big}"'
        assert not outcome.truncated
        with pytest.raises(QuerySyntaxError):
            executor.run("SELECT ?o WHERE {", "application/sparql-results+json", None)
        again = executor.run("ASK { ?s ?p ?o }", "application/sparql-results+json", None)
        assert b"true" in again.raw.body  # the same worker goes on answering
        assert executor.replaced == 0
    finally:
        executor.close()


def test_bound_parameters_reach_the_worker_and_a_slow_bound_query_is_stopped(
    live: tuple[str, object],
) -> None:
    """Saved-query bindings cross the process boundary intact and obey the same timeout."""
    _, executor = live
    bound = "SELECT ?s WHERE { ?s <http://example.org/p> ?o }"
    outcome = executor.run(
        bound, "application/sparql-results+json", None, bindings={"o": ox.Literal("7")}
    )
    assert b"http://example.org/s7" in outcome.raw.body
    assert b"http://example.org/s8" not in outcome.raw.body
    tagged = executor.run(
        bound,
        "application/sparql-results+json",
        None,
        bindings={"o": ox.Literal("7", language="en")},
    )
    assert b"http://example.org/s7" not in tagged.raw.body  # a different term: no match
    slow_bound = (
        SLOW.replace("?a ?b ?c", "?a ?b ?c . FILTER(?c != ?x)").replace(
            "SELECT (COUNT(*) AS ?n)", "SELECT ?x (COUNT(*) AS ?n)"
        )
        + " GROUP BY ?x"
    )
    with pytest.raises(QueryTimeout):
        executor.run(
            slow_bound, "application/sparql-results+json", None, bindings={"x": ox.Literal("0")}
        )
