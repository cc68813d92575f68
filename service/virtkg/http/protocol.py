"""The SPARQL 1.1 Protocol's query operation, on a plain WSGI environ (no Flask).

``/sparql`` queries are the service's hot path: a small lookup costs the engine about 20 µs, and
Flask's request machinery (context, routing, hooks, response object) cost several times that.
So :class:`SparqlQueryMiddleware` sits in front of the Flask app and answers every ``GET`` or
``POST`` to ``/sparql`` that carries a query straight from the WSGI environ, with the same
parsing, guard, negotiation, executor, error bodies, CORS headers, metrics and access log as the
rest of the service (the shared pieces live in :mod:`~virtkg.http.errors` and
:mod:`~virtkg.http.ops`). Updates, the service description, ``HEAD`` and ``OPTIONS`` go on to
the Flask blueprint in :mod:`~virtkg.http.sparql`, which reads requests with the same
:func:`read_request`.

Dataset: by default the default graph is the union of every graph (asserted + inferred) and all
named graphs are available. ``default-graph-uri`` / ``named-graph-uri`` (repeatable) select graphs
by IRI as the Protocol says (no fetching). ``inference=none`` makes the default graph the union of
the two asserted graphs only (the same as passing both of their IRIs as ``default-graph-uri``).
Relative IRIs in queries are resolved against the endpoint URL.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import pyoxigraph as ox
from werkzeug.http import parse_options_header
from werkzeug.wsgi import get_current_url

from virtkg.errors import (
    BadRequest,
    InvalidParameter,
    PayloadTooLarge,
    StoreUnavailable,
    UnsupportedMediaType,
    VirtkgError,
)
from virtkg.http.errors import error_parts, log_error, status_for
from virtkg.http.guard import Analysis, analyze, check_fetches, require_form
from virtkg.http.negotiate import result_media_type
from virtkg.http.ops import access_log_line, cors_headers
from virtkg.store.base import ASSERTED_GRAPHS, GRAPH_BASE, Dataset

if TYPE_CHECKING:
    from virtkg.http import ServiceState

FORM = "application/x-www-form-urlencoded"
SPARQL_QUERY = "application/sparql-query"
SPARQL_UPDATE = "application/sparql-update"
#: Values of the ``inference`` parameter.
INFERENCE_VALUES = ("full", "none")
#: The path the endpoint answers on (relative to the app's mount point, ``SCRIPT_NAME``).
ENDPOINT = "/sparql"
#: Longest URL query string whose parsed parameters are cached.
CACHE_MAX_URL_CHARS = 8192
#: Key of the parsed request in the environ, so the Flask view does not read the body again.
ENVIRON_KEY = "virtkg.protocol_request"

log = logging.getLogger("virtkg.http")

WsgiApp = Callable[[dict, Callable], Iterable[bytes]]


@dataclass
class ProtocolRequest:
    """What a ``/sparql`` request asks: its parameters (URL + form) and query or update text."""

    method: str
    params: dict[str, list[str]]
    query: str | None = None
    update: str | None = None


@dataclass
class Answer:
    """A complete HTTP answer: status line, headers and body."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


# --- reading a request ----------------------------------------------------------------------


def read_request(environ: dict, max_body_bytes: int) -> ProtocolRequest:
    """Parse a ``/sparql`` request: URL parameters, form or SPARQL body, one query or update.

    Raises 400 (malformed, more than one query, both a query and an update, non-UTF-8), 413 (body
    over ``max_body_bytes``) and 415 (a body that is not a form or SPARQL text).
    """
    parsed = _url_parameters_of(environ.get("QUERY_STRING", ""))
    params: dict[str, list[str]] = {k: list(v) for k, v in parsed.items()}
    method = environ.get("REQUEST_METHOD", "GET")
    query: str | None = None
    update: str | None = None
    if method == "POST":
        mimetype, options = _content_type(environ.get("CONTENT_TYPE", ""))
        if mimetype not in (FORM, SPARQL_QUERY, SPARQL_UPDATE):
            got = f"Content-Type {mimetype}" if mimetype else "no Content-Type"
            raise UnsupportedMediaType(
                f"{got}: POST {FORM}, {SPARQL_QUERY} or {SPARQL_UPDATE}",
                details={"accepted": [FORM, SPARQL_QUERY, SPARQL_UPDATE]},
            )
        body = read_body(environ, max_body_bytes)
        if mimetype == FORM:
            text = _decode(body, options, "form")
            try:
                form = parse_qs(text, keep_blank_values=True, errors="strict")
            except UnicodeError:
                raise BadRequest("the form body is not valid UTF-8 once percent-decoded") from None
            for key, values in form.items():
                params.setdefault(key, []).extend(values)
        elif mimetype == SPARQL_QUERY:
            query = _decode(body, options, "query")
        else:
            update = _decode(body, options, "update")
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
    return ProtocolRequest(method, params, query, update)


