"""The remote backend: any SPARQL 1.1 server, over the SPARQL Protocol and Graph Store Protocol.

Queries and updates go through SPARQLWrapper; results are parsed with pyoxigraph, so callers get
the same terms as from the embedded store. The server is expected to use the union of its named
graphs as the default graph (Oxigraph: ``serve --union-default-graph``; Fuseki:
``tdb2:unionDefaultGraph``), which is what ``dataset=None`` means.

Relative IRIs: ``base_iri`` (the HTTP layer passes the request URL of ``/sparql``) is sent as a
leading ``BASE`` declaration (see :func:`with_base`), so relative IRIs resolve against virtkg's
endpoint as with the embedded store, not against the remote server's own URL.

Thread safety: every call builds its own SPARQLWrapper and HTTP connection, so one
:class:`RemoteStore` may be shared by any number of threads. A failed call leaves nothing behind:
the next call after the server comes back simply works.
"""

from __future__ import annotations

import ast
import http.client
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping, Sequence

from pyoxigraph import (
    Literal,
    NamedNode,
    QueryResultsFormat,
    RdfFormat,
    Triple,
    parse,
    parse_query_results,
    serialize,
)
from SPARQLWrapper import POST, SPARQLWrapper
from SPARQLWrapper import SPARQLExceptions as sw_errors

from virtkg.config import Settings
from virtkg.errors import (
    BadRequest,
    InvalidParameter,
    NotAcceptable,
    QuerySyntaxError,
    QueryTimeout,
    StoreUnavailable,
    VirtkgError,
)
from virtkg.store.base import Dataset, GraphResult, QueryResult, RawResult, Term
from virtkg.store.embedded import check_no_service, normalize_result, own_dataset, to_quads
from virtkg.store.sparql_text import add_values_block, check_no_dataset_clause

_RESULTS_JSON = QueryResultsFormat.JSON.media_type
_NTRIPLES = RdfFormat.N_TRIPLES.media_type
#: Accept header for :meth:`RemoteStore.query`: JSON results for SELECT/ASK, N-Triples for graphs.
QUERY_ACCEPT = f"{_RESULTS_JSON}, {_NTRIPLES};q=0.9"
#: Largest SPARQL Update request body when a graph is replaced without a Graph Store endpoint.
MAX_UPDATE_BYTES = 4_000_000
#: A graph name that never holds data, used to ask a server for an empty default graph.
EMPTY_GRAPH = "urn:virtkg:empty-graph"


