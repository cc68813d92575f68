"""The SPARQL 1.1 Protocol endpoint: ``/sparql`` (query, update, service description).

Queries are answered by :mod:`virtkg.http.protocol` (the hot path, in front of Flask); this
blueprint serves what else comes to ``/sparql``: the service description (``GET`` with no
parameters), updates, and queries when the app runs without that middleware.

Update: ``POST`` form-encoded (``update=``) or ``POST application/sparql-update``; off unless
``update_token`` is set, then ``Authorization: Bearer <token>`` is required. After each update the
inferred graph is recomputed from the asserted graphs (so the default graph stays "asserted +
entailed"); an update that would make the knowledge base inconsistent is undone and answered 400.
Relative IRIs in updates are resolved against the endpoint URL.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable

import pyoxigraph as ox
from flask import Blueprint, Response, request
from pyoxigraph import Triple

from virtkg.errors import (
    BadRequest,
    Forbidden,
    InconsistentKnowledgeBase,
    QuerySyntaxError,
    Unauthorized,
)
from virtkg.http import get_state
from virtkg.http.executor import on_deep_stack
from virtkg.http.guard import analyze, check_fetches
from virtkg.http.negotiate import graph_media_type
from virtkg.http.protocol import (
    ENVIRON_KEY,
    ProtocolRequest,
    answer_query,
    check_ready,
    endpoint_url,
    is_local_graph_check,
    read_request,
    single,
    with_charset,
)
from virtkg.http.service_description import service_description
from virtkg.reasoning import materialize
from virtkg.store.base import ASSERTED_GRAPHS, INFERRED_GRAPH, KnowledgeStore

bp = Blueprint("sparql", __name__)
#: Service descriptions kept (per endpoint URL and media type; the URL comes from the request).
SERVICE_DESCRIPTION_CACHE = 64


@bp.route("/sparql", methods=["GET", "POST"])
def sparql() -> Response:
    """SPARQL 1.1 Protocol: query, update, or (no parameters) the service description."""
    environ = request.environ
    preq: ProtocolRequest | None = environ.get(ENVIRON_KEY)
    if preq is None:
        preq = read_request(environ, get_state().settings.max_body_bytes)
    params, query, update = preq.params, preq.query, preq.update
    if update is not None:
        if request.method != "POST":
            raise BadRequest("updates must be sent with POST")
        return _update(update, params)
    if query is None:
        if request.method in ("GET", "HEAD") and set(params) <= {"format", "output"}:
            return _service_description(params)
        raise BadRequest("missing query: give query= (or update=) or POST a SPARQL body")
    answer = answer_query(get_state(), preq, environ)
    headers = [(k, v) for k, v in answer.headers if k != "Content-Length"]
    return Response(answer.body, status=answer.status, headers=headers)


def _check_token() -> None:
    token = get_state().settings.update_token
    if not token:
        raise Forbidden(
            "SPARQL Update is switched off on this service (set update_token to enable it)"
        )
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given:
        raise Unauthorized("SPARQL Update needs an Authorization: Bearer <token> header")
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise Unauthorized("wrong update token")


def _update(update: str, params: dict[str, list[str]]) -> Response:
    state = get_state()
    _check_token()
    check_ready(state)
    for name in ("using-graph-uri", "using-named-graph-uri"):
        if params.get(name):
            raise BadRequest(
                f"{name} is not supported by this service; use USING / USING NAMED in the update"
            )
    base = endpoint_url(request.environ)
    info = analyze(update, base)
    check_fetches(update, state.settings.fetch_allow, is_local_graph_check(state), base, info)
    store = state.store
    kwargs: dict[str, object] = {"base_iri": base or None}
    if info.services:
        kwargs["allow_service"] = True

    def run() -> None:
        undo = _undo_point(store)
        try:
            # the engine parses the client's text here, in the server process: on a deep stack
            on_deep_stack(lambda: store.update(update, **kwargs))
        except SyntaxError as exc:
            raise QuerySyntaxError(str(exc)) from exc
        try:
            rematerialize(store)
        except InconsistentKnowledgeBase as exc:
            undo()
            raise BadRequest(
                "the update was not applied: it would make the knowledge base inconsistent "
                f"({exc.message})",
                details={"reason": exc.code, **exc.details},
            ) from exc
        except BaseException:
            undo()
            raise

    try:
        state.executor.write(run)
    finally:
        state.cache.clear()  # the service description counts triples
    return Response(status=204)


def asserted_triples(store: KnowledgeStore) -> list[Triple]:
    """The triples of the asserted graphs (ontology + data) as the store holds them now."""
    engine = getattr(store, "engine", None)
    if isinstance(engine, ox.Store):
        return [
            q.triple
            for graph in ASSERTED_GRAPHS
            for q in engine.quads_for_pattern(None, None, None, ox.NamedNode(graph))
        ]
    return [t for graph in ASSERTED_GRAPHS for t in _graph(store, graph)]


def rematerialize(store: KnowledgeStore) -> int:
    """Reason over the asserted graphs again and replace the inferred graph with the result.

    Raises :class:`~virtkg.errors.InconsistentKnowledgeBase` (the store is then left as it was
    before this call). Returns the number of inferred triples.
    """
    inferred = materialize(asserted_triples(store)).inferred
    store.replace_graph(INFERRED_GRAPH, inferred)
    return len(inferred)


def _undo_point(store: KnowledgeStore) -> Callable[[], None]:
    """A function that puts the store back as it is now.

    Embedded: the whole dataset (every graph, blank node labels kept). Other stores: the asserted
    graphs only (an update's changes to other graphs of a remote store are not undone).
    """
    snapshot = getattr(store, "snapshot", None)
    restore = getattr(store, "restore", None)
    if callable(snapshot) and callable(restore):
        saved = snapshot()
        return lambda: restore(saved)
    graphs = {g: _graph(store, g) for g in ASSERTED_GRAPHS}

    def put_back() -> None:
        for graph, triples in graphs.items():
            store.replace_graph(graph, triples)

    return put_back


def _graph(store: KnowledgeStore, graph: str) -> list[Triple]:
    """One named graph's triples, through the store's query interface."""
    result = store.query(
        "CONSTRUCT { ?s ?p ?o } WHERE { GRAPH ?g { ?s ?p ?o } }",
        bindings={"g": ox.NamedNode(graph)},
    )
    return list(getattr(result, "triples", []))


def _service_description(params: dict[str, list[str]]) -> Response:
    state = get_state()
    fmt = single(params, "format") or single(params, "output")
    media = graph_media_type(request.headers.get("Accept"), fmt)
    key = (request.base_url, media)
    body = state.cache.get(key)
    if body is None:
        body = service_description(state, request.base_url, media)
        if len(state.cache) >= SERVICE_DESCRIPTION_CACHE:  # keys hold the client's Host header
            state.cache.clear()
        state.cache[key] = body
    resp = Response(body, content_type=with_charset(media))
    resp.headers["Vary"] = "Accept"
    return resp
