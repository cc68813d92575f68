"""The W3C SPARQL 1.1 Protocol tests, replayed over HTTP against a live virtkg server.

Every entry of ``shared/w3c/sparql11/protocol/manifest.ttl`` is one HTTP exchange (or a short
sequence). The server runs on 127.0.0.1 with the protocol test data loaded (``ut:graphData``:
each file into the named graph its label gives) and an update token; the harness sends that token
with every request. ``/sparql/`` in the manifest is mapped to our ``/sparql``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import pyoxigraph as ox
import pytest
import requests
from flask import Flask
from live_granian import granian_server
from w3c_manifest import w3c_suite_dir
from werkzeug.serving import make_server

from virtkg.config import load_settings
from virtkg.http import create_app
from virtkg.store.embedded import EmbeddedStore

W3C = w3c_suite_dir()
PROTOCOL = W3C / "protocol"
MANIFEST = PROTOCOL / "manifest.ttl"
TOKEN = "w3c-test-token"

MF = "http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#"
HT = "http://www.w3.org/2011/http#"
CNT = "http://www.w3.org/2011/content#"
UT = "http://www.w3.org/2009/sparql/tests/test-update#"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
HTS = "http://www.w3.org/2011/http-statusCodes#"

#: Tests that cannot pass here, with the reason (none at the moment).
KNOWN_FAILURES: dict[str, str] = {}


def _objects(store: ox.Store, subject: object, predicate: str) -> list:
    return [q.object for q in store.quads_for_pattern(subject, ox.NamedNode(predicate), None)]


def _one(store: ox.Store, subject: object, predicate: str) -> object | None:
    values = _objects(store, subject, predicate)
    return values[0] if values else None


def _list(store: ox.Store, head: object) -> list:
    items = []
    while head is not None and head != ox.NamedNode(RDF + "nil"):
        items.append(_one(store, head, RDF + "first"))
        head = _one(store, head, RDF + "rest")
    return items


def load_manifest() -> list[dict]:
    """Each protocol test as a dict: name, graph data, and its requests."""
    store = ox.Store()
    base = MANIFEST.as_uri()
    store.load(path=str(MANIFEST), format=ox.RdfFormat.TURTLE, base_iri=base)
    manifest = ox.NamedNode(base)
    tests = []
    for entry in _list(store, _one(store, manifest, MF + "entries")):
        name = entry.value.rsplit("#", 1)[1]
        graph_data = []
        for gd in _objects(store, entry, UT + "graphData"):
            file_iri = _one(store, gd, UT + "graph").value
            label = _one(store, gd, RDFS + "label").value
            graph_data.append((Path(file_iri.removeprefix("file://")), label))
        action = _one(store, entry, MF + "action")
        requests_ = []
        for req in _list(store, _one(store, action, HT + "requests")):
            body_node = _one(store, req, HT + "body")
            body = None
            encoding = "UTF-8"
            if body_node is not None:
                body = _one(store, body_node, CNT + "chars").value
                enc = _one(store, body_node, CNT + "characterEncoding")
                encoding = enc.value if enc is not None else "UTF-8"
            headers = {}
            for header in _list(store, _one(store, req, HT + "headers")):
                field = _one(store, header, HT + "fieldName").value
                headers[field] = _one(store, header, HT + "fieldValue").value
            resp = _one(store, req, HT + "resp")
            statuses = [
                s.value.removeprefix(HTS + "StatusCode")
                for s in _objects(store, resp, MF + "expectedStatus")
            ]
            expected_bool = _one(store, resp, MF + "expectedBoolean")
            expected_format = _one(store, resp, MF + "expectedFormat")
            requests_.append(
                {
                    "method": _one(store, req, HT + "methodName").value,
                    "path": _one(store, req, HT + "absolutePath").value,
                    "headers": headers,
                    "body": body,
                    "encoding": encoding,
                    "statuses": statuses,
                    "boolean": None if expected_bool is None else expected_bool.value == "true",
                    "format": None if expected_format is None else expected_format.value,
                }
            )
        tests.append({"name": name, "graph_data": graph_data, "requests": requests_})
    return tests


TESTS = load_manifest()


def make_protocol_app() -> Flask:
    """The app under test: the protocol test data in its named graphs, updates on with TOKEN."""
    store = EmbeddedStore()
    seen = set()
    for test in TESTS:
        for path, label in test["graph_data"]:
            if label not in seen:
                seen.add(label)
                store.engine.load(
                    path=str(path), format=ox.RdfFormat.N_TRIPLES, to_graph=ox.NamedNode(label)
                )
    return create_app(load_settings(update_token=TOKEN, query_timeout=10.0), store=store)


@pytest.fixture(scope="module", params=["werkzeug", "granian"])
def server(request: pytest.FixtureRequest) -> Iterator[str]:
    """A live virtkg server on 127.0.0.1: Werkzeug's in a thread, and granian (what
    `virtkg serve` runs) in a subprocess, each over its own copy of the data."""
    if request.param == "granian":
        with granian_server("test_w3c_protocol:make_protocol_app") as base:
            yield base
        return
    app = make_protocol_app()
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    app.extensions["virtkg"].executor.close()


def _check_format(response: requests.Response, expected: str, boolean: bool | None) -> None:
    media = response.headers.get("Content-Type", "").split(";")[0].strip()
    if expected == "boolean":
        assert media in ("application/sparql-results+json", "application/sparql-results+xml")
    elif expected == "tabular":
        assert media in (
            "application/sparql-results+json",
            "application/sparql-results+xml",
            "text/csv",
            "text/tab-separated-values",
        )
    elif expected == "RDF":
        assert media in ("application/rdf+xml", "text/turtle", "application/n-triples")
    if boolean is not None:
        if media == "application/sparql-results+json":
            assert json.loads(response.content)["boolean"] is boolean
        else:
            parsed = ox.parse_query_results(
                response.content, format=ox.QueryResultsFormat.from_media_type(media)
            )
            assert bool(parsed) is boolean


CASES = [
    pytest.param(
        t,
        id=t["name"],
        marks=[pytest.mark.xfail(reason=KNOWN_FAILURES[t["name"]], strict=True)]
        if t["name"] in KNOWN_FAILURES
        else [],
    )
    for t in TESTS
]


@pytest.mark.parametrize("test", CASES)
def test_protocol(server: str, test: dict) -> None:
    """Replay one manifest entry and check every response's status, format and boolean."""
    for req in test["requests"]:
        path = req["path"].replace("/sparql/", "/sparql", 1)
        headers = {"Authorization": f"Bearer {TOKEN}", **req["headers"]}
        body = req["body"].encode(req["encoding"]) if req["body"] is not None else None
        response = requests.request(
            req["method"], urljoin(server, path), headers=headers, data=body, timeout=30
        )
        family = f"{str(response.status_code)[0]}xx"
        assert family in req["statuses"], (response.status_code, response.text[:300])
        if req["format"]:
            _check_format(response, req["format"], req["boolean"])


