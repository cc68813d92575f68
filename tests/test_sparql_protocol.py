"""/sparql: the SPARQL 1.1 Protocol as virtkg serves it (statuses, negotiation, datasets)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator

import pyoxigraph as ox
import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from SPARQLWrapper import CSV, JSON, TURTLE, XML, SPARQLWrapper
from werkzeug.serving import make_server

from virtkg.config import load_settings
from virtkg.errors import NotAcceptable
from virtkg.http import create_app
from virtkg.http.negotiate import choose, parse_accept, result_media_type
from virtkg.store.base import DATA_GRAPH, GRAPH_BASE, INFERRED_GRAPH, ONTOLOGY_GRAPH
from virtkg.store.embedded import EmbeddedStore
from virtkg.store.remote import RemoteStore

VKG = "https://w3id.org/virtkg/ontology#"
DOCKER = "https://w3id.org/virtkg/technology/docker"
TOKEN = "s3cret-token"
ASSERTED = f"ASK {{ <{DOCKER}> a <{VKG}ApplicationContainerRuntime> }}"
INFERRED = f"ASK {{ <{DOCKER}> a <{VKG}OSLevelVirtualization> }}"
SELECT_ALL = "SELECT ?s ?p ?o WHERE { ?s ?p ?o } ORDER BY ?s ?p ?o"


def make_store() -> EmbeddedStore:
    """Three tiny KB graphs: one class axiom, one asserted type, one inferred type."""
    store = EmbeddedStore()
    rdf_type = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
    sub = ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#subClassOf")
    acr, osl = (
        ox.NamedNode(VKG + "ApplicationContainerRuntime"),
        ox.NamedNode(VKG + "OSLevelVirtualization"),
    )
    docker = ox.NamedNode(DOCKER)
    store.engine.extend(
        [
            ox.Quad(acr, sub, osl, ox.NamedNode(ONTOLOGY_GRAPH)),
            ox.Quad(docker, rdf_type, acr, ox.NamedNode(DATA_GRAPH)),
            ox.Quad(docker, rdf_type, osl, ox.NamedNode(INFERRED_GRAPH)),
        ]
    )
    return store


@pytest.fixture(scope="module")
def app() -> Iterator[Flask]:
    application = create_app(
        load_settings(update_token=TOKEN, max_body_bytes=2000, max_rows=2), store=make_store()
    )
    yield application
    application.extensions["virtkg"].executor.close()


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture(scope="module")
def live(app: Flask) -> Iterator[str]:
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}/sparql"
    httpd.shutdown()


def boolean(response) -> bool:  # noqa: ANN001
    assert response.status_code == 200, response.data
    return json.loads(response.data)["boolean"]


# --- the three ways to send a query ----------------------------------------------------------


def test_get(client: FlaskClient) -> None:
    assert boolean(client.get("/sparql", query_string={"query": ASSERTED})) is True


def test_post_form(client: FlaskClient) -> None:
    assert boolean(client.post("/sparql", data={"query": ASSERTED})) is True


def test_post_direct(client: FlaskClient) -> None:
    r = client.post("/sparql", data=ASSERTED, content_type="application/sparql-query")
    assert boolean(r) is True


# --- statuses --------------------------------------------------------------------------------


def test_malformed_query_is_400_with_position(client: FlaskClient) -> None:
    r = client.get("/sparql", query_string={"query": "SELECT * WHERE { ?s ?p }"})
    assert r.status_code == 400
    assert r.mimetype == "text/plain"
    assert "malformed_query" in r.text and "1:" in r.text


def test_error_is_json_for_json_clients(client: FlaskClient) -> None:
    r = client.get(
        "/sparql", query_string={"query": "ASK {"}, headers={"Accept": "application/json"}
    )
    assert r.status_code == 400
    assert r.json["error"] == "malformed_query"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"data": {"default-graph-uri": DATA_GRAPH}},
        {"data": b"", "content_type": "application/sparql-query"},
    ],
)
def test_missing_query_is_400(client: FlaskClient, kwargs: dict) -> None:
    assert client.post("/sparql", **kwargs).status_code == 400


def test_get_with_parameters_but_no_query_is_400(client: FlaskClient) -> None:
    assert client.get("/sparql", query_string={"default-graph-uri": DATA_GRAPH}).status_code == 400


def test_two_queries_are_400(client: FlaskClient) -> None:
    r = client.get("/sparql?query=ASK%7B%7D&query=ASK%7B%7D")
    assert r.status_code == 400


def test_nothing_acceptable_is_406(client: FlaskClient) -> None:
    r = client.get("/sparql", query_string={"query": ASSERTED}, headers={"Accept": "image/png"})
    assert r.status_code == 406


def test_unknown_format_is_406(client: FlaskClient) -> None:
    r = client.get("/sparql", query_string={"query": SELECT_ALL, "format": "turtle"})
    assert r.status_code == 406


@pytest.mark.parametrize("content_type", ["text/plain", "application/json", None])
def test_unknown_content_type_is_415(client: FlaskClient, content_type: str | None) -> None:
    r = client.post("/sparql", data=b"ASK {}", content_type=content_type)
    assert r.status_code == 415


def test_non_utf8_charset_is_415(client: FlaskClient) -> None:
    r = client.post(
        "/sparql",
        data="ASK {}".encode("utf-16"),
        content_type="application/sparql-query; charset=UTF-16",
    )
    assert r.status_code == 415


def test_body_over_limit_is_413(client: FlaskClient) -> None:
    big = "ASK {} #" + "x" * 3000
    r = client.post("/sparql", data=big, content_type="application/sparql-query")
    assert r.status_code == 413


def test_body_over_limit_without_content_length_is_413(live: str) -> None:
    """A chunked body (no Content-Length) is cut while it is read."""

    def chunks() -> Iterator[bytes]:
        yield b"ASK {} #"
        for _ in range(50):
            yield b"x" * 100

    r = requests.post(
        live, data=chunks(), headers={"Content-Type": "application/sparql-query"}, timeout=10
    )
    assert "Content-Length" not in r.request.headers
    assert r.status_code == 413


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_other_methods_are_405(client: FlaskClient, method: str) -> None:
    r = client.open("/sparql", method=method, query_string={"query": "ASK {}"})
    assert r.status_code == 405
    assert "GET" in r.headers["Allow"]


def test_unknown_path_is_json_404(client: FlaskClient) -> None:
    r = client.get("/no/such/thing")
    assert r.status_code == 404 and r.json["error"] == "not_found"


# --- negotiation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "accept,expected",
    [
        (None, "application/sparql-results+json"),
        ("*/*", "application/sparql-results+json"),
        ("application/sparql-results+xml", "application/sparql-results+xml"),
        ("text/csv;q=0.5, text/tab-separated-values;q=0.9", "text/tab-separated-values"),
        ("text/*;q=0.2, application/sparql-results+xml;q=0.1", "text/csv"),
        ("application/json", "application/sparql-results+json"),
        ("text/xml", "application/sparql-results+xml"),
        ("application/sparql-results+json;q=0, */*;q=0.1", "application/sparql-results+xml"),
        ("text/html, application/xhtml+xml, */*;q=0.8", "application/sparql-results+json"),
    ],
)
def test_select_negotiation(client: FlaskClient, accept: str | None, expected: str) -> None:
    headers = {"Accept": accept} if accept else {}
    r = client.get("/sparql", query_string={"query": SELECT_ALL}, headers=headers)
    assert r.status_code == 200
    assert r.mimetype == expected


@pytest.mark.parametrize(
    "fmt,expected",
    [
        ("json", "application/sparql-results+json"),
        ("xml", "application/sparql-results+xml"),
        ("csv", "text/csv"),
        ("tsv", "text/tab-separated-values"),
    ],
)
def test_select_format_parameter_beats_accept(client: FlaskClient, fmt: str, expected: str) -> None:
    r = client.get(
        "/sparql", query_string={"query": SELECT_ALL, "format": fmt}, headers={"Accept": "x/y"}
    )
    assert r.mimetype == expected


@pytest.mark.parametrize(
    "accept_or_format,expected",
    [
        ({}, "text/turtle"),
        ({"Accept": "application/n-triples"}, "application/n-triples"),
        ({"Accept": "application/rdf+xml;q=0.9, text/turtle;q=0.5"}, "application/rdf+xml"),
        ({"Accept": "application/ld+json"}, "application/ld+json"),
        ({"format": "ntriples"}, "application/n-triples"),
        ({"format": "rdfxml"}, "application/rdf+xml"),
        ({"format": "jsonld"}, "application/ld+json"),
        ({"format": "turtle"}, "text/turtle"),
    ],
)
def test_construct_negotiation(client: FlaskClient, accept_or_format: dict, expected: str) -> None:
    query = {"query": "CONSTRUCT WHERE { ?s ?p ?o }"}
    headers = {}
    if "Accept" in accept_or_format:
        headers["Accept"] = accept_or_format["Accept"]
    else:
        query.update(accept_or_format)
    r = client.get("/sparql", query_string=query, headers=headers)
    assert r.status_code == 200 and r.mimetype == expected


def test_parse_accept_orders_by_q_then_specificity() -> None:
    assert parse_accept("*/*;q=0.1, text/*;q=0.5, text/csv;q=0.5") == [
        ("text/csv", 0.5),
        ("text/*", 0.5),
        ("*/*", 0.1),
    ]
    assert choose("text/csv;q=0", ("text/csv", "text/turtle"), {}) is None
    assert result_media_type("ASK", "text/tab-separated-values") == "text/tab-separated-values"


# --- datasets and inference ------------------------------------------------------------------


def test_default_graph_is_union_with_inferred(client: FlaskClient) -> None:
    assert boolean(client.get("/sparql", query_string={"query": INFERRED})) is True


def test_inference_none_hides_inferred_triples(client: FlaskClient) -> None:
    params = {"query": INFERRED, "inference": "none"}
    assert boolean(client.get("/sparql", query_string=params)) is False
    params = {"query": ASSERTED, "inference": "none"}
    assert boolean(client.get("/sparql", query_string=params)) is True


def test_asserted_only_the_standard_way(client: FlaskClient) -> None:
    qs = [("query", INFERRED), ("default-graph-uri", ONTOLOGY_GRAPH)]
    qs.append(("default-graph-uri", DATA_GRAPH))
    assert boolean(client.get("/sparql", query_string=qs)) is False


def test_unknown_inference_value_is_400(client: FlaskClient) -> None:
    r = client.get("/sparql", query_string={"query": ASSERTED, "inference": "rdfs"})
    assert r.status_code == 400


def test_named_graph_uri_gives_graph_access_and_empty_default(client: FlaskClient) -> None:
    q = f"ASK {{ GRAPH <{INFERRED_GRAPH}> {{ ?s ?p ?o }} }}"
    qs = [("query", q), ("named-graph-uri", INFERRED_GRAPH)]
    assert boolean(client.get("/sparql", query_string=qs)) is True
    qs = [("query", "ASK { ?s ?p ?o }"), ("named-graph-uri", INFERRED_GRAPH)]
    assert boolean(client.get("/sparql", query_string=qs)) is False
    qs = [("query", q), ("named-graph-uri", DATA_GRAPH)]
    assert boolean(client.get("/sparql", query_string=qs)) is False


def test_from_our_graph_is_a_dataset_selection(client: FlaskClient) -> None:
    q = f"ASK FROM <{DATA_GRAPH}> {{ <{DOCKER}> ?p ?o }}"
    assert boolean(client.get("/sparql", query_string={"query": q})) is True
    q = f"ASK FROM <{ONTOLOGY_GRAPH}> {{ <{DOCKER}> ?p ?o }}"
    assert boolean(client.get("/sparql", query_string={"query": q})) is False


# --- fetch refusals --------------------------------------------------------------------------


@pytest.fixture()
def listener() -> Iterator[tuple[str, list]]:
    """A local TCP listener that records every connection it gets."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    server.settimeout(0.2)
    connections: list = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            connections.append(conn)
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/", connections
    stop.set()
    thread.join(timeout=2)
    server.close()


