"""A small reader for W3C test manifests (``mf:Manifest``) as used by the SPARQL 1.1 suites.

It follows ``mf:include`` lists from a top manifest and flattens every ``mf:entries`` list into
:class:`Entry` objects: the test type, its files (query or update request, default-graph data,
named-graph data with their graph IRIs) and its expected result. Files are named by ``file://``
IRIs resolved against the manifest, which is also the base every query and data file is read with.

Vocabularies: ``mf:`` (manifest), ``qt:`` (query tests), ``ut:`` (update tests), ``dawgt:``
(approval) and ``rs:`` (result sets written in RDF). See https://w3c.github.io/rdf-tests/.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import unquote, urlparse

import pyoxigraph as ox

MF = "http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#"
QT = "http://www.w3.org/2001/sw/DataAccess/tests/test-query#"
UT = "http://www.w3.org/2009/sparql/tests/test-update#"
RS = "http://www.w3.org/2001/sw/DataAccess/tests/result-set#"
DAWGT = "http://www.w3.org/2001/sw/DataAccess/tests/test-dawg#"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"

NIL = ox.NamedNode(RDF + "nil")


def w3c_suite_dir() -> Path:
    """The W3C SPARQL 1.1 suites: ``$VIRTKG_W3C_DIR``, else ``shared/w3c/sparql11`` beside the
    checkout (where CI and the developers' machines keep the read-only shared material)."""
    from virtkg.config import PROJECT_ROOT

    default = PROJECT_ROOT.parent / "shared" / "w3c" / "sparql11"
    return Path(os.environ.get("VIRTKG_W3C_DIR", default))


def iri_to_path(iri: str) -> Path:
    """``file:///a/b.ttl`` -> ``Path('/a/b.ttl')``."""
    parsed = urlparse(iri)
    if parsed.scheme != "file":
        raise ValueError(f"not a file IRI: {iri}")
    return Path(unquote(parsed.path))


class Graph:
    """The triples of one parsed Turtle file, indexed by (subject, predicate)."""

    def __init__(self, path: Path) -> None:
        self.base = path.resolve().as_uri()
        self._index: dict[tuple[object, str], list[object]] = defaultdict(list)
        for triple in ox.parse(path=str(path), format=ox.RdfFormat.TURTLE, base_iri=self.base):
            self._index[(triple.subject, triple.predicate.value)].append(triple.object)

    def objects(self, subject: object, predicate: str) -> list:
        """Every object of (subject, predicate)."""
        return list(self._index.get((subject, predicate), ()))

    def one(self, subject: object, predicate: str) -> object | None:
        """The first object of (subject, predicate), or None."""
        values = self._index.get((subject, predicate))
        return values[0] if values else None

    def subject_of_type(self, rdf_type: str) -> object | None:
        """A subject with ``rdf:type rdf_type``, or None."""
        wanted = ox.NamedNode(rdf_type)
        for (subject, predicate), objects in self._index.items():
            if predicate == RDF + "type" and wanted in objects:
                return subject
        return None

    def items(self, head: object) -> list:
        """The members of the RDF list starting at ``head``."""
        members = []
        while head is not None and head != NIL:
            members.append(self.one(head, RDF + "first"))
            head = self.one(head, RDF + "rest")
        return members


@dataclass(frozen=True)
class Entry:
    """One manifest entry (one test).

    ``graph_data`` pairs a named graph's IRI with the file loaded into it; for query tests the
    IRI is the file's own IRI (``qt:graphData``), for update tests its ``rdfs:label``.
    Update results are ``result_data`` / ``result_graph_data``; other results are ``result``.
    """

    id: str
    folder: str
    name: str
    kind: str
    approval: str
    comment: str
    query: Path | None = None
    data: tuple[Path, ...] = ()
    graph_data: tuple[tuple[str, Path], ...] = ()
    result: Path | None = None
    result_data: tuple[Path, ...] = ()
    result_graph_data: tuple[tuple[str, Path], ...] = ()
    service_data: bool = False

    @property
    def base_iri(self) -> str | None:
        """The IRI of the query or update file: the base its relative IRIs resolve against."""
        return self.query.as_uri() if self.query else None

    def text(self) -> str:
        """The query or update request text."""
        assert self.query is not None
        return self.query.read_text(encoding="utf-8")


def _paths(graph: Graph, node: object, predicate: str) -> tuple[Path, ...]:
    return tuple(iri_to_path(o.value) for o in graph.objects(node, predicate))


def _update_graphs(graph: Graph, node: object) -> tuple[tuple[str, Path], ...]:
    pairs = []
    for gd in graph.objects(node, UT + "graphData"):
        file_node = graph.one(gd, UT + "graph")
        label = graph.one(gd, RDFS + "label")
        pairs.append((label.value, iri_to_path(file_node.value)))
    return tuple(pairs)


def _entry(graph: Graph, node: ox.NamedNode, folder: str) -> Entry:
    kind_node = graph.one(node, RDF + "type")
    kind = kind_node.value.rsplit("#", 1)[-1] if kind_node else ""
    local = node.value.rsplit("#", 1)[-1] if "#" in node.value else node.value.rsplit("/", 1)[-1]
    name = graph.one(node, MF + "name")
    comment = graph.one(node, RDFS + "comment")
    approval = graph.one(node, DAWGT + "approval")
    common = {
        "id": f"{folder}/{local}",
        "folder": folder,
        "name": name.value if name else local,
        "kind": kind,
        "approval": approval.value.rsplit("#", 1)[-1] if approval else "",
        "comment": comment.value if comment else "",
    }
    action = graph.one(node, MF + "action")
    result = graph.one(node, MF + "result")
    if isinstance(action, ox.NamedNode):  # syntax tests: the action is the file itself
        return Entry(**common, query=iri_to_path(action.value))
    if kind == "UpdateEvaluationTest":
        return Entry(
            **common,
            query=iri_to_path(graph.one(action, UT + "request").value),
            data=_paths(graph, action, UT + "data"),
            graph_data=_update_graphs(graph, action),
            result_data=_paths(graph, result, UT + "data") if result is not None else (),
            result_graph_data=_update_graphs(graph, result) if result is not None else (),
        )
    query = graph.one(action, QT + "query")
    named = tuple((o.value, iri_to_path(o.value)) for o in graph.objects(action, QT + "graphData"))
    return Entry(
        **common,
        query=iri_to_path(query.value) if query is not None else None,
        data=_paths(graph, action, QT + "data"),
        graph_data=named,
        result=iri_to_path(result.value) if isinstance(result, ox.NamedNode) else None,
        service_data=bool(graph.objects(action, QT + "serviceData")),
    )


@cache
def load_entries(manifest: Path) -> tuple[Entry, ...]:
    """Every entry reachable from ``manifest`` through ``mf:include``, in manifest order."""
    graph = Graph(manifest)
    top = ox.NamedNode(graph.base)
    entries: list[Entry] = []
    for included in graph.items(graph.one(top, MF + "include")):
        entries.extend(load_entries(iri_to_path(included.value)))
    folder = manifest.resolve().parent.name
    for node in graph.items(graph.one(top, MF + "entries")):
        entries.append(_entry(graph, node, folder))
    return tuple(entries)


def read_result_set(path: Path) -> ox.QuerySolutions | ox.QueryBoolean | list[dict]:
    """Expected SELECT/ASK results from .srx, .srj, .tsv, .csv, or an ``rs:ResultSet`` in Turtle.

    The Turtle form is returned as a list of ``{variable: term}`` rows (``rs:index`` order when
    given) or a ``QueryBoolean``-like ``bool``.
    """
    suffix = path.suffix.lower()
    formats = {
        ".srx": ox.QueryResultsFormat.XML,
        ".srj": ox.QueryResultsFormat.JSON,
        ".tsv": ox.QueryResultsFormat.TSV,
        ".csv": ox.QueryResultsFormat.CSV,
    }
    if suffix in formats:
        return ox.parse_query_results(path=str(path), format=formats[suffix])
    graph = Graph(path)
    result_set = graph.subject_of_type(RS + "ResultSet")
    if result_set is None:
        raise ValueError(f"{path} holds no rs:ResultSet")
    boolean = graph.one(result_set, RS + "boolean")
    if boolean is not None:
        return boolean.value == "true"
    rows = []
    for solution in graph.objects(result_set, RS + "solution"):
        row = {}
        for binding in graph.objects(solution, RS + "binding"):
            row[graph.one(binding, RS + "variable").value] = graph.one(binding, RS + "value")
        index = graph.one(solution, RS + "index")
        rows.append((int(index.value) if index is not None else 0, row))
    rows.sort(key=lambda pair: pair[0])
    return [row for _, row in rows]


def is_result_set_graph(path: Path) -> bool:
    """True when a result file is an ``rs:ResultSet`` in Turtle (not a CONSTRUCT graph)."""
    return path.suffix == ".ttl" and Graph(path).subject_of_type(RS + "ResultSet") is not None
