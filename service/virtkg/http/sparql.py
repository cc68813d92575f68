"""The SPARQL 1.1 Protocol endpoint: ``/sparql`` (query, update, service description).

Query: ``GET ?query=``, ``POST`` form-encoded (``query=``) or ``POST application/sparql-query``.
Update: ``POST`` form-encoded (``update=``) or ``POST application/sparql-update``; off unless
``update_token`` is set, then ``Authorization: Bearer <token>`` is required. After each update the
inferred graph is recomputed from the asserted graphs (so the default graph stays "asserted +
entailed"). On the embedded store each update is first tried in a forked child under the query
timeout (503 past it); one that would make the knowledge base inconsistent is answered 400, and
in both cases the store is never touched (see :mod:`virtkg.http.updates`).
Relative IRIs in queries and updates are resolved against the endpoint URL.
``GET`` with no parameters answers the service description.

Dataset: by default the default graph is the union of every graph (asserted + inferred) and all
named graphs are available. ``default-graph-uri`` / ``named-graph-uri`` (repeatable) select graphs
by IRI as the Protocol says (no fetching). ``inference=none`` makes the default graph the union of
the two asserted graphs only (the same as passing both of their IRIs as ``default-graph-uri``).
For updates, ``using-graph-uri`` / ``using-named-graph-uri`` (repeatable) are the dataset of every
``DELETE/INSERT ... WHERE`` operation, as if each had ``USING`` / ``USING NAMED`` clauses; with an
update that has its own ``USING`` or ``WITH`` they are an error (400), as the Protocol says.
"""

from __future__ import annotations

import functools
import hmac
from urllib.parse import parse_qs

import pyoxigraph as ox
from flask import Blueprint, Response, request

from virtkg.errors import (
    BadRequest,
    Forbidden,
    InvalidParameter,
    PayloadTooLarge,
    StoreUnavailable,
    Unauthorized,
    UnsupportedMediaType,
)
from virtkg.http import ServiceState, get_state
from virtkg.http.guard import (
    Analysis,
    analyze,
    check_fetches,
    check_graph_parameters,
    require_form,
)
from virtkg.http.negotiate import graph_media_type, result_media_type
from virtkg.http.service_description import service_description
from virtkg.http.updates import Update, apply_update
from virtkg.store.base import ASSERTED_GRAPHS, GRAPH_BASE, Dataset

bp = Blueprint("sparql", __name__)

FORM = "application/x-www-form-urlencoded"
SPARQL_QUERY = "application/sparql-query"
SPARQL_UPDATE = "application/sparql-update"
#: Parameters that select the query dataset, and the asserted-only switch.
INFERENCE_VALUES = ("full", "none")


def _read_body() -> bytes:
    """The request body, refused with 413 over ``max_body_bytes`` (declared or actually sent)."""
    limit = get_state().settings.max_body_bytes
    length = request.content_length
    if length is not None and length > limit:
        raise PayloadTooLarge(
            f"the request body has {length} bytes; the limit is {limit}",
            details={"max_body_bytes": limit},
        )
    try:
        if length is not None:
            body = request.stream.read(limit)
        elif request.environ.get("wsgi.input_terminated"):  # chunked: count while reading
            body = _read_at_most(request.environ["wsgi.input"], limit + 1)
        else:  # no length and no chunking: no body (as werkzeug treats it)
            body = b""
    except (OSError, ValueError) as exc:  # e.g. a malformed chunk header
        raise BadRequest(f"the request body could not be read: {exc}") from None
    if len(body) > limit:
        raise PayloadTooLarge(
            f"the request body is over the {limit}-byte limit", details={"max_body_bytes": limit}
        )
    return body


def _read_at_most(stream: object, size: int) -> bytes:
    """Read up to ``size`` bytes from a raw (chunked, undeclared-length) input stream."""
    chunks: list[bytes] = []
    got = 0
    while got < size:
        chunk = stream.read(min(65536, size - got))  # type: ignore[attr-defined]
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _decode(body: bytes, what: str) -> str:
    charset = request.mimetype_params.get("charset", "utf-8").lower()
    if charset not in ("utf-8", "utf8"):
        raise UnsupportedMediaType(f"{what} bodies must be UTF-8, not {charset}")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"the {what} body is not valid UTF-8: {exc}") from exc


