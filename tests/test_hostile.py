"""Hostile clients: every bad input is a 4xx with a clear message, nothing crashes or is lost.

Regression tests for what fuzzing found (schemathesis over /openapi.json, plus hand-made raw
requests; see "Robustness testing" in docs/api.md). Live-server tests run twice: against
werkzeug's server in a thread (a crash of the engine, a SIGSEGV, then fails the run instead of
passing unnoticed) and against granian, the server `virtkg serve` runs, in a subprocess.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pyoxigraph as ox
import pytest
import requests
from flask import Flask
from live_granian import granian_server
from werkzeug.serving import make_server

from virtkg.config import load_settings
from virtkg.http import create_app
from virtkg.http.guard import MAX_NESTING
from virtkg.store.base import DATA_GRAPH, INFERRED_GRAPH, ONTOLOGY_GRAPH
from virtkg.store.embedded import EmbeddedStore

TOKEN = "hostile-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
VKG = "https://w3id.org/virtkg/ontology#"
DOCKER = "https://w3id.org/virtkg/technology/docker"
EVERYTHING = "SELECT ?g ?s ?p ?o WHERE { GRAPH ?g { ?s ?p ?o } } ORDER BY ?g ?s ?p ?o"


def small_store() -> EmbeddedStore:
    store = EmbeddedStore()
    rdf_type = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
    sub = ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#subClassOf")
    acr, osl = ox.NamedNode(VKG + "ApplicationContainerRuntime"), ox.NamedNode(VKG + "OSLevel")
    store.engine.extend(
        [
            ox.Quad(acr, sub, osl, ox.NamedNode(ONTOLOGY_GRAPH)),
            ox.Quad(ox.NamedNode(DOCKER), rdf_type, acr, ox.NamedNode(DATA_GRAPH)),
            ox.Quad(ox.NamedNode(DOCKER), rdf_type, osl, ox.NamedNode(INFERRED_GRAPH)),
        ]
    )
    return store


def make_hostile_app() -> Flask:
    """The app under test: the small store, updates on, a 5 s timeout (also granian's factory)."""
    settings = load_settings(update_token=TOKEN, query_timeout=5.0, query_workers=1)
    return create_app(settings, store=small_store())


@pytest.fixture(scope="module")
def app() -> Iterator[Flask]:
    application = make_hostile_app()
    yield application
    application.extensions["virtkg"].executor.close()


@pytest.fixture(scope="module", params=["werkzeug", "granian"])
def live(request: pytest.FixtureRequest, app: Flask) -> Iterator[str]:
    if request.param == "werkzeug":
        httpd = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        yield f"http://127.0.0.1:{httpd.server_port}"
        httpd.shutdown()
        return
    with granian_server("test_hostile:make_hostile_app") as base:
        yield base


def raw_request(base: str, request: bytes) -> tuple[int, bytes]:
    """Send bytes as they are; return the status and the body."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def dump(base: str) -> list[dict]:
    r = requests.get(base + "/sparql", params={"query": EVERYTHING}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["results"]["bindings"]


def assert_error(r: requests.Response, status: int, code: str) -> None:
    assert r.status_code == status, (r.status_code, r.text[:300])
    assert "Traceback" not in r.text
    if r.headers["Content-Type"].startswith("application/json"):
        assert r.json()["error"] == code, r.text[:300]
    else:
        assert r.text.startswith(code + ": "), r.text[:300]


# --- deep nesting: the engine's parser overflowed the native stack (SIGSEGV) -----------------

DEEP = 5000
NESTED = {
    "braces": lambda n: "SELECT * WHERE " + "{" * n + "}" * n,
    "parentheses": lambda n: "SELECT * WHERE { FILTER(" + "(" * n + "1" + ")" * n + ") }",
    "functions": lambda n: "SELECT * WHERE { BIND(" + "STR(" * n + "1" + ")" * n + " AS ?x) }",
    "collections": lambda n: "SELECT * WHERE { ?s <p:p> " + "( " * n + "1" + " )" * n + " }",
    "blank nodes": lambda n: "SELECT * WHERE { ?s <p:p> " + "[ <p:p> " * n + "1" + " ]" * n + " }",
    "optionals": lambda n: "SELECT * WHERE { " + "OPTIONAL { " * n + "}" * n + "}",
    "negations": lambda n: "SELECT * WHERE { FILTER(" + "!" * n + "true) }",
}


@pytest.mark.parametrize("shape", sorted(NESTED))
@pytest.mark.parametrize("kind", ["query", "update"])
def test_deep_nesting_is_400_before_the_engine(live: str, shape: str, kind: str) -> None:
    """Before: queries 503 "the query worker died", updates killed the server process."""
    text = NESTED[shape](DEEP)
    if kind == "update":
        text = text.replace("SELECT * WHERE", "INSERT { } WHERE", 1)
    before = dump(live)
    r = requests.post(
        live + "/sparql",
        data=text.encode(),
        headers={"Content-Type": f"application/sparql-{kind}", **AUTH},
        timeout=30,
    )
    assert_error(r, 400, "query_too_complex")
    assert str(MAX_NESTING) in r.text
    assert dump(live) == before
    assert requests.get(live + "/healthz", timeout=5).status_code == 200


@pytest.mark.parametrize("depth", [1, 20, MAX_NESTING - 1])
def test_reasonable_nesting_still_runs(live: str, depth: int) -> None:
    r = requests.get(live + "/sparql", params={"query": NESTED["braces"](depth)}, timeout=10)
    assert r.status_code == 200, r.text


CHAINS = {  # flat texts whose parse still recursed once per element (crashed at ~2.7k on 8 MB)
    "minus": "?s ?p ?o " + "MINUS { ?s ?p ?o } " * 8000,
    "binds": "".join(f"BIND(1 AS ?x{i}) " for i in range(4000)),
}


@pytest.mark.parametrize("shape", sorted(CHAINS))
@pytest.mark.parametrize("kind", ["query", "update"])
def test_long_chains_do_not_crash_the_server(live: str, shape: str, kind: str) -> None:
    """Before: a ~60 KB update segfaulted the server (the engine ran on an 8 MB thread stack)."""
    head = "SELECT * WHERE { " if kind == "query" else "INSERT { } WHERE { "
    before = dump(live)
    r = requests.post(
        live + "/sparql",
        data=(head + CHAINS[shape] + "}").encode(),
        headers={"Content-Type": f"application/sparql-{kind}", **AUTH},
        timeout=60,
    )
    assert r.status_code in (200, 204), r.text[:300]
    assert requests.get(live + "/healthz", timeout=5).status_code == 200
    assert dump(live) == before  # the update inserted nothing


# --- transport-level garbage --------------------------------------------------------------

BAD_CHUNK = (
    "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: {ctype}\r\n"
    "Transfer-Encoding: chunked\r\n\r\nzz\r\nASK{{}}\r\n0\r\n\r\n"
)


@pytest.mark.parametrize(
    ("path", "ctype"),
    [
        ("/sparql", "application/sparql-query"),
        ("/api/recommend", "application/json"),
        ("/api/queries/nothing", "application/json"),
    ],
)
def test_malformed_chunked_body_is_400(live: str, path: str, ctype: str) -> None:
    """Before: 500 internal_error (werkzeug's OSError "Invalid chunk header" escaped)."""
    status, body = raw_request(live, BAD_CHUNK.format(path=path, ctype=ctype).encode())
    if path == "/api/queries/nothing":
        assert status == 404, body  # the name is checked before the body is read
    else:
        assert status == 400, body
        assert b"Traceback" not in body
        # werkzeug hands the app the broken stream ("could not be read"); granian's HTTP parser
        # stops at the bad chunk and the app sees an empty body, which is then refused as such
        said = (b"could not be read", b"not a SPARQL query", b"not valid JSON")
        assert any(word in body for word in said), body


@pytest.mark.parametrize(
    "request_kwargs",
    [
        {"method": "GET", "url": "/sparql?query=SELECT%20*%20%7B%3Fs%20%3Fp%20%22%FF%FE%22%7D"},
        {"method": "GET", "url": "/sparql?query=ASK%7B%7D&format=%FF"},
        {
            "method": "POST",
            "url": "/sparql",
            "data": b"query=SELECT%20*%20%7B%3Fs%20%3Fp%20%22%FF%22%7D",
            "headers": {"Content-Type": "application/x-www-form-urlencoded"},
        },
    ],
    ids=["get-query", "get-format", "form"],
)
def test_percent_encoded_invalid_utf8_is_400(live: str, request_kwargs: dict) -> None:
    """Before: 200, the bytes silently became "%FF" text (URL) or U+FFFD (form)."""
    kwargs = dict(request_kwargs)
    url = live + kwargs.pop("url")
    r = requests.request(url=url, timeout=10, **kwargs)
    assert_error(r, 400, "bad_request")
    assert "UTF-8" in r.text


@pytest.mark.parametrize(
    "accept",
    ["application/json;q=abc", "text/csv;q=2", "*/*;q=-1", "text/csv;q=nan", ";;;,,,/,*/;q"],
)
def test_garbage_q_values_never_500(live: str, accept: str) -> None:
    r = requests.get(
        live + "/sparql", params={"query": "ASK {}"}, headers={"Accept": accept}, timeout=10
    )
    assert r.status_code in (200, 406), r.text
    if r.status_code == 406:
        assert_error(r, 406, "not_acceptable")


def test_sparql_editor_404_is_json_not_protocol_text(app: Flask) -> None:
    """Before: /sparql-editor/ (any path starting with /sparql) got the text/plain error body."""
    r = app.test_client().get("/sparql-editor/")
    assert r.status_code == 404
    assert r.mimetype == "application/json"
    assert json.loads(r.data)["error"] == "not_found"


# --- the REST API over the real knowledge base -------------------------------------------


@pytest.fixture(scope="module")
def kb_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    cache = Path(tmp_path_factory.mktemp("hostile-cache"))
    application = create_app(load_settings({}, cache_dir=str(cache), query_workers=0))
    assert application.extensions["virtkg"].ready
    yield application.test_client()
    application.extensions["virtkg"].executor.close()


@pytest.mark.parametrize(
    ("name", "body"),
    [("contested-facts", {"": None}), ("licences", {"contains": None, "nope": None})],
)
def test_unknown_saved_query_parameter_is_400_even_when_null(
    kb_client, name: str, body: dict
) -> None:
    """Before: 200 (null values were dropped before the unknown-name check)."""
    r = kb_client.post(f"/api/queries/{name}", json=body)
    assert r.status_code == 400, r.data[:300]
    assert r.json["error"] == "invalid_parameter"
    assert "unknown parameter" in r.json["message"]


def test_null_known_parameter_still_means_not_given(kb_client) -> None:
    r = kb_client.post("/api/queries/licences", json={"contains": None})
    assert r.status_code == 200, r.data[:300]


@pytest.mark.parametrize(
    "path",
    [
        "/vendor/../../etc/passwd",
        "/vendor/..%2f..%2fetc%2fpasswd",
        "/vendor/%2e%2e/%2e%2e/package.json",
        "/vendor/codemirror/codemirror.js%00",
        "/technology/..%2f..",
        "/technology/%00",
        "/technology/" + "a" * 5000,
        "/data/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/ontology/..%2f..",
        "/kb.%00",
        "/api/queries/..%2f..%2fetc%2fpasswd",
        "/api/queries/%2e%2e",
        "/api/queries/licences.rq",
    ],
)
def test_traversal_paths_are_json_404(kb_client, path: str) -> None:
    r = kb_client.get(path)
    assert r.status_code == 404, (path, r.data[:200])
    assert r.mimetype == "application/json"
    assert b"root:" not in r.data and b"Traceback" not in r.data