class RemoteStore:
    """A :class:`~virtkg.store.base.KnowledgeStore` backed by a SPARQL 1.1 server."""

    name = "remote"

    def __init__(
        self,
        endpoint: str,
        *,
        update_endpoint: str = "",
        gsp_endpoint: str = "",
        timeout: float = 10.0,
        max_update_bytes: int = MAX_UPDATE_BYTES,
    ) -> None:
        """Talk to ``endpoint`` (queries), ``update_endpoint`` (default: the same URL) and,
        if given, ``gsp_endpoint`` (Graph Store Protocol, used by :meth:`replace_graph`).
        ``timeout`` bounds every HTTP call in seconds; it does not stop work on the server.
        """
        if not endpoint:
            raise BadRequest("the remote store needs a SPARQL endpoint URL")
        for url in (endpoint, update_endpoint, gsp_endpoint):
            if url and urllib.parse.urlsplit(url).scheme not in ("http", "https"):
                raise BadRequest(f"not an http(s) URL: {url!r}")
        self.endpoint = endpoint
        self.update_endpoint = update_endpoint or endpoint
        self.gsp_endpoint = gsp_endpoint
        self.timeout = timeout
        self.max_update_bytes = max_update_bytes

    @classmethod
    def from_settings(cls, settings: Settings) -> RemoteStore:
        """The store ``settings.endpoint`` / ``update_endpoint`` / ``gsp_endpoint`` describe."""
        return cls(
            settings.endpoint,
            update_endpoint=settings.update_endpoint,
            gsp_endpoint=settings.gsp_endpoint,
            timeout=settings.query_timeout,
        )

    # -- HTTP ---------------------------------------------------------------------------------

    def _send(
        self,
        *,
        query: str | None = None,
        update: str | None = None,
        accept: str = QUERY_ACCEPT,
        dataset: Dataset | None = None,
        using: Dataset | None = None,
    ) -> tuple[bytes, str]:
        """POST a query or an update; return the body and Content-Type, errors made typed.

        ``dataset`` is a query's dataset; ``using`` an update's (the Protocol's using-graph-uri /
        using-named-graph-uri), both sent as protocol parameters.
        """
        wrapper = SPARQLWrapper(self.endpoint, updateEndpoint=self.update_endpoint)
        wrapper.setMethod(POST)
        wrapper.setOnlyConneg(True)
        # Set the text and its kind directly: setQuery() would guess the kind from the text with
        # a regular expression (and warn when it cannot).
        wrapper.queryString = query if query is not None else update or ""
        wrapper.queryType = "SELECT" if query is not None else "INSERT"
        wrapper.timeout = self.timeout  # type: ignore[assignment]  # float, not int(): 0.5 s works
        if query is not None:
            wrapper.addCustomHttpHeader("Accept", accept)
        if query is not None and dataset is None:
            # the server's union default graph would override the query's own FROM clauses
            dataset = own_dataset(query)
        for name, graph in self._dataset_parameters(dataset) + _using_parameters(using):
            wrapper.addParameter(name, graph)
        what = "query" if query is not None else "update"
        try:
            response = wrapper.query().response
            return response.read(), response.headers.get("Content-Type", "")
        except sw_errors.QueryBadFormed as exc:
            raise QuerySyntaxError(_server_message(exc)) from exc
        except urllib.error.HTTPError as exc:
            raise _http_error(exc.code, _read(exc), what) from exc
        except sw_errors.SPARQLWrapperException as exc:
            raise StoreUnavailable(
                f"the remote store failed the {what}: {_server_message(exc)}"
            ) from exc
        except TimeoutError as exc:
            raise QueryTimeout(f"the remote {what} took longer than {self.timeout} s") from exc
        except (OSError, http.client.HTTPException) as exc:  # URLError, refused, reset
            raise StoreUnavailable(f"cannot reach {self.endpoint}: {_reason(exc)}") from exc

    def _dataset_parameters(self, dataset: Dataset | None) -> list[tuple[str, str]]:
        """Protocol parameters giving the same dataset as the embedded store would see."""
        if dataset is None or dataset.is_default:
            return []  # the server's default: union default graph, all named graphs
        defaults = dataset.default_graphs
        if defaults is None:  # union default graph, spelled out
            defaults = tuple(self.graph_names())
        named = dataset.named_graphs or ()
        if not defaults:  # an empty default graph: name one that does not exist
            defaults = (EMPTY_GRAPH,)
        return [("default-graph-uri", g) for g in defaults] + [
            ("named-graph-uri", g) for g in named
        ]

    def _gsp(self, method: str, graph: str, body: bytes | None = None) -> None:
        """One Graph Store Protocol request on ``graph``."""
        separator = "&" if "?" in self.gsp_endpoint else "?"
        url = self.gsp_endpoint + separator + urllib.parse.urlencode({"graph": graph})
        request = urllib.request.Request(url, data=body, method=method)  # noqa: S310
        if body is not None:
            request.add_header("Content-Type", _NTRIPLES)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                response.read()
        except urllib.error.HTTPError as exc:
            if method == "DELETE" and exc.code == 404:
                return  # nothing to delete
            if exc.code == 400:
                raise BadRequest(f"the graph store rejected the data: {_read(exc)}") from exc
            raise _http_error(exc.code, _read(exc), "graph store request") from exc
        except TimeoutError as exc:
            raise QueryTimeout(f"the graph store took longer than {self.timeout} s") from exc
        except (OSError, http.client.HTTPException) as exc:
            raise StoreUnavailable(f"cannot reach {self.gsp_endpoint}: {_reason(exc)}") from exc

    # -- KnowledgeStore -----------------------------------------------------------------------

    def query(
        self,
        sparql: str,
        *,
        bindings: Mapping[str, Term] | None = None,
        dataset: Dataset | None = None,
        allow_service: bool = False,
        base_iri: str | None = None,
    ) -> QueryResult:
        """Run a query; ``bindings`` become a VALUES block (see ``add_values_block``)."""
        check_no_service(sparql, allow_service)
        if bindings:
            sparql = add_values_block(sparql, bindings)
        sparql = with_base(sparql, base_iri)
        body, content_type = self._send(query=sparql, dataset=dataset)
        media_type = content_type.split(";", 1)[0].strip().lower()
        try:
            if media_type == _RESULTS_JSON:
                return normalize_result(parse_query_results(body, QueryResultsFormat.JSON))
            if media_type in (_NTRIPLES, "text/plain"):
                quads = parse(body, RdfFormat.N_TRIPLES)
                return GraphResult(triples=[quad.triple for quad in quads])
        except (SyntaxError, ValueError) as exc:
            raise StoreUnavailable(f"the remote store sent an unreadable result: {exc}") from exc
        raise StoreUnavailable(f"the remote store answered with {content_type or 'no type'}")

    def query_raw(
        self,
        sparql: str,
        media_type: str,
        *,
        dataset: Dataset | None = None,
        bindings: Mapping[str, Term] | None = None,
        allow_service: bool = False,
        base_iri: str | None = None,
    ) -> RawResult:
        """Run a query with ``Accept: media_type``; return the server's bytes and Content-Type."""
        check_no_service(sparql, allow_service)
        if bindings:
            sparql = add_values_block(sparql, bindings)
        sparql = with_base(sparql, base_iri)
        body, content_type = self._send(query=sparql, accept=media_type, dataset=dataset)
        return RawResult(body, content_type or media_type)

    def update(
        self,
        sparql: str,
        *,
        allow_service: bool = False,
        base_iri: str | None = None,
        using: Dataset | None = None,
    ) -> None:
        """Run a SPARQL 1.1 Update on the update endpoint.

        ``using`` is sent as the Protocol's using-graph-uri / using-named-graph-uri parameters
        (refused with :class:`~virtkg.errors.BadRequest` when the update has its own USING or
        WITH, as the Protocol says, before anything is sent).
        """
        check_no_service(sparql, allow_service)
        if using is not None and not using.is_default:
            check_no_dataset_clause(sparql)
        self._send(update=with_base(sparql, base_iri), using=using)

    def replace_graph(self, graph: str, triples: Iterable[Triple]) -> None:
        """Replace a named graph: one Graph Store PUT (atomic on the server) when there is a GSP
        endpoint, else ``DROP SILENT GRAPH`` + ``INSERT DATA`` as SPARQL Update requests of at most
        ``max_update_bytes`` (atomic only when it fits in one request; blank nodes keep their
        identity only within one request).

        The input is read and checked first, so bad input leaves the old graph untouched.
        """
        quads = to_quads(graph, triples)
        target = NamedNode(graph)
        if self.gsp_endpoint:
            if quads:
                body = serialize([q.triple for q in quads], format=RdfFormat.N_TRIPLES)
                self._gsp("PUT", graph, body)
            else:
                self._gsp("DELETE", graph)
            return
        lines = [f"{q.subject} {q.predicate} {q.object} ." for q in quads]
        requests: list[list[str]] = [[]]
        size = 0
        for line in lines:
            if size + len(line) > self.max_update_bytes and requests[-1]:
                requests.append([])
                size = 0
            requests[-1].append(line)
            size += len(line) + 1
        for number, chunk in enumerate(requests):
            parts = [f"DROP SILENT GRAPH {target}"] if number == 0 else []
            if chunk:
                parts.append(f"INSERT DATA {{ GRAPH {target} {{\n" + "\n".join(chunk) + "\n} }")
            self._send(update=" ;\n".join(parts))

    def graph_names(self) -> Sequence[str]:
        """IRIs of the server's named graphs, sorted."""
        result = self.query("SELECT DISTINCT ?g WHERE { GRAPH ?g { } }")
        assert not isinstance(result, GraphResult)
        rows = getattr(result, "rows", [])
        return sorted(row["g"].value for row in rows if isinstance(row.get("g"), NamedNode))

    def count(self, graph: str | None = None) -> int:
        """Triples in one named graph, or in all named graphs together."""
        pattern = f"GRAPH {NamedNode(graph)}" if graph else "GRAPH ?g"
        result = self.query(f"SELECT (COUNT(*) AS ?n) WHERE {{ {pattern} {{ ?s ?p ?o }} }}")
        rows = getattr(result, "rows", [])
        value = rows[0].get("n") if rows else None
        return int(value.value) if isinstance(value, Literal) else 0

    def ping(self) -> None:
        """Raise :class:`StoreUnavailable` unless the server answers a trivial query."""
        try:
            self.query("ASK {}")
        except StoreUnavailable:
            raise
        except VirtkgError as exc:
            raise StoreUnavailable(f"the remote store did not answer: {exc.message}") from exc

    def close(self) -> None:
        """Nothing to release: connections are per call."""


