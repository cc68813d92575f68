"""The embedded backend: a pyoxigraph store in this process, in memory or on disk (RocksDB).

Thread safety: one :class:`EmbeddedStore` may be shared by any number of threads. pyoxigraph's
store is safe for concurrent use, gives each query a consistent snapshot ("repeatable read"),
applies each update atomically, and releases the GIL while it evaluates, so a light query is not
held up by a heavy one. There is no timeout or cancellation: a runaway query runs to its end.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from uuid import uuid4

from pyoxigraph import (
    Literal,
    NamedNode,
    Quad,
    QueryBoolean,
    QueryResultsFormat,
    QuerySolutions,
    QueryTriples,
    RdfFormat,
    Store,
    Triple,
    parse,
)

from virtkg.config import Settings
from virtkg.errors import (
    BadRequest,
    Forbidden,
    InvalidParameter,
    NotAcceptable,
    QuerySyntaxError,
    StoreUnavailable,
)
from virtkg.store.base import (
    AskResult,
    Dataset,
    GraphResult,
    QueryResult,
    RawResult,
    SelectResult,
    Term,
)
from virtkg.store.sparql_text import (
    add_using_clauses,
    add_values_block,
    check_bindings,
    find_service_iris,
    from_clauses,
)

#: Media types :meth:`EmbeddedStore.query_raw` serializes, by query kind.
RESULTS_MEDIA_TYPES = tuple(
    f.media_type
    for f in (
        QueryResultsFormat.JSON,
        QueryResultsFormat.XML,
        QueryResultsFormat.CSV,
        QueryResultsFormat.TSV,
    )
)
GRAPH_MEDIA_TYPES = tuple(
    f.media_type
    for f in (
        RdfFormat.TURTLE,
        RdfFormat.N_TRIPLES,
        RdfFormat.RDF_XML,
        RdfFormat.N_QUADS,
        RdfFormat.JSON_LD,
        RdfFormat.TRIG,
        RdfFormat.N3,
    )
)


def check_no_service(sparql: str, allow_service: bool) -> None:
    """Raise :class:`~virtkg.errors.Forbidden` for a SERVICE clause unless allowed."""
    if allow_service:
        return
    iris = find_service_iris(sparql)
    if iris:
        raise Forbidden(
            "SERVICE (federated query) is not allowed here",
            details={"service_iris": iris},
        )


def media_type_essence(media_type: str) -> str:
    """``"Text/Turtle; charset=utf-8"`` -> ``"text/turtle"``."""
    return media_type.split(";", 1)[0].strip().lower()


def normalize_result(result: QuerySolutions | QueryBoolean | QueryTriples) -> QueryResult:
    """Turn a pyoxigraph query result into a :data:`~virtkg.store.base.QueryResult`."""
    if isinstance(result, QueryBoolean):
        return AskResult(bool(result))
    if isinstance(result, QuerySolutions):
        names = [variable.value for variable in result.variables]
        rows: list[dict[str, Term]] = []
        for solution in result:
            row = {}
            for name in names:
                value = solution[name]
                if value is not None:
                    row[name] = value
            rows.append(row)
        return SelectResult(variables=names, rows=rows)
    return GraphResult(triples=list(result))


def serialize_result(
    result: QuerySolutions | QueryBoolean | QueryTriples, media_type: str
) -> RawResult:
    """Serialize a pyoxigraph result in ``media_type``; :class:`NotAcceptable` if it cannot be."""
    essence = media_type_essence(media_type)
    if isinstance(result, QueryTriples):
        rdf_format = RdfFormat.from_media_type(essence)
        if rdf_format is None:
            raise NotAcceptable(
                f"a graph result cannot be sent as {essence}",
                details={"allowed": list(GRAPH_MEDIA_TYPES)},
            )
        return RawResult(result.serialize(format=rdf_format), rdf_format.media_type)
    results_format = QueryResultsFormat.from_media_type(essence)
    if results_format is None:
        raise NotAcceptable(
            f"a SELECT or ASK result cannot be sent as {essence}",
            details={"allowed": list(RESULTS_MEDIA_TYPES)},
        )
    return RawResult(result.serialize(format=results_format), results_format.media_type)


@contextlib.contextmanager
def engine_errors(what: str = "query") -> Iterator[None]:
    """Turn pyoxigraph's exceptions into typed errors. Results are lazy: consume them inside."""
    try:
        yield
    except SyntaxError as exc:
        raise QuerySyntaxError(str(exc)) from exc
    except OSError as exc:
        raise StoreUnavailable(f"the store failed: {exc}") from exc
    except (RuntimeError, ValueError) as exc:
        raise BadRequest(f"{what} failed: {exc}") from exc


