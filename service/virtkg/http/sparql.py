"""The SPARQL 1.1 Protocol endpoint: ``/sparql`` (query, update, service description).

Queries are answered by :mod:`virtkg.http.protocol` (the hot path, in front of Flask); this
blueprint serves what else comes to ``/sparql``: the service description (``GET`` with no
parameters), updates, and queries when the app runs without that middleware.

Update: ``POST`` form-encoded (``update=``) or ``POST application/sparql-update``; off unless
``update_token`` is set, then ``Authorization: Bearer <token>`` is required. After each update the
inferred graph is recomputed from the asserted graphs (so the default graph stays "asserted +
entailed"). On the embedded store each update is first tried in a forked child under the query
timeout (503 past it); one that would make the knowledge base inconsistent is answered 400, and
in both cases the store is never touched (see :mod:`virtkg.http.updates`).
Relative IRIs in updates are resolved against the endpoint URL.
``using-graph-uri`` / ``using-named-graph-uri`` (repeatable) are the dataset of every
``DELETE/INSERT ... WHERE`` operation, as if each had ``USING`` / ``USING NAMED`` clauses; with an
update that has its own ``USING`` or ``WITH`` they are an error (400), as the Protocol says.
"""

from __future__ import annotations

import hmac

import pyoxigraph as ox
from flask import Blueprint, Response, request

from virtkg.errors import BadRequest, Forbidden, InvalidParameter, Unauthorized
from virtkg.http import get_state
from virtkg.http.guard import analyze, check_fetches, check_graph_parameters
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
from virtkg.http.updates import Update, apply_update
from virtkg.store.base import Dataset

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


def _using_dataset(params: dict[str, list[str]]) -> Dataset | None:
    """The update dataset from using-graph-uri / using-named-graph-uri (None without them).

    As the Protocol says, it is the dataset of every ``DELETE/INSERT ... WHERE`` operation of the
    request (exactly those graphs: no named graphs when only using-graph-uri is given, an empty
    default graph when only using-named-graph-uri is), and an update with its own ``USING`` or
    ``WITH`` is then refused (400, by the store).
    """
    defaults = tuple(params.get("using-graph-uri", []))
    named = tuple(params.get("using-named-graph-uri", []))
    if not defaults and not named:
        return None
    for iri in defaults + named:
        try:
            ox.NamedNode(iri)
        except ValueError:
            raise InvalidParameter(
                f"using-graph-uri / using-named-graph-uri must be absolute IRIs, not {iri!r}",
                details={"iri": iri},
            ) from None
    return Dataset(default_graphs=defaults, named_graphs=named)


def _update(update: str, params: dict[str, list[str]]) -> Response:
    state = get_state()
    _check_token()
    check_ready(state)
    base = endpoint_url(request.environ)
    info = analyze(update, base)
    is_local = is_local_graph_check(state)
    check_fetches(update, state.settings.fetch_allow, is_local, base, info)
    using = _using_dataset(params)
    if using is not None:
        check_graph_parameters(using, state.settings.fetch_allow, is_local)
    operation = Update(update, base or None, bool(info.services), using)
    try:
        apply_update(state.store, state.executor, operation, state.settings.query_timeout)
    finally:
        state.cache.clear()  # the service description counts triples
    return Response(status=204)


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
