"""Operations endpoints and hooks: health, readiness, metrics, access log, CORS, error mapping."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator

import pyoxigraph as ox
import pytest
from flask import Flask

from virtkg import errors
from virtkg.config import load_settings
from virtkg.http import create_app, ops
from virtkg.http.errors import STATUS, status_for
from virtkg.store.base import DATA_GRAPH
from virtkg.store.embedded import EmbeddedStore


def _store() -> EmbeddedStore:
    store = EmbeddedStore()
    store.engine.add(
        ox.Quad(
            ox.NamedNode("http://example.org/s"),
            ox.NamedNode("http://example.org/p"),
            ox.Literal("o"),
            ox.NamedNode(DATA_GRAPH),
        )
    )
    return store


@pytest.fixture()
def app() -> Iterator[Flask]:
    settings = load_settings(cors_origins=("https://ui.example",))
    application = create_app(settings, store=_store())
    yield application
    application.extensions["virtkg"].executor.close()


def test_healthz(app: Flask) -> None:
    r = app.test_client().get("/healthz")
    assert r.status_code == 200 and r.json == {"status": "ok"}


def test_readyz_ready(app: Flask) -> None:
    r = app.test_client().get("/readyz")
    assert r.status_code == 200 and r.json["status"] == "ready"


def test_readyz_not_loaded(app: Flask) -> None:
    state = app.extensions["virtkg"]
    state.ready, state.load_error = False, "inconsistent_knowledge_base: x and y"
    client = app.test_client()
    r = client.get("/readyz")
    assert r.status_code == 503 and "inconsistent" in r.json["reason"]
    r = client.get("/sparql", query_string={"query": "ASK {}"})
    assert r.status_code == 503 and "store_unavailable" in r.text


def test_readyz_store_gone(app: Flask) -> None:
    app.extensions["virtkg"].store.close()
    assert app.test_client().get("/readyz").status_code == 503


def test_metrics_counts_and_histogram(app: Flask) -> None:
    client = app.test_client()
    client.get("/sparql", query_string={"query": "ASK {}"})
    client.get("/sparql", query_string={"query": "ASK {"})
    client.get("/sparql", query_string={"query": "ASK { <http://example.org/s0> ?p ?o }"})
    client.get("/nowhere")
    text = client.get("/metrics").text
    assert 'virtkg_http_requests_total{endpoint="/sparql",method="GET",status="200"} 2' in text
    assert 'virtkg_http_requests_total{endpoint="/sparql",method="GET",status="400"} 1' in text
    assert 'virtkg_http_requests_total{endpoint="unmatched",method="GET",status="404"} 1' in text
    assert 'virtkg_http_request_duration_seconds_bucket{endpoint="/sparql",le="+Inf"} 3' in text
    assert 'virtkg_http_request_duration_seconds_count{endpoint="/sparql"} 3' in text
    assert "virtkg_query_timeouts_total 0" in text
    assert "virtkg_queries_inline_total 1" in text  # the lookup; ASK {} ran in a worker
    assert "# TYPE virtkg_http_request_duration_seconds histogram" in text


def test_access_log_is_json(app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="virtkg.access"):
        app.test_client().get("/sparql", query_string={"query": "ASK {"})
        app.test_client().get("/healthz", headers={"User-Agent": 'quote " and \\ backslash'})
        ops.ACCESS_LOG.flush()  # lines are written in batches by a background thread
    records = [r for r in caplog.records if r.name == "virtkg.access"]
    lines = [json.loads(line) for r in records for line in r.getMessage().splitlines()]
    sparql, health = lines[-2:]
    assert sparql["status"] == 400 and sparql["path"] == "/sparql"
    assert sparql["endpoint"] == "/sparql" and sparql["method"] == "GET"
    assert sparql["error"] == "malformed_query" and sparql["duration_ms"] >= 0
    assert health["status"] == 200 and health["path"] == "/healthz" and health["error"] is None
    assert health["user_agent"] == 'quote " and \\ backslash'


def test_access_log_lines_are_written_by_the_background_thread(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    """Without an explicit flush a line still arrives, within a few flush periods."""
    with caplog.at_level(logging.INFO, logger="virtkg.access"):
        app.test_client().get("/healthz", headers={"User-Agent": "background-flush-test"})
        deadline = time.monotonic() + 20 * ops.AccessLog.FLUSH_SECONDS
        while time.monotonic() < deadline:
            if any("background-flush-test" in r.getMessage() for r in caplog.records):
                break
            time.sleep(ops.AccessLog.FLUSH_SECONDS / 4)
    assert any("background-flush-test" in r.getMessage() for r in caplog.records)


def test_cors_allowed_origin(app: Flask) -> None:
    r = app.test_client().get("/healthz", headers={"Origin": "https://ui.example"})
    assert r.headers["Access-Control-Allow-Origin"] == "https://ui.example"
    assert "Origin" in r.headers["Vary"]
    assert "X-Virtkg-Truncated" in r.headers["Access-Control-Expose-Headers"]


def test_cors_other_origin_gets_nothing(app: Flask) -> None:
    r = app.test_client().get("/healthz", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in r.headers


def test_cors_preflight(app: Flask) -> None:
    r = app.test_client().options(
        "/sparql",
        headers={
            "Origin": "https://ui.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert r.status_code == 204
    assert r.headers["Access-Control-Allow-Origin"] == "https://ui.example"
    assert "POST" in r.headers["Access-Control-Allow-Methods"]
    assert "Authorization" in r.headers["Access-Control-Allow-Headers"]


def test_cors_wildcard() -> None:
    application = create_app(load_settings(cors_origins=("*",)), store=_store())
    r = application.test_client().get("/healthz", headers={"Origin": "https://a.example"})
    assert r.headers["Access-Control-Allow-Origin"] == "*"


def test_no_cors_by_default() -> None:
    application = create_app(load_settings(), store=_store())
    r = application.test_client().get("/healthz", headers={"Origin": "https://a.example"})
    assert "Access-Control-Allow-Origin" not in r.headers


def test_unexpected_error_is_generic_500(caplog: pytest.LogCaptureFixture) -> None:
    application = create_app(load_settings(), store=_store())

    @application.get("/boom")
    def boom() -> str:
        raise RuntimeError("secret internals")

    with caplog.at_level(logging.ERROR, logger="virtkg.http"):
        r = application.test_client().get("/boom")
    assert r.status_code == 500
    assert r.json == {
        "error": "internal_error",
        "message": "internal server error; see the server log",
    }
    assert "secret" not in r.text and "Traceback" not in r.text
    assert any("secret internals" in (rec.exc_text or "") for rec in caplog.records)


@pytest.mark.parametrize(
    "exc,status",
    [
        (errors.QuerySyntaxError("x"), 400),
        (errors.UnknownRequirement("x"), 400),
        (errors.InvalidParameter("x"), 400),
        (errors.Unauthorized("x"), 401),
        (errors.Forbidden("x"), 403),
        (errors.NotFound("x"), 404),
        (errors.NotAcceptable("x"), 406),
        (errors.PayloadTooLarge("x"), 413),
        (errors.UnsupportedMediaType("x"), 415),
        (errors.QueryTimeout("x"), 503),
        (errors.StoreUnavailable("x"), 503),
        (errors.InconsistentKnowledgeBase("x"), 503),
    ],
)
def test_every_error_has_a_status(exc: errors.VirtkgError, status: int) -> None:
    assert status_for(exc) == status


def test_every_error_class_is_mapped() -> None:
    classes = [
        c
        for c in vars(errors).values()
        if isinstance(c, type) and issubclass(c, errors.VirtkgError)
    ]
    assert set(classes) <= set(STATUS)


def test_api_errors_are_json_with_code(app: Flask) -> None:
    @app.get("/api/thing")
    def thing() -> str:
        raise errors.UnknownRequirement("no such requirement", details={"allowed": ["a"]})

    r = app.test_client().get("/api/thing")
    assert r.status_code == 400
    assert r.json == {
        "error": "unknown_requirement",
        "message": "no such requirement",
        "details": {"allowed": ["a"]},
    }


def test_a_forked_child_does_not_write_the_parents_access_log_lines() -> None:
    """Entries queued before a fork are the parent's: the child starts with an empty queue."""
    log = ops.AccessLog()
    log._queue.append(("ts", "GET", "/x", "/x", 200, 1.0, 0, None, "", None))
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report how many entries it would write
        os.write(write_end, str(len(log._queue)).encode())
        os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    assert os.read(read_end, 16) == b"0"
    os.close(read_end)
    assert len(log._queue) == 1