def to_quads(graph: str, triples: Iterable[Triple]) -> list[Quad]:
    """Materialize ``triples`` into quads of ``graph``; :class:`BadRequest` on anything else."""
    graph_node = _named_node(graph)
    quads = []
    try:
        for triple in triples:
            if not isinstance(triple, Triple):
                raise BadRequest(f"not an RDF triple: {triple!r}")
            quads.append(Quad(triple.subject, triple.predicate, triple.object, graph_node))
    except (ValueError, TypeError) as exc:
        raise BadRequest(f"invalid triples for {graph}: {exc}") from exc
    return quads


def _base(iri: str) -> str:
    """A base IRI, checked by the engine (InvalidParameter if it is not an absolute IRI)."""
    return _named_node(iri).value


def _named_node(iri: str) -> NamedNode:
    try:
        return NamedNode(iri)
    except (ValueError, TypeError) as exc:
        raise InvalidParameter(f"not a valid IRI: {iri!r}") from exc


def own_dataset(sparql: str, base_iri: str | None = None) -> Dataset | None:
    """The dataset a query's own FROM / FROM NAMED clauses select (None when it has none).

    Mapped explicitly: the union-default-graph option would otherwise override them.
    """
    clauses = from_clauses(sparql, base_iri or "")
    return None if clauses is None else Dataset(default_graphs=clauses[0], named_graphs=clauses[1])