def _params() -> tuple[dict[str, list[str]], str | None, str | None]:
    """All protocol parameters (URL + form body) and the query / update text."""
    # The URL parameters parsed straight into lists (no MultiDict). Percent-encoded bytes that
    # are not UTF-8 are refused (400), in the URL and in form bodies alike.
    try:
        params: dict[str, list[str]] = parse_qs(
            request.environ.get("QUERY_STRING", "").encode("latin-1").decode(),
            keep_blank_values=True,
            errors="strict",
        )
    except UnicodeError:
        raise BadRequest("the URL's parameters are not valid UTF-8 once percent-decoded") from None
    query: str | None = None
    update: str | None = None
    if request.method == "POST":
        mimetype = request.mimetype
        if mimetype not in (FORM, SPARQL_QUERY, SPARQL_UPDATE):
            got = f"Content-Type {mimetype}" if mimetype else "no Content-Type"
            raise UnsupportedMediaType(
                f"{got}: POST {FORM}, {SPARQL_QUERY} or {SPARQL_UPDATE}",
                details={"accepted": [FORM, SPARQL_QUERY, SPARQL_UPDATE]},
            )
        body = _read_body()
        if mimetype == FORM:
            text = _decode(body, "form")
            try:
                form = parse_qs(text, keep_blank_values=True, errors="strict")
            except UnicodeError:
                raise BadRequest("the form body is not valid UTF-8 once percent-decoded") from None
            for key, values in form.items():
                params.setdefault(key, []).extend(values)
        elif mimetype == SPARQL_QUERY:
            query = _decode(body, "query")
        else:
            update = _decode(body, "update")
    queries = params.pop("query", [])
    updates = params.pop("update", [])
    if len(queries) + (query is not None) > 1:
        raise BadRequest("more than one query in the request")
    if len(updates) + (update is not None) > 1:
        raise BadRequest("more than one update in the request")
    query = query if query is not None else (queries[0] if queries else None)
    update = update if update is not None else (updates[0] if updates else None)
    if query is not None and update is not None:
        raise BadRequest("a request carries either a query or an update, not both")
    return params, query, update


def _single(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name, [])
    if len(values) > 1:
        raise InvalidParameter(f"{name} is given {len(values)} times; give it once")
    return values[0] if values else None


def _dataset(params: dict[str, list[str]]) -> Dataset | None:
    """The query dataset from default-graph-uri, named-graph-uri and inference."""
    defaults = tuple(params.get("default-graph-uri", []))
    named = tuple(params.get("named-graph-uri", []))
    inference = (_single(params, "inference") or "full").lower()
    if inference not in INFERENCE_VALUES:
        raise InvalidParameter(
            f"inference={inference!r} is not known; use none or full",
            details={"allowed": list(INFERENCE_VALUES)},
        )
    if inference == "none":
        if defaults:
            raise InvalidParameter("give either inference=none or default-graph-uri, not both")
        defaults = ASSERTED_GRAPHS
    if not defaults and not named:
        return None
    # The Protocol: a dataset given by parameters has exactly those graphs (an empty default
    # graph when only named graphs are given, no named graphs when only default graphs are).
    return Dataset(default_graphs=defaults, named_graphs=named)


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


def _from_clauses(info: Analysis) -> Dataset | None:
    """The dataset the query's own FROM / FROM NAMED clauses select (None without any).

    The store maps them too (``store.embedded.own_dataset``); doing it here from the request's
    cached analysis spares the store a second lexer pass. Protocol parameters, when given,
    replace these clauses (as the Protocol requires).
    """
    uses = info.fetches
    defaults = tuple(u.iri for u in uses if u.keyword == "FROM")
    named = tuple(u.iri for u in uses if u.keyword == "FROM NAMED")
    if not defaults and not named:
        return None
    return Dataset(default_graphs=defaults, named_graphs=named)