# --- service description (service-description/manifest.ttl) --------------------------------

SD = "http://www.w3.org/ns/sparql-service-description#"


@pytest.mark.parametrize(
    "accept,fmt",
    [
        ("text/turtle", ox.RdfFormat.TURTLE),
        ("application/rdf+xml", ox.RdfFormat.RDF_XML),
        ("application/ld+json", ox.RdfFormat.JSON_LD),
    ],
)
def test_service_description_returns_rdf(server: str, accept: str, fmt: ox.RdfFormat) -> None:
    """returns-rdf and has-endpoint-triple: GET on the endpoint is RDF naming the endpoint."""
    endpoint = server + "/sparql"
    response = requests.get(endpoint, headers={"Accept": accept}, timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith(accept)
    triples = list(ox.parse(response.content, format=fmt))
    endpoints = [t for t in triples if t.predicate == ox.NamedNode(SD + "endpoint")]
    assert [t.object for t in endpoints] == [ox.NamedNode(endpoint)]


def test_service_description_conforms_to_schema(server: str) -> None:
    """conforms-to-schema (the parts we can check): sd:Service, sd:supportedLanguage, dataset."""
    response = requests.get(server + "/sparql", timeout=10)
    graph = ox.Store()
    graph.load(response.content, format=ox.RdfFormat.TURTLE)
    assert graph.query(
        f"""PREFIX sd: <{SD}>
        ASK {{ ?s a sd:Service ; sd:endpoint ?e ; sd:supportedLanguage sd:SPARQL11Query,
                  sd:SPARQL11Update ; sd:defaultEntailmentRegime ?r ;
                  sd:defaultDataset [ a sd:Dataset ; sd:defaultGraph [ a sd:Graph ] ;
                                      sd:namedGraph [ a sd:NamedGraph ; sd:name ?g ] ] }}"""
    )