def _using_parameters(using: Dataset | None) -> list[tuple[str, str]]:
    """An update's dataset as using-graph-uri / using-named-graph-uri parameters (IRIs checked)."""
    if using is None:
        return []
    params = [("using-graph-uri", g) for g in using.default_graphs or ()]
    params += [("using-named-graph-uri", g) for g in using.named_graphs or ()]
    for _, graph in params:
        try:
            NamedNode(graph)
        except ValueError as exc:
            raise InvalidParameter(
                f"not an absolute IRI: {graph!r}", details={"iri": graph}
            ) from exc
    return params


def with_base(sparql: str, base_iri: str | None) -> str:
    """``sparql`` with a leading ``BASE`` declaration for ``base_iri`` (unchanged without one).

    The SPARQL Protocol has no base parameter, so the base travels in the text. The IRI is checked
    and serialized by the engine (``NamedNode``), never formatted from raw input, so it cannot add
    syntax. A prologue may hold several ``BASE`` declarations: one in the text itself still wins
    (and a relative one is resolved against this). It is put on the first line so line numbers in
    the server's error messages stay right.
    """
    if not base_iri:
        return sparql
    try:
        node = NamedNode(base_iri)
    except ValueError as exc:
        raise InvalidParameter(f"not a valid base IRI: {base_iri!r}") from exc
    return f"BASE {node} {sparql}"


def _read(exc: urllib.error.HTTPError) -> str:
    try:
        return exc.read().decode("utf-8", "replace").strip()
    except OSError:
        return ""


def _reason(exc: BaseException) -> str:
    return str(getattr(exc, "reason", None) or exc)


def _server_message(exc: sw_errors.SPARQLWrapperException) -> str:
    """The server's own error text, from a SPARQLWrapper exception (it keeps only a repr)."""
    text = str(exc)
    marker = "Response:\n"
    if marker not in text:
        return text
    raw = text.split(marker, 1)[1]
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return raw.strip()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace").strip()
    return str(value).strip()


def _http_error(status: int, message: str, what: str) -> VirtkgError:
    """The typed error for an HTTP error status from the server."""
    if status == 400:
        return QuerySyntaxError(message or f"the server rejected the {what}")
    if status == 406:
        return NotAcceptable(message or "the server cannot produce that media type")
    if status in (413, 415):
        return BadRequest(f"the server rejected the {what} ({status}): {message}")
    return StoreUnavailable(f"the remote store failed the {what} ({status}): {message}")