@functools.lru_cache(maxsize=256)
def _url_parameters(query_string: str) -> dict[str, tuple[str, ...]]:
    """The URL's parameters, percent-decoded (cached: clients repeat their requests).

    Percent-encoded bytes that are not UTF-8 are refused (400), in the URL and in form bodies
    alike. The caller copies the lists before changing them.
    """
    try:
        parsed = parse_qs(
            query_string.encode("latin-1").decode(), keep_blank_values=True, errors="strict"
        )
    except UnicodeError:
        raise BadRequest("the URL's parameters are not valid UTF-8 once percent-decoded") from None
    return {k: tuple(v) for k, v in parsed.items()}


def _url_parameters_of(query_string: str) -> dict[str, tuple[str, ...]]:
    """:func:`_url_parameters`, cached for query strings up to CACHE_MAX_URL_CHARS."""
    if len(query_string) <= CACHE_MAX_URL_CHARS:
        return _url_parameters(query_string)
    return _url_parameters.__wrapped__(query_string)


@functools.lru_cache(maxsize=64)
def _content_type(header: str) -> tuple[str, dict[str, str]]:
    """``(mimetype, parameters)`` of a Content-Type header, lower-cased like werkzeug's."""
    mimetype, options = parse_options_header(header)
    return mimetype.lower(), {k.lower(): v for k, v in options.items()}


def read_body(environ: dict, limit: int) -> bytes:
    """The request body, refused with 413 over ``limit`` bytes (declared or actually sent)."""
    length_header = environ.get("CONTENT_LENGTH") or ""
    try:
        length = int(length_header) if length_header else None
    except ValueError:
        raise BadRequest(f"Content-Length {length_header!r} is not a number") from None
    if length is not None and (length < 0 or length > limit):
        raise PayloadTooLarge(
            f"the request body has {length} bytes; the limit is {limit}",
            details={"max_body_bytes": limit},
        )
    stream = environ.get("wsgi.input")
    try:
        if stream is None:
            body = b""
        elif length is not None:
            body = _read_at_most(stream, length)
        elif environ.get("wsgi.input_terminated"):  # chunked: count while reading
            body = _read_at_most(stream, limit + 1)
        else:  # no length and no chunking: no body (as werkzeug treats it)
            body = b""
    except (OSError, ValueError) as exc:  # e.g. a malformed chunk header
        raise BadRequest(f"the request body could not be read: {exc}") from None
    if len(body) > limit:
        raise PayloadTooLarge(
            f"the request body is over the {limit}-byte limit", details={"max_body_bytes": limit}
        )
    return body


def _read_at_most(stream: Any, size: int) -> bytes:
    """Read up to ``size`` bytes from a WSGI input stream (stops early at its end)."""
    chunks: list[bytes] = []
    got = 0
    while got < size:
        chunk = stream.read(min(65536, size - got))
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _decode(body: bytes, options: dict[str, str], what: str) -> str:
    charset = options.get("charset", "utf-8").lower()
    if charset not in ("utf-8", "utf8"):
        raise UnsupportedMediaType(f"{what} bodies must be UTF-8, not {charset}")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"the {what} body is not valid UTF-8: {exc}") from exc


def single(params: dict[str, list[str]], name: str) -> str | None:
    """The one value of parameter ``name`` (None when absent; 400 when repeated)."""
    values = params.get(name, [])
    if len(values) > 1:
        raise InvalidParameter(f"{name} is given {len(values)} times; give it once")
    return values[0] if values else None


def protocol_dataset(params: dict[str, list[str]]) -> Dataset | None:
    """The query dataset from default-graph-uri, named-graph-uri and inference."""
    defaults = tuple(params.get("default-graph-uri", ()))
    named = tuple(params.get("named-graph-uri", ()))
    inference = (single(params, "inference") or "full").lower()
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


def from_clauses(info: Analysis) -> Dataset | None:
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


_BASES: dict[tuple[str, str, str, str, str], str] = {}


def endpoint_url(environ: dict) -> str:
    """The endpoint URL, the base relative IRIs resolve against (Protocol: it "MAY" be that).

    Cached per scheme, host and path (building it costs several URL conversions). Empty when the
    Host header does not make a valid IRI: then relative IRIs are simply not resolved, instead of
    every query failing.
    """
    key = (
        environ.get("wsgi.url_scheme", ""),
        environ.get("HTTP_HOST", ""),
        environ.get("SERVER_NAME", ""),
        environ.get("SCRIPT_NAME", ""),
        environ.get("PATH_INFO", ""),
    )
    base = _BASES.get(key)
    if base is None:
        try:
            base = get_current_url(environ, strip_querystring=True)
            ox.NamedNode(base)
        except (ValueError, KeyError):
            base = ""
        if len(_BASES) >= 256:  # the Host header is client-chosen: keep the cache bounded
            _BASES.clear()
        _BASES[key] = base
    return base


