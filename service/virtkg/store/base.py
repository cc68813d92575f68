"""The store interface every backend implements (embedded pyoxigraph, remote SPARQL server).

Terms are pyoxigraph's (``NamedNode``, ``BlankNode``, ``Literal``, ``Triple``) for every backend,
so callers never care where the data lives.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from pyoxigraph import BlankNode, Literal, NamedNode, Triple

Term = NamedNode | BlankNode | Literal

#: Named graphs the knowledge base is loaded into.
GRAPH_BASE = "https://w3id.org/virtkg/graph/"
ONTOLOGY_GRAPH = GRAPH_BASE + "ontology"
DATA_GRAPH = GRAPH_BASE + "data"
INFERRED_GRAPH = GRAPH_BASE + "inferred"
ASSERTED_GRAPHS = (ONTOLOGY_GRAPH, DATA_GRAPH)
ALL_GRAPHS = (ONTOLOGY_GRAPH, DATA_GRAPH, INFERRED_GRAPH)


@dataclass(frozen=True)
class Dataset:
    """Which graphs a query sees (the SPARQL Protocol's default-graph-uri / named-graph-uri).

    ``default_graphs=None`` means the union of every graph (asserted and inferred).
    As in the protocol, once either field is set only the listed named graphs are visible to
    ``GRAPH``: ``named_graphs=None`` then means none. ``Dataset()`` is the same as no dataset:
    union default graph, every named graph visible.
    """

    @property
    def is_default(self) -> bool:
        """True when nothing is restricted (same as passing no dataset)."""
        return self.default_graphs is None and self.named_graphs is None

    default_graphs: tuple[str, ...] | None = None
    named_graphs: tuple[str, ...] | None = None


ASSERTED_ONLY = Dataset(default_graphs=ASSERTED_GRAPHS)


@dataclass
class SelectResult:
    variables: list[str]
    rows: list[dict[str, Term]]


@dataclass
class AskResult:
    value: bool


@dataclass
class GraphResult:
    triples: list[Triple] = field(default_factory=list)


QueryResult = SelectResult | AskResult | GraphResult


@dataclass(frozen=True)
class RawResult:
    """A query result already serialized by the engine, ready to send to an HTTP client."""

    body: bytes
    media_type: str


@runtime_checkable
class KnowledgeStore(Protocol):
    """What the reasoning core and the HTTP layer need from a store."""

    name: str

    def query(
        self,
        sparql: str,
        *,
        bindings: Mapping[str, Term] | None = None,
        dataset: Dataset | None = None,
        allow_service: bool = False,
        base_iri: str | None = None,
    ) -> QueryResult:
        """Run a SPARQL query; ``bindings`` are bound safely by the engine, never formatted in.

        ``dataset=None`` means the default graph is the union of all graphs. A query with a
        ``SERVICE`` clause raises :class:`~virtkg.errors.Forbidden` unless ``allow_service``.
        ``base_iri`` is the base relative IRIs in the text are resolved against (the text's own
        ``BASE`` still wins); without it a relative IRI is a syntax error (embedded) or resolved
        by the server (remote).
        """
        ...

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
        """Run a query and return the engine's own serialization in ``media_type``.

        Raises :class:`~virtkg.errors.NotAcceptable` when the result cannot be given in that type.
        """
        ...

    def update(
        self,
        sparql: str,
        *,
        allow_service: bool = False,
        base_iri: str | None = None,
        using: Dataset | None = None,
    ) -> None:
        """Run a SPARQL 1.1 Update (``SERVICE`` in its WHERE is Forbidden unless allowed).

        ``base_iri`` as for :meth:`query`. ``using`` is the Protocol's update dataset
        (using-graph-uri / using-named-graph-uri): the dataset of every ``DELETE/INSERT ... WHERE``
        operation; an update with its own ``USING`` or ``WITH`` is then refused (BadRequest).
        """
        ...

    def replace_graph(self, graph: str, triples: Iterable[Triple]) -> None:
        """Atomically (as far as the backend allows) replace a named graph's content."""
        ...

    def graph_names(self) -> Sequence[str]:
        """IRIs of the named graphs in the store."""
        ...

    def count(self, graph: str | None = None) -> int:
        """Number of triples in one named graph, or in all named graphs together."""
        ...

    def ping(self) -> None:
        """Raise :class:`~virtkg.errors.StoreUnavailable` unless the store answers."""
        ...

    def close(self) -> None:
        """Release resources."""
        ...