class EmbeddedStore:
    """A :class:`~virtkg.store.base.KnowledgeStore` on pyoxigraph, in this process."""

    name = "embedded"

    def __init__(self, path: str | None = None, *, read_only: bool = False) -> None:
        """Open a store: in memory when ``path`` is empty, else the RocksDB folder ``path``.

        ``read_only=True`` opens an existing folder without a write lock, so several processes
        (e.g. gunicorn workers) can serve the same data.
        """
        self.path = path or None
        self.read_only = read_only
        try:
            if read_only:
                if not self.path:
                    raise BadRequest("a read-only store needs a path")
                self._store: Store | None = Store.read_only(self.path)
            else:
                self._store = Store(self.path)
        except OSError as exc:
            raise StoreUnavailable(f"cannot open the store at {self.path}: {exc}") from exc

    @classmethod
    def from_settings(cls, settings: Settings) -> EmbeddedStore:
        """The store ``settings.store_path`` asks for (in memory when empty)."""
        return cls(settings.store_path or None)

    @property
    def engine(self) -> Store:
        """The underlying pyoxigraph store (for bulk loading and tests)."""
        if self._store is None:
            raise StoreUnavailable("the store is closed")
        return self._store

    def _run(
        self,
        sparql: str,
        bindings: Mapping[str, Term] | None,
        dataset: Dataset | None,
        allow_service: bool,
        base_iri: str | None = None,
    ) -> QuerySolutions | QueryBoolean | QueryTriples:
        check_no_service(sparql, allow_service)
        options: dict[str, object] = {}
        if base_iri:
            options["base_iri"] = _base(base_iri)
        if dataset is None:  # without protocol parameters, the query's own FROM clauses count
            dataset = own_dataset(sparql, base_iri)
        if dataset is None or dataset.default_graphs is None:
            options["use_default_graph_as_union"] = True
        else:
            options["default_graph"] = [_named_node(g) for g in dataset.default_graphs]
        if dataset is not None and not dataset.is_default:
            options["named_graphs"] = [_named_node(g) for g in dataset.named_graphs or ()]
        if bindings:
            options["substitutions"] = check_bindings(bindings)
        try:
            return self.engine.query(sparql, **options)
        except RuntimeError as exc:
            # pyoxigraph substitutes only variables a SELECT projects; bind the others with
            # a VALUES block of engine-serialized terms, as the remote store does.
            if not bindings or "SELECT projection" not in str(exc):
                raise
            del options["substitutions"]
            return self.engine.query(add_values_block(sparql, bindings), **options)

    def query(
        self,
        sparql: str,
        *,
        bindings: Mapping[str, Term] | None = None,
        dataset: Dataset | None = None,
        allow_service: bool = False,
        base_iri: str | None = None,
    ) -> QueryResult:
        """Run a query; ``bindings`` go through pyoxigraph ``substitutions`` (SEP-0007).

        pyoxigraph only substitutes variables that a SELECT projects; other bound variables
        are joined through a VALUES block at the top of the WHERE group (see ``add_values_block``).
        """
        with engine_errors():
            return normalize_result(self._run(sparql, bindings, dataset, allow_service, base_iri))

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
        """Run a query and serialize it with the engine's own writer (see *_MEDIA_TYPES)."""
        with engine_errors():
            result = self._run(sparql, bindings, dataset, allow_service, base_iri)
            return serialize_result(result, media_type)

    def update(
        self,
        sparql: str,
        *,
        allow_service: bool = False,
        base_iri: str | None = None,
        using: Dataset | None = None,
    ) -> None:
        """Run a SPARQL 1.1 Update; it is applied atomically.

        ``using`` (the Protocol's using-graph-uri / using-named-graph-uri) becomes ``USING`` /
        ``USING NAMED`` clauses of each ``DELETE/INSERT ... WHERE`` operation (pyoxigraph's
        update API takes no dataset): see :func:`~virtkg.store.sparql_text.add_using_clauses`.
        """
        check_no_service(sparql, allow_service)
        if using is not None:
            sparql = add_using_clauses(sparql, using.default_graphs or (), using.named_graphs or ())
        base = _base(base_iri) if base_iri else None
        with engine_errors("update"):
            self.engine.update(sparql, base_iri=base)

    def snapshot(self) -> bytes:
        """Every quad of the store (all graphs, blank node labels kept), for :meth:`restore`."""
        with engine_errors("snapshot"):
            return self.engine.dump(format=RdfFormat.N_QUADS)

    def restore(self, snapshot: bytes) -> None:
        """Put the store back to a :meth:`snapshot` (not atomic for concurrent readers)."""
        with engine_errors("restore"):
            quads = list(parse(snapshot, format=RdfFormat.N_QUADS))  # keeps blank node labels
            self.engine.clear()
            self.engine.extend(quads)

    def replace_graph(self, graph: str, triples: Iterable[Triple]) -> None:
        """Replace a named graph's content in one transaction.

        The input is read and checked before the store is touched, so bad input (a non-triple, an
        iterator that raises) leaves the old graph as it was. Readers see the old or the new graph,
        never a mix. Blank node identifiers are kept; with blank nodes or triple terms the new
        content is staged in a temporary graph first, which union-default-graph queries may
        see for that moment.
        """
        quads = to_quads(graph, triples)
        target = quads[0].graph_name if quads else _named_node(graph)
        simple = all(
            isinstance(q.subject, NamedNode) and isinstance(q.object, NamedNode | Literal)
            for q in quads
        )
        with engine_errors(f"replacing {graph}"):
            if simple:
                body = " .\n".join(f"{q.subject} {q.predicate} {q.object}" for q in quads)
                insert = f" ;\nINSERT DATA {{ GRAPH {target} {{\n{body}\n}} }}" if quads else ""
                self.engine.update(f"DROP SILENT GRAPH {target}{insert}")
                return
            staging = NamedNode(f"urn:virtkg:staging:{uuid4()}")
            try:
                self.engine.extend(Quad(q.subject, q.predicate, q.object, staging) for q in quads)
                self.engine.update(f"MOVE SILENT GRAPH {staging} TO GRAPH {target}")
            finally:
                self.engine.remove_graph(staging)

    def graph_names(self) -> Sequence[str]:
        """IRIs of the named graphs (blank-node graph names are left out), sorted."""
        with engine_errors():
            return sorted(g.value for g in self.engine.named_graphs() if isinstance(g, NamedNode))

    def count(self, graph: str | None = None) -> int:
        """Triples in one named graph, or in all named graphs together."""
        pattern = f"GRAPH {_named_node(graph)}" if graph else "GRAPH ?g"
        result = self.query(f"SELECT (COUNT(*) AS ?n) WHERE {{ {pattern} {{ ?s ?p ?o }} }}")
        count = result.rows[0].get("n") if isinstance(result, SelectResult) else None
        return int(count.value) if isinstance(count, Literal) else 0

    def ping(self) -> None:
        """Raise :class:`StoreUnavailable` if the store is closed or broken."""
        with engine_errors():
            self.engine.query("ASK {}")

    def close(self) -> None:
        """Flush to disk and release the store (its RocksDB lock goes with the last reference)."""
        if self._store is None:
            return
        if self.path and not self.read_only:
            with contextlib.suppress(OSError):
                self._store.flush()
        self._store = None