def is_local_graph_check(state: ServiceState) -> Callable[[str], bool]:
    """A predicate: is this IRI one of the store's own graphs?"""

    def is_local(iri: str) -> bool:
        if iri.startswith(GRAPH_BASE):
            return True
        return iri in set(state.store.graph_names())

    return is_local


def check_ready(state: ServiceState) -> None:
    """503 when the knowledge base is not loaded and reasoned (or the store is down)."""
    problem = state.not_ready_reason() if not state.ready else ""
    if problem:
        raise StoreUnavailable(f"the knowledge base is not ready: {problem}")


# --- answering a query ----------------------------------------------------------------------


def answer_query(state: ServiceState, request: ProtocolRequest, environ: dict) -> Answer:
    """Run ``request.query`` and return the serialized result (typed errors are raised)."""
    assert request.query is not None
    query = request.query
    params = request.params
    check_ready(state)
    dataset = protocol_dataset(params)
    base = endpoint_url(environ)
    info = analyze(query, base)  # one lexer pass (cached) for the form, SERVICE and FROM
    if info.uses:
        check_fetches(query, state.settings.fetch_allow, is_local_graph_check(state), base, info)
    if dataset is None:
        dataset = from_clauses(info)
    form = require_form(info)
    fmt = single(params, "format") or single(params, "output")
    media = result_media_type(form, environ.get("HTTP_ACCEPT"), fmt)
    # allow_service=True: check_fetches has vetted every SERVICE IRI, the store need not re-lex.
    outcome = state.executor.run(query, media, dataset, True, base or None, bounded=info.bounded)
    body = outcome.raw.body
    headers = [
        ("Content-Type", with_charset(outcome.raw.media_type)),
        ("Content-Length", str(len(body))),
        ("Vary", "Accept"),
    ]
    if outcome.truncated:
        headers.append(("X-Virtkg-Truncated", "true"))
        headers.append(("X-Virtkg-Row-Limit", str(state.settings.max_rows)))
    return Answer(200, headers, body)


@functools.lru_cache(maxsize=64)
def with_charset(media: str) -> str:
    """``media`` with ``; charset=utf-8`` added to text types that do not name one."""
    if media.startswith("text/") and "charset" not in media:
        return media + "; charset=utf-8"
    return media


# --- the WSGI front ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=32)
def _status_line(status: int) -> str:
    return f"{status} {HTTPStatus(status).phrase}"


class SparqlQueryMiddleware:
    """Answers ``/sparql`` queries itself; passes every other request to ``app`` (Flask)."""

    def __init__(self, app: WsgiApp, state: ServiceState) -> None:
        self.app = app
        self.state = state

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD")
        if environ.get("PATH_INFO") != ENDPOINT or method not in ("GET", "POST"):
            return self.app(environ, start_response)
        start = time.perf_counter()
        state = self.state
        error_code: str | None = None
        try:
            request = read_request(environ, state.settings.max_body_bytes)
            if request.query is None:  # an update or the service description: the blueprint's
                environ[ENVIRON_KEY] = request
                return self.app(environ, start_response)
            answer = answer_query(state, request, environ)
        except VirtkgError as exc:
            status = status_for(exc)
            log_error(exc, status)
            headers, body = error_parts(
                status, exc.code, exc.message, exc.details, environ.get("HTTP_ACCEPT"), True
            )
            answer = Answer(status, headers, body)
            error_code = exc.code
        except Exception:  # noqa: BLE001 - never a trace to the client; logged with it
            log.exception("unhandled error on %s %s", method, ENDPOINT)
            headers, body = error_parts(
                500,
                "internal_error",
                "internal server error; see the server log",
                None,
                environ.get("HTTP_ACCEPT"),
                True,
            )
            answer = Answer(500, headers, body)
            error_code = "internal_error"
        origins = state.settings.cors_origins
        if origins:
            answer.headers.extend(cors_headers(origins, environ))
        start_response(_status_line(answer.status), answer.headers)
        seconds = time.perf_counter() - start
        state.metrics.observe(ENDPOINT, method, answer.status, seconds)
        access_log_line(environ, ENDPOINT, answer.status, seconds, len(answer.body), error_code)
        return [answer.body]