def _is_local_graph_check(state: ServiceState):  # noqa: ANN202 - returns a predicate
    def is_local(iri: str) -> bool:
        if iri.startswith(GRAPH_BASE):
            return True
        return iri in set(state.store.graph_names())

    return is_local


def _check_ready(state: ServiceState) -> None:
    problem = state.not_ready_reason() if not state.ready else ""
    if problem:
        raise StoreUnavailable(f"the knowledge base is not ready: {problem}")


@bp.route("/sparql", methods=["GET", "POST"])
def sparql() -> Response:
    """SPARQL 1.1 Protocol: query, update, or (no parameters) the service description."""
    params, query, update = _params()
    if update is not None:
        if request.method != "POST":
            raise BadRequest("updates must be sent with POST")
        return _update(update, params)
    if query is None:
        if request.method == "GET" and set(params) <= {"format", "output"}:
            return _service_description(params)
        raise BadRequest("missing query: give query= (or update=) or POST a SPARQL body")
    return _query(query, params)


_BASES: dict[tuple[str, str, str, str], str] = {}


def _base_url() -> str:
    """The endpoint URL, the base relative IRIs resolve against (Protocol: it "MAY" be that).

    Cached per scheme, host and path (werkzeug's ``request.base_url`` costs several URL
    conversions a request). Empty when the Host header does not make a valid IRI: then relative
    IRIs are simply not resolved, instead of every query failing.
    """
    env = request.environ
    key = (
        env.get("wsgi.url_scheme", ""),
        env.get("HTTP_HOST", ""),
        env.get("SCRIPT_NAME", ""),
        env.get("PATH_INFO", ""),
    )
    base = _BASES.get(key)
    if base is None:
        base = request.base_url
        try:
            ox.NamedNode(base)
        except ValueError:
            base = ""
        if len(_BASES) >= 256:  # the Host header is client-chosen: keep the cache bounded
            _BASES.clear()
        _BASES[key] = base
    return base


def _query(query: str, params: dict[str, list[str]]) -> Response:
    state = get_state()
    _check_ready(state)
    dataset = _dataset(params)
    base = _base_url()
    info = analyze(query, base)  # one lexer pass (cached) for the form, SERVICE and FROM
    check_fetches(query, state.settings.fetch_allow, _is_local_graph_check(state), base, info)
    if dataset is None:
        dataset = _from_clauses(info)
    form = require_form(info)
    fmt = _single(params, "format") or _single(params, "output")
    media = result_media_type(form, request.environ.get("HTTP_ACCEPT"), fmt)
    # allow_service=True: check_fetches has vetted every SERVICE IRI, the store need not re-lex.
    outcome = state.executor.run(query, media, dataset, True, base or None)
    resp = Response(
        outcome.raw.body, headers=_VARY_ACCEPT, content_type=_with_charset(outcome.raw.media_type)
    )
    if outcome.truncated:
        resp.headers["X-Virtkg-Truncated"] = "true"
        resp.headers["X-Virtkg-Row-Limit"] = str(state.settings.max_rows)
    return resp


#: Headers of every query answer (a tuple: werkzeug copies it into the response's own headers).
_VARY_ACCEPT = (("Vary", "Accept"),)


@functools.lru_cache(maxsize=64)
def _with_charset(media: str) -> str:
    if media.startswith("text/") and "charset" not in media:
        return media + "; charset=utf-8"
    return media


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
    _check_ready(state)
    base = _base_url()
    info = analyze(update, base)
    is_local = _is_local_graph_check(state)
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
    fmt = _single(params, "format") or _single(params, "output")
    media = graph_media_type(request.headers.get("Accept"), fmt)
    key = (request.base_url, media)
    body = state.cache.get(key)
    if body is None:
        body = service_description(state, request.base_url, media)
        state.cache[key] = body
    resp = Response(body, content_type=_with_charset(media))
    resp.headers["Vary"] = "Accept"
    return resp