@pytest.mark.parametrize(
    "template",
    [
        "SELECT * WHERE {{ SERVICE <{url}> {{ ?s ?p ?o }} }}",
        "SELECT * WHERE {{ SERVICE SILENT <{url}> {{ ?s ?p ?o }} }}",
        "PREFIX r: <{url}> SELECT * WHERE {{ SERVICE r:sparql {{ ?s ?p ?o }} }}",
        "SELECT * FROM <{url}data> WHERE {{ ?s ?p ?o }}",
        "SELECT * FROM NAMED <{url}data> WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}",
    ],
)
def test_fetching_query_is_403_and_never_connects(
    client: FlaskClient, listener: tuple[str, list], template: str
) -> None:
    url, connections = listener
    r = client.get("/sparql", query_string={"query": template.format(url=url)})
    assert r.status_code == 403
    assert url in r.text
    assert connections == []


def test_service_variable_is_403(client: FlaskClient) -> None:
    r = client.get("/sparql", query_string={"query": "SELECT * { SERVICE ?x { ?s ?p ?o } }"})
    assert r.status_code == 403


def test_service_in_a_string_is_not_a_service(client: FlaskClient) -> None:
    q = 'SELECT ("SERVICE <http://x/>" AS ?x) WHERE {}'
    assert client.get("/sparql", query_string={"query": q}).status_code == 200


@pytest.mark.parametrize(
    "template",
    [
        "LOAD <{url}data>",
        "LOAD SILENT <{url}d> INTO GRAPH <http://g>",
        "INSERT {{ ?s ?p ?o }} USING <{url}x> WHERE {{ ?s ?p ?o }}",
    ],
)
def test_fetching_update_is_403_and_never_connects(
    client: FlaskClient, listener: tuple[str, list], template: str
) -> None:
    url, connections = listener
    r = client.post(
        "/sparql",
        data={"update": template.format(url=url)},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert r.status_code == 403
    assert url in r.text
    assert connections == []


# --- update ----------------------------------------------------------------------------------


def test_update_is_off_without_a_token(listener: tuple[str, list]) -> None:
    app = create_app(load_settings(), store=make_store())
    try:
        r = app.test_client().post("/sparql", data={"update": "CLEAR ALL"})
        assert r.status_code == 403
    finally:
        app.extensions["virtkg"].executor.close()


@pytest.mark.parametrize("header", [None, "Bearer wrong", "Basic czNjcmV0", f"bearer{TOKEN}"])
def test_update_needs_the_token(client: FlaskClient, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    r = client.post("/sparql", data={"update": "CLEAR ALL"}, headers=headers)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_update_with_token_is_204_and_visible(client: FlaskClient) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    update = "INSERT DATA { GRAPH <http://example.org/g> { <http://example.org/a> <http://example.org/b> 1 } }"  # noqa: E501
    r = client.post("/sparql", data=update, content_type="application/sparql-update", headers=auth)
    assert r.status_code == 204
    q = "ASK { <http://example.org/a> <http://example.org/b> 1 }"
    assert boolean(client.get("/sparql", query_string={"query": q})) is True
    r = client.post("/sparql", data={"update": "DROP GRAPH <http://example.org/g>"}, headers=auth)
    assert r.status_code == 204
    assert boolean(client.get("/sparql", query_string={"query": q})) is False


def test_update_syntax_error_is_400(client: FlaskClient) -> None:
    r = client.post(
        "/sparql", data={"update": "CLEAR XYZ"}, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert r.status_code == 400


def test_update_by_get_is_400(client: FlaskClient) -> None:
    assert client.get("/sparql", query_string={"update": "CLEAR ALL"}).status_code == 400


def test_analysis_is_one_pass_and_cached() -> None:
    from virtkg.http.guard import IriUse, analyze

    text = (
        "PREFIX e: <http://example.org/> BASE <sub/> SELECT * FROM <g> FROM NAMED e:n "
        "WHERE { SERVICE SILENT <svc> { ?s ?p 'SERVICE <http://no>' } }"
    )
    info = analyze(text, "http://host/sparql")
    assert info.form == "SELECT"
    assert info.services == (IriUse("SERVICE", "http://host/sub/svc"),)
    assert info.fetches == (
        IriUse("FROM", "http://host/sub/g"),
        IriUse("FROM NAMED", "http://example.org/n"),
    )
    assert analyze(text, "http://host/sparql") is info  # cached
    assert analyze("INSERT DATA {}").form is None


def test_negotiation_is_cached_but_failures_are_not() -> None:
    result_media_type.cache_clear()
    for _ in range(3):
        assert result_media_type("SELECT", "text/csv;q=0.5, */*;q=0.1") == "text/csv"
    assert result_media_type.cache_info().hits == 2
    for _ in range(2):
        with pytest.raises(NotAcceptable):
            result_media_type("SELECT", "image/png")
    assert result_media_type.cache_info().currsize == 1


# --- relative IRIs, reasoning after updates ---------------------------------------------------


def test_relative_iris_resolve_against_the_endpoint(client: FlaskClient) -> None:
    r = client.get(
        "/sparql", query_string={"query": "CONSTRUCT { <s> <p> 1 } WHERE {}", "format": "nt"}
    )
    assert r.status_code == 200, r.text
    (triple,) = list(ox.parse(r.data, format=ox.RdfFormat.N_TRIPLES))
    assert triple.subject == ox.NamedNode("http://localhost/s")
    # the query's own BASE still wins
    q = "BASE <http://example.org/x/> SELECT ?s WHERE { BIND(<s> AS ?s) }"
    r = client.get("/sparql", query_string={"query": q})
    assert r.json["results"]["bindings"][0]["s"]["value"] == "http://example.org/x/s"


@pytest.fixture(params=["embedded", "remote"])
def reasoning_client(request: pytest.FixtureRequest) -> Iterator[FlaskClient]:
    """A fresh app per test (the tests below change the data) with updates on, on each backend."""
    store = make_store()
    if request.param == "remote":
        url = request.getfixturevalue("oxigraph_server")
        remote = RemoteStore(
            url + "/query", update_endpoint=url + "/update", gsp_endpoint=url + "/store"
        )
        remote.update("DROP ALL")
        for graph in (ONTOLOGY_GRAPH, DATA_GRAPH, INFERRED_GRAPH):
            remote.replace_graph(
                graph,
                [
                    q.triple
                    for q in store.engine.quads_for_pattern(None, None, None, ox.NamedNode(graph))
                ],
            )
        store = remote
    application = create_app(load_settings(update_token=TOKEN), store=store)
    client = application.test_client()
    client.backend = request.param  # type: ignore[attr-defined]
    yield client
    application.extensions["virtkg"].executor.close()


AUTH = {"Authorization": f"Bearer {TOKEN}"}
PODMAN = "https://w3id.org/virtkg/technology/podman"


def _update(client: FlaskClient, text: str):  # noqa: ANN202
    return client.post("/sparql", data=text, content_type="application/sparql-update", headers=AUTH)


def _rows(client: FlaskClient, query: str, **params: str) -> list[dict]:
    r = client.get("/sparql", query_string={"query": query, **params})
    assert r.status_code == 200, r.text
    return r.json["results"]["bindings"]


def test_update_with_relative_iri_uses_the_endpoint_as_base(reasoning_client: FlaskClient) -> None:
    r = _update(reasoning_client, "INSERT DATA { GRAPH <http://example.org/g> { <s> <p> <o> } }")
    assert r.status_code == 204, r.text
    assert boolean(reasoning_client.get("/sparql", query_string={"query": "ASK { <s> <p> <o> }"}))
    assert boolean(
        reasoning_client.get(
            "/sparql", query_string={"query": "ASK { <http://localhost/s> ?p ?o }"}
        )
    )


def test_update_is_followed_by_reasoning(reasoning_client: FlaskClient) -> None:
    """A new asserted type gets its inferred superclass; a deleted one loses it."""
    c = reasoning_client
    inferred = f"SELECT ?c WHERE {{ GRAPH <{INFERRED_GRAPH}> {{ <{PODMAN}> a ?c }} }}"
    insert = f"INSERT DATA {{ GRAPH <{DATA_GRAPH}> {{ <{PODMAN}> a <{VKG}ApplicationContainerRuntime> }} }}"  # noqa: E501
    assert _update(c, insert).status_code == 204
    assert [row["c"]["value"] for row in _rows(c, inferred)] == [VKG + "OSLevelVirtualization"]
    ask = f"ASK {{ <{PODMAN}> a <{VKG}OSLevelVirtualization> }}"
    assert boolean(c.get("/sparql", query_string={"query": ask})) is True
    # asserted-only view does not have it
    r = c.get("/sparql", query_string={"query": ask, "inference": "none"})
    assert boolean(r) is False
    assert _update(c, insert.replace("INSERT DATA", "DELETE DATA")).status_code == 204
    assert _rows(c, inferred) == []
    assert boolean(c.get("/sparql", query_string={"query": ask})) is False
    # docker's inference is still there (recomputed, not lost)
    assert boolean(c.get("/sparql", query_string={"query": INFERRED})) is True


def test_inconsistent_update_is_400_and_changes_nothing(reasoning_client: FlaskClient) -> None:
    c = reasoning_client
    everything = "SELECT ?s ?p ?o ?g WHERE { GRAPH ?g { ?s ?p ?o } } ORDER BY ?g ?s ?p ?o"
    if c.backend == "remote":  # type: ignore[attr-defined]  # only the KB graphs are undone there
        everything = everything.replace("} }", f"}} FILTER(STRSTARTS(STR(?g), '{GRAPH_BASE}')) }}")
    before = _rows(c, everything)
    disjoint = (
        f"INSERT DATA {{ GRAPH <{ONTOLOGY_GRAPH}> {{ <{VKG}OSLevelVirtualization> "
        f"<http://www.w3.org/2002/07/owl#disjointWith> <{VKG}HardwareVirtualization> }} }} ; "
        f"INSERT DATA {{ GRAPH <{DATA_GRAPH}> {{ <{DOCKER}> a <{VKG}HardwareVirtualization> }} }} ;"
        " INSERT DATA { GRAPH <http://example.org/other> { <http://example.org/a> "
        "<http://example.org/b> <http://example.org/c> } }"
    )
    r = c.post(
        "/sparql",
        data=disjoint,
        content_type="application/sparql-update",
        headers={**AUTH, "Accept": "application/json"},
    )
    assert r.status_code == 400, r.text
    assert r.json["error"] == "bad_request"
    assert "inconsistent" in r.json["message"] and "tech:docker" in r.json["message"]
    assert r.json["details"]["violations"]
    assert _rows(c, everything) == before  # every graph as it was (embedded: the other one too)
    # and the service goes on accepting consistent updates
    ok = f"INSERT DATA {{ GRAPH <{DATA_GRAPH}> {{ <{PODMAN}> a <{VKG}ApplicationContainerRuntime> }} }}"  # noqa: E501
    assert _update(c, ok).status_code == 204


def test_update_dataset_parameters(reasoning_client: FlaskClient) -> None:
    """using-graph-uri / using-named-graph-uri are the dataset of each DELETE/INSERT ... WHERE."""
    c = reasoning_client
    out = "http://example.org/copy"
    copy = f"INSERT {{ GRAPH <{out}> {{ ?s ?p ?o }} }} WHERE {{ ?s ?p ?o }}"
    r = c.post(
        "/sparql",
        query_string={"using-graph-uri": DATA_GRAPH},
        data=f"DROP SILENT GRAPH <{out}> ; {copy}",
        content_type="application/sparql-update",
        headers=AUTH,
    )
    assert r.status_code == 204, r.text
    copied = _rows(c, f"SELECT ?s ?o WHERE {{ GRAPH <{out}> {{ ?s ?p ?o }} }}")
    assert [(row["s"]["value"], row["o"]["value"]) for row in copied] == [
        (DOCKER, VKG + "ApplicationContainerRuntime")  # the data graph only, not the union
    ]
    # form-encoded, named graphs only: GRAPH ?g sees the ontology graph, the default is empty
    named = f"INSERT {{ GRAPH <{out}> {{ ?g <urn:x:seen> ?n }} }} WHERE {{ {{ SELECT ?g (COUNT(*) AS ?n) WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }} GROUP BY ?g }} }}"  # noqa: E501
    r = c.post(
        "/sparql",
        data={"update": f"DROP GRAPH <{out}> ; {named}", "using-named-graph-uri": ONTOLOGY_GRAPH},
        headers=AUTH,
    )
    assert r.status_code == 204, r.text
    seen = _rows(c, f"SELECT ?g WHERE {{ GRAPH <{out}> {{ ?g <urn:x:seen> ?n }} }}")
    assert [row["g"]["value"] for row in seen] == [ONTOLOGY_GRAPH]


@pytest.mark.parametrize(
    "update, params, status, code",
    [
        # the Protocol: parameters and the update's own USING / WITH together are an error
        (
            f"WITH <{DATA_GRAPH}> DELETE {{ ?s ?p ?o }} WHERE {{ ?s ?p ?o }}",
            {"using-graph-uri": DATA_GRAPH},
            400,
            "bad_request",
        ),
        (
            f"DELETE {{ ?s ?p ?o }} USING NAMED <{DATA_GRAPH}> WHERE {{ ?s ?p ?o }}",
            {"using-named-graph-uri": DATA_GRAPH},
            400,
            "bad_request",
        ),
        # as for USING <g>: a graph the store does not hold (not in fetch_allow) is refused
        (
            "DELETE { ?s ?p ?o } WHERE { ?s ?p ?o }",
            {"using-graph-uri": "http://127.0.0.1:1/data"},
            403,
            "forbidden",
        ),
        (
            "DELETE { ?s ?p ?o } WHERE { ?s ?p ?o }",
            {"using-graph-uri": "not-an-iri"},
            400,
            "invalid_parameter",
        ),
    ],
)
def test_update_dataset_parameters_refused(
    reasoning_client: FlaskClient, update: str, params: dict, status: int, code: str
) -> None:
    c = reasoning_client
    before = _rows(c, SELECT_ALL)
    r = c.post(
        "/sparql",
        query_string=params,
        data=update,
        content_type="application/sparql-update",
        headers={**AUTH, "Accept": "application/json"},
    )
    assert r.status_code == status, r.text
    assert r.json["error"] == code
    assert _rows(c, SELECT_ALL) == before


# --- row cap ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "xml", "csv", "tsv"])
def test_row_cap_is_signalled(client: FlaskClient, fmt: str) -> None:
    q = "SELECT ?x WHERE { VALUES ?x { 1 2 3 4 5 } }"
    r = client.get("/sparql", query_string={"query": q, "format": fmt})
    assert r.status_code == 200
    assert r.headers["X-Virtkg-Truncated"] == "true"
    assert r.headers["X-Virtkg-Row-Limit"] == "2"
    if fmt == "json":
        data = r.json
        assert data["truncated"] is True and len(data["results"]["bindings"]) == 2
    elif fmt == "xml":
        assert r.data.count(b"<result>") == 2 and b"truncated" in r.data
    else:
        assert len(r.data.strip().splitlines()) == 3  # header + 2


def test_row_cap_on_construct(client: FlaskClient) -> None:
    r = client.get(
        "/sparql", query_string={"query": "CONSTRUCT WHERE { ?s ?p ?o }", "format": "nt"}
    )
    assert r.headers.get("X-Virtkg-Truncated") == "true"
    assert len(list(ox.parse(r.data, format=ox.RdfFormat.N_TRIPLES))) == 2


def test_small_result_is_not_truncated(client: FlaskClient) -> None:
    r = client.get("/sparql", query_string={"query": "SELECT ?x { VALUES ?x { 1 2 } }"})
    assert "X-Virtkg-Truncated" not in r.headers


# --- service description ---------------------------------------------------------------------


def test_service_description_states_entailment_and_graphs(client: FlaskClient) -> None:
    r = client.get("/sparql", headers={"Accept": "text/turtle"})
    assert r.status_code == 200 and r.mimetype == "text/turtle"
    g = ox.Store()
    g.load(r.data, format=ox.RdfFormat.TURTLE)
    sd = "http://www.w3.org/ns/sparql-service-description#"
    assert g.query(
        f"""PREFIX sd: <{sd}> ASK {{ ?s a sd:Service ; sd:endpoint <http://localhost/sparql> ;
        sd:defaultEntailmentRegime <http://www.w3.org/ns/entailment/OWL-RL> ;
        sd:feature sd:UnionDefaultGraph ; sd:supportedLanguage sd:SPARQL11Update ;
        sd:defaultDataset ?d .
        ?d sd:namedGraph [ sd:name <{ONTOLOGY_GRAPH}> ], [ sd:name <{DATA_GRAPH}> ],
                         [ sd:name <{INFERRED_GRAPH}> ] }}"""
    )
    assert b"inference=none" in r.data


# --- SPARQLWrapper against the live server ---------------------------------------------------


def _wrapper(url: str, query: str, fmt: str) -> SPARQLWrapper:
    sparql = SPARQLWrapper(url)
    sparql.setQuery(query)
    sparql.setReturnFormat(fmt)
    return sparql


def test_sparqlwrapper_select_json(live: str) -> None:
    data = _wrapper(live, "SELECT ?c WHERE { ?c ?p ?o } LIMIT 1", JSON).queryAndConvert()
    assert data["head"]["vars"] == ["c"] and len(data["results"]["bindings"]) == 1


def test_sparqlwrapper_select_xml(live: str) -> None:
    doc = _wrapper(live, "SELECT ?c WHERE { ?c ?p ?o } LIMIT 1", XML).queryAndConvert()
    assert doc.getElementsByTagName("result").length == 1


def test_sparqlwrapper_select_csv(live: str) -> None:
    text = _wrapper(live, "SELECT ?c WHERE { ?c ?p ?o } LIMIT 1", CSV).queryAndConvert()
    assert text.decode().splitlines()[0] == "c"


def test_sparqlwrapper_ask(live: str) -> None:
    assert _wrapper(live, ASSERTED, JSON).queryAndConvert()["boolean"] is True


def test_sparqlwrapper_construct(live: str) -> None:
    sparql = _wrapper(live, f"CONSTRUCT WHERE {{ <{DOCKER}> ?p ?o }}", TURTLE)
    graph = sparql.queryAndConvert()
    triples = (
        list(ox.parse(graph, format=ox.RdfFormat.TURTLE))
        if isinstance(graph, bytes)
        else list(graph)
    )
    assert len(triples) == 2


def test_sparqlwrapper_post(live: str) -> None:
    sparql = _wrapper(live, ASSERTED, JSON)
    sparql.setMethod("POST")
    assert sparql.queryAndConvert()["boolean"] is True


def test_service_description_cache_stays_bounded(client: FlaskClient) -> None:
    """Each Host header makes its own endpoint IRI; the cache of descriptions does not grow."""
    from virtkg.http.sparql import SERVICE_DESCRIPTION_CACHE

    state = client.application.extensions["virtkg"]
    for i in range(SERVICE_DESCRIPTION_CACHE * 2):
        response = client.get(
            "/sparql", headers={"Host": f"h{i}.example", "Accept": "application/n-triples"}
        )
        assert response.status_code == 200
        assert f"<http://h{i}.example/sparql>" in response.get_data(as_text=True)
    assert 0 < len(state.cache) <= SERVICE_DESCRIPTION_CACHE
