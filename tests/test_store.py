"""Both store backends through the same tests: embedded pyoxigraph and a real Oxigraph server."""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pyoxigraph import (
    BlankNode,
    Literal,
    NamedNode,
    QueryResultsFormat,
    RdfFormat,
    Triple,
    parse,
    parse_query_results,
)

from virtkg.config import Settings
from virtkg.errors import (
    BadRequest,
    Forbidden,
    InvalidParameter,
    NotAcceptable,
    QuerySyntaxError,
    QueryTimeout,
    StoreUnavailable,
)
from virtkg.store import (
    ALL_GRAPHS,
    ASSERTED_ONLY,
    DATA_GRAPH,
    INFERRED_GRAPH,
    ONTOLOGY_GRAPH,
    AskResult,
    Dataset,
    EmbeddedStore,
    GraphResult,
    KnowledgeStore,
    RemoteStore,
    SelectResult,
    open_store,
)
from virtkg.store.sparql_text import (
    add_using_clauses,
    add_values_block,
    check_no_dataset_clause,
    find_service_iris,
    query_form,
)

VKG = "https://w3id.org/virtkg/ontology#"
TECH = "https://w3id.org/virtkg/technology/"
RDF_TYPE = NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
RDFS_LABEL = NamedNode("http://www.w3.org/2000/01/rdf-schema#label")
SUBCLASS = NamedNode("http://www.w3.org/2000/01/rdf-schema#subClassOf")
DECIMAL = NamedNode("http://www.w3.org/2001/XMLSchema#decimal")
PREFIXES = f"PREFIX vkg: <{VKG}> PREFIX tech: <{TECH}> PREFIX rdfs: <{RDFS_LABEL.value[:-5]}>\n"

KVM, DOCKER = NamedNode(TECH + "kvm-qemu"), NamedNode(TECH + "docker")
ONTOLOGY = [
    Triple(NamedNode(VKG + "Hypervisor"), SUBCLASS, NamedNode(VKG + "Technology")),
    Triple(NamedNode(VKG + "ApplicationContainerRuntime"), SUBCLASS, NamedNode(VKG + "Technology")),
]
DATA = [
    Triple(KVM, RDF_TYPE, NamedNode(VKG + "Hypervisor")),
    Triple(KVM, RDFS_LABEL, Literal("KVM/QEMU", language="en")),
    Triple(KVM, NamedNode(VKG + "startupTimeMs"), Literal("500", datatype=DECIMAL)),
    Triple(DOCKER, RDF_TYPE, NamedNode(VKG + "ApplicationContainerRuntime")),
    Triple(DOCKER, RDFS_LABEL, Literal("Docker", language="en")),
]
INFERRED = [
    Triple(KVM, RDF_TYPE, NamedNode(VKG + "Technology")),
    Triple(DOCKER, RDF_TYPE, NamedNode(VKG + "Technology")),
]
CONTENT = {ONTOLOGY_GRAPH: ONTOLOGY, DATA_GRAPH: DATA, INFERRED_GRAPH: INFERRED}
TOTAL = sum(len(triples) for triples in CONTENT.values())


@pytest.fixture(autouse=True)
def _time_limit() -> Iterator[None]:
    """Fail any test here that runs longer than 60 s."""

    def expire(signum: int, frame: object) -> None:
        raise TimeoutError("test took longer than 60 s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def remote_store(url: str, *, gsp: bool = True, timeout: float = 5.0) -> RemoteStore:
    return RemoteStore(
        url + "/query",
        update_endpoint=url + "/update",
        gsp_endpoint=url + "/store" if gsp else "",
        timeout=timeout,
    )


@pytest.fixture(params=["embedded", "remote"])
def store(request: pytest.FixtureRequest) -> Iterator[KnowledgeStore]:
    """An empty store of each kind (the remote one is the session Oxigraph server, cleared)."""
    if request.param == "embedded":
        backend: KnowledgeStore = EmbeddedStore()
    else:
        backend = remote_store(request.getfixturevalue("oxigraph_server"))
        backend.update("DROP ALL")
    yield backend
    backend.close()


@pytest.fixture
def loaded(store: KnowledgeStore) -> KnowledgeStore:
    for graph, triples in CONTENT.items():
        store.replace_graph(graph, triples)
    return store


def select(store: KnowledgeStore, sparql: str, **kwargs: object) -> SelectResult:
    result = store.query(PREFIXES + sparql, **kwargs)  # type: ignore[arg-type]
    assert isinstance(result, SelectResult)
    return result


# -- registry ---------------------------------------------------------------------------------


def test_open_store_by_name(tmp_path: Path, oxigraph_server: str) -> None:
    embedded = open_store(Settings(store_path=str(tmp_path / "db")))
    assert isinstance(embedded, EmbeddedStore) and isinstance(embedded, KnowledgeStore)
    embedded.close()
    remote = open_store(Settings().with_overrides({"endpoint": oxigraph_server + "/query"}))
    assert isinstance(remote, RemoteStore) and isinstance(remote, KnowledgeStore)
    remote.ping()


def test_open_store_unknown_name_lists_the_names() -> None:
    with pytest.raises(BadRequest) as caught:
        open_store(Settings(store="fuseki"))
    assert caught.value.details["allowed"] == ["embedded", "remote"]
    assert "embedded" in caught.value.message and "remote" in caught.value.message


# -- both backends ----------------------------------------------------------------------------


def test_named_graphs_and_counts(loaded: KnowledgeStore) -> None:
    assert list(loaded.graph_names()) == sorted(ALL_GRAPHS)
    for graph, triples in CONTENT.items():
        assert loaded.count(graph) == len(triples)
    assert loaded.count() == TOTAL
    loaded.ping()


def test_default_graph_is_the_union_unless_a_dataset_says_otherwise(loaded: KnowledgeStore) -> None:
    ask = PREFIXES + "ASK { tech:docker a vkg:Technology }"
    assert loaded.query(ask) == AskResult(True)
    assert loaded.query(ask, dataset=ASSERTED_ONLY) == AskResult(False)
    assert loaded.query(ask, dataset=Dataset(default_graphs=(INFERRED_GRAPH,))) == AskResult(True)
    assert loaded.query(ask, dataset=Dataset()) == AskResult(True)


def test_a_query_s_own_from_clause_selects_its_default_graph(loaded: KnowledgeStore) -> None:
    """Without dataset arguments, FROM <g> makes g the default graph (not the union)."""
    ask = "ASK FROM <%s> { ?s a <https://w3id.org/virtkg/ontology#Technology> }"
    assert loaded.query(PREFIXES + ask % INFERRED_GRAPH) == AskResult(True)
    assert loaded.query(PREFIXES + ask % DATA_GRAPH) == AskResult(False)
    # a protocol dataset replaces the query's own clauses
    union = Dataset(default_graphs=(INFERRED_GRAPH,))
    assert loaded.query(PREFIXES + ask % DATA_GRAPH, dataset=union) == AskResult(True)


def test_dataset_named_graphs(loaded: KnowledgeStore) -> None:
    sparql = "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }"
    everything = select(loaded, sparql)
    assert {row["g"].value for row in everything.rows} == set(ALL_GRAPHS)
    only_data = select(loaded, sparql, dataset=Dataset(named_graphs=(DATA_GRAPH,)))
    assert [row["g"].value for row in only_data.rows] == [DATA_GRAPH]
    # As in the protocol: a default-graph restriction alone leaves no named graphs visible.
    assert select(loaded, sparql, dataset=ASSERTED_ONLY).rows == []
    # The default graph stays the union when only named graphs are listed.
    union = select(loaded, "SELECT ?t { tech:kvm-qemu a ?t }", dataset=Dataset(named_graphs=()))
    assert len(union.rows) == 2


def test_select_returns_engine_terms(loaded: KnowledgeStore) -> None:
    result = select(
        loaded,
        "SELECT ?tech ?label ?ms WHERE { ?tech rdfs:label ?label"
        " OPTIONAL { ?tech vkg:startupTimeMs ?ms } } ORDER BY ?label",
    )
    assert result.variables == ["tech", "label", "ms"]
    assert result.rows[0] == {"tech": DOCKER, "label": Literal("Docker", language="en")}
    assert result.rows[1]["ms"] == Literal("500", datatype=DECIMAL)
    assert "ms" not in result.rows[0]  # unbound variables are left out of the row


def test_ask_and_construct(loaded: KnowledgeStore) -> None:
    assert loaded.query("ASK { ?s ?p 42 }") == AskResult(False)
    result = loaded.query(PREFIXES + "CONSTRUCT { ?t a vkg:Thing } WHERE { ?t a vkg:Hypervisor }")
    assert isinstance(result, GraphResult)
    assert result.triples == [Triple(KVM, RDF_TYPE, NamedNode(VKG + "Thing"))]
    short = loaded.query("CONSTRUCT WHERE { ?s ?p ?o }", dataset=Dataset((INFERRED_GRAPH,)))
    assert isinstance(short, GraphResult) and set(short.triples) == set(INFERRED)


def test_bindings_restrict_results(loaded: KnowledgeStore) -> None:
    sparql = "SELECT ?label WHERE { ?tech rdfs:label ?label }"
    result = select(loaded, sparql, bindings={"tech": KVM})
    assert [row["label"] for row in result.rows] == [Literal("KVM/QEMU", language="en")]
    by_label = select(
        loaded,
        "SELECT ?tech WHERE { ?tech rdfs:label ?label }",
        bindings={"label": Literal("Docker", language="en")},
    )
    assert [row["tech"] for row in by_label.rows] == [DOCKER]
    graph = loaded.query(
        "CONSTRUCT WHERE { ?s ?p ?o }", bindings={"s": DOCKER}, dataset=ASSERTED_ONLY
    )
    assert isinstance(graph, GraphResult) and len(graph.triples) == 2


HOSTILE_LITERALS = [
    'Docker"@en } ?tech ?p ?label . #',
    "Docker' } UNION { ?tech ?p ?label }",
    'x" ) } ; DROP ALL ; SELECT * { "',
    "line\nbreak } }",
    "back\\slash\\",
    '"""',
    "> <http://evil/> {",
]


@pytest.mark.parametrize("value", HOSTILE_LITERALS)
def test_injection_attempts_are_inert(loaded: KnowledgeStore, value: str) -> None:
    result = select(
        loaded, "SELECT ?tech WHERE { ?tech rdfs:label ?label }", bindings={"label": Literal(value)}
    )
    assert result.rows == []
    echoed = select(
        loaded, "SELECT ?x WHERE { BIND(STR(?v) AS ?x) }", bindings={"v": Literal(value)}
    )
    assert echoed.rows == [{"x": Literal(value)}]
    assert loaded.count() == TOTAL


@pytest.mark.parametrize(
    "name, value",
    [
        ("label } DROP ALL", Literal("x")),
        ("label", "plain string"),
        ("label", BlankNode()),
        ("label", 42),
    ],
)
def test_bad_bindings_are_rejected(loaded: KnowledgeStore, name: str, value: object) -> None:
    with pytest.raises(InvalidParameter):
        loaded.query("SELECT * { ?s ?p ?label }", bindings={name: value})  # type: ignore[dict-item]


def test_iris_with_syntax_characters_cannot_be_built() -> None:
    for iri in ("http://x/> } DROP ALL", "http://x/ y", 'http://x/"', "http://x/{"):
        with pytest.raises(ValueError):
            NamedNode(iri)


@pytest.mark.parametrize(
    "media_type, results_format",
    [
        ("application/sparql-results+json", QueryResultsFormat.JSON),
        ("application/sparql-results+xml", QueryResultsFormat.XML),
        ("text/csv", QueryResultsFormat.CSV),
        ("text/tab-separated-values", QueryResultsFormat.TSV),
    ],
)
def test_query_raw_results_parse_back(
    loaded: KnowledgeStore, media_type: str, results_format: QueryResultsFormat
) -> None:
    raw = loaded.query_raw(PREFIXES + "SELECT ?t WHERE { ?t a vkg:Hypervisor }", media_type)
    assert raw.media_type.split(";")[0] == media_type
    if results_format == QueryResultsFormat.CSV:  # CSV drops term kinds: compare the text
        assert raw.body.decode().split() == ["t", KVM.value]
        return
    parsed = parse_query_results(raw.body, results_format)
    assert [row["t"] for row in parsed] == [KVM]
    ask = loaded.query_raw("ASK { ?s ?p ?o }", media_type)
    if results_format != QueryResultsFormat.TSV:
        assert bool(parse_query_results(ask.body, results_format)) is True


@pytest.mark.parametrize(
    "rdf_format",
    [
        RdfFormat.TURTLE,
        RdfFormat.N_TRIPLES,
        RdfFormat.RDF_XML,
        RdfFormat.N_QUADS,
        RdfFormat.JSON_LD,
    ],
)
def test_query_raw_graphs_parse_back(loaded: KnowledgeStore, rdf_format: RdfFormat) -> None:
    raw = loaded.query_raw(
        "CONSTRUCT WHERE { ?s ?p ?o }", rdf_format.media_type, dataset=ASSERTED_ONLY
    )
    assert raw.media_type.split(";")[0] == rdf_format.media_type
    triples = {quad.triple for quad in parse(raw.body, rdf_format)}
    assert triples == set(ONTOLOGY + DATA)


def test_query_raw_refuses_a_type_that_does_not_fit(loaded: KnowledgeStore) -> None:
    with pytest.raises(NotAcceptable):
        loaded.query_raw("SELECT * { ?s ?p ?o }", "text/turtle")


def test_syntax_error_is_typed_and_says_where(store: KnowledgeStore) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        store.query("SELECT * WHERE { ?s ?p }")
    assert "1:" in caught.value.message  # line:column from the engine
    with pytest.raises(QuerySyntaxError):
        store.update("INSERT DATA { <http://a> <http://b> }")


def test_update_then_query(store: KnowledgeStore) -> None:
    store.update(
        f"INSERT DATA {{ GRAPH <{DATA_GRAPH}> {{ <{KVM.value}> <{RDFS_LABEL.value}> 'k' }} }}"
    )
    assert store.count(DATA_GRAPH) == 1
    store.update(f"DELETE WHERE {{ GRAPH <{DATA_GRAPH}> {{ ?s ?p ?o }} }}")
    assert store.count() == 0


def test_base_iri_resolves_relative_iris(store: KnowledgeStore) -> None:
    """``base_iri`` resolves relative IRIs in queries and updates; the text's BASE still wins."""
    base = "http://example.org/endpoint"
    store.update(f"INSERT DATA {{ GRAPH <{DATA_GRAPH}> {{ <s> <p> <o> }} }}", base_iri=base)
    rows = select(store, "SELECT ?s WHERE { ?s <p> <o> }", base_iri=base).rows
    assert [row["s"] for row in rows] == [NamedNode("http://example.org/s")]
    rows = select(
        store, "BASE <http://other.example/> SELECT ?x { BIND(<y> AS ?x) }", base_iri=base
    ).rows
    assert rows[0]["x"] == NamedNode("http://other.example/y")
    raw = store.query_raw(
        "CONSTRUCT { <a> <b> <c> } WHERE {}", "application/n-triples", base_iri=base
    )
    assert b"<http://example.org/a>" in raw.body
    with pytest.raises(InvalidParameter):
        store.query("ASK {}", base_iri="not an iri")


G1, G2 = "http://example.org/g1", "http://example.org/g2"
OUT = "http://example.org/out"
#: Copies what the WHERE sees into OUT: the default graph's triples, and (?g) named graphs' ones.
COPY_DEFAULT = f"INSERT {{ GRAPH <{OUT}> {{ ?s ?p ?o }} }} WHERE {{ ?s ?p ?o }}"
COPY_NAMED = f"INSERT {{ GRAPH <{OUT}> {{ ?s ?p ?g }} }} WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}"


def _two_graphs(store: KnowledgeStore) -> None:
    store.update(
        f"INSERT DATA {{ GRAPH <{G1}> {{ <http://a> <http://p> 1 }} "
        f"GRAPH <{G2}> {{ <http://b> <http://p> 2 }} }}"
    )


def _out(store: KnowledgeStore) -> set[tuple[str, str]]:
    rows = select(store, f"SELECT ?s ?o WHERE {{ GRAPH <{OUT}> {{ ?s ?p ?o }} }}").rows
    return {(row["s"].value, row["o"].value) for row in rows}


def test_update_dataset_sets_the_where_graphs(store: KnowledgeStore) -> None:
    """``using`` (using-graph-uri / using-named-graph-uri) is the dataset of the WHERE clause."""
    _two_graphs(store)
    store.update(COPY_DEFAULT, using=Dataset(default_graphs=(G1,)))
    assert _out(store) == {("http://a", "1")}  # g1 only, not g2, not the union
    store.update(f"DROP GRAPH <{OUT}>")
    store.update(COPY_NAMED, using=Dataset(default_graphs=(), named_graphs=(G2,)))
    assert _out(store) == {("http://b", G2)}  # GRAPH ?g sees g2 only
    store.update(f"DROP GRAPH <{OUT}>")
    store.update(COPY_DEFAULT, using=Dataset(default_graphs=(), named_graphs=(G2,)))
    assert _out(store) == set()  # only named graphs given: an empty default graph


@pytest.mark.parametrize(
    "update",
    [
        f"WITH <{G1}> INSERT {{ ?s ?p 3 }} WHERE {{ ?s ?p ?o }}",
        f"INSERT {{ GRAPH <{OUT}> {{ ?s ?p ?o }} }} USING <{G1}> WHERE {{ ?s ?p ?o }}",
        f"CLEAR ALL ; INSERT {{ ?s ?p 3 }} using named <{G1}> WHERE {{ ?s ?p ?o }}",
    ],
)
def test_update_dataset_conflicts_with_using_and_with(store: KnowledgeStore, update: str) -> None:
    """The Protocol: using-graph-uri with an update that has its own USING or WITH is an error."""
    _two_graphs(store)
    with pytest.raises(BadRequest) as caught:
        store.update(update, using=Dataset(default_graphs=(G2,)))
    assert "using-graph-uri" in caught.value.message
    assert store.count() == 2  # nothing ran (not even the CLEAR ALL)


def test_update_dataset_needs_absolute_iris(store: KnowledgeStore) -> None:
    for bad in ("relative", "http://a b", "http://x> } ; DROP ALL ; INSERT DATA { <http://y"):
        with pytest.raises(InvalidParameter):
            store.update(COPY_DEFAULT, using=Dataset(default_graphs=(bad,)))


@pytest.mark.parametrize(
    "sparql, expected",
    [
        # one Modify operation: the clauses go just before its WHERE
        ("INSERT { ?s ?p 1 } WHERE { ?s ?p ?o }", "INSERT { ?s ?p 1 } @WHERE { ?s ?p ?o }"),
        # several operations, the DELETE WHERE short form and the DATA forms take none
        (
            "DELETE WHERE { ?s ?p 0 } ; INSERT DATA { <a:a> <a:b> 1 } ;\n"
            "delete { ?s ?p 1 } insert { ?s ?p 2 } where { ?s ?p 1 }",
            "DELETE WHERE { ?s ?p 0 } ; INSERT DATA { <a:a> <a:b> 1 } ;\n"
            "delete { ?s ?p 1 } insert { ?s ?p 2 } @where { ?s ?p 1 }",
        ),
        (
            "DELETE # a comment WHERE\n WHERE { ?s ?p ?o }",
            "DELETE # a comment WHERE\n WHERE { ?s ?p ?o }",
        ),
        # WHERE of a sub-query, in strings, IRIs, comments, names: not an operation's WHERE
        (
            "INSERT { ?s <a:p> 'WHERE {' } WHERE { { SELECT ?s WHERE { ?s ?p ?o } } }",
            "INSERT { ?s <a:p> 'WHERE {' } @WHERE { { SELECT ?s WHERE { ?s ?p ?o } } }",
        ),
        (
            'PREFIX where: <http://x/WHERE> # WHERE {\nINSERT { ?where where:x """}WHERE""" }'
            " WHERE { ?where <a:WHERE> ?o }",
            'PREFIX where: <http://x/WHERE> # WHERE {\nINSERT { ?where where:x """}WHERE""" }'
            " @WHERE { ?where <a:WHERE> ?o }",
        ),
        # a prologue (pyoxigraph 0.5 refuses one after ';'); graph management operations
        (
            "BASE <http://b/> PREFIX e: <http://e/> CLEAR SILENT GRAPH <g> ;\n"
            "DELETE { e:s ?p ?o } WHERE { e:s ?p ?o } ; COPY SILENT <x> TO GRAPH <y>",
            "BASE <http://b/> PREFIX e: <http://e/> CLEAR SILENT GRAPH <g> ;\n"
            "DELETE { e:s ?p ?o } @WHERE { e:s ?p ?o } ; COPY SILENT <x> TO GRAPH <y>",
        ),
        ("INSERT DATA { <a:a> <a:b> 'WHERE' }", "INSERT DATA { <a:a> <a:b> 'WHERE' }"),
    ],
)
def test_add_using_clauses(sparql: str, expected: str) -> None:
    """Clauses land before each Modify's WHERE (``@``) and nowhere else; the result parses."""
    clauses = f"USING <{G1}> USING <{G2}> USING NAMED <{OUT}> "
    rewritten = add_using_clauses(sparql, (G1, G2), (OUT,))
    assert rewritten == expected.replace("@", clauses)
    EmbeddedStore().engine.update(rewritten)  # the engine accepts it
    check_no_dataset_clause(sparql)


def test_add_using_clauses_writes_iris_with_the_engine() -> None:
    assert add_using_clauses("INSERT {} WHERE {}", ("http://x/\u00e9",), ()) == (
        "INSERT {} USING <http://x/\u00e9> WHERE {}"
    )
    assert add_using_clauses("INSERT {} WHERE {}", (), ()) == "INSERT {} WHERE {}"
    with pytest.raises(BadRequest):
        add_using_clauses(f"WITH <{G1}> DELETE {{ ?s ?p ?o }} WHERE {{ ?s ?p ?o }}", (G2,), ())


@pytest.mark.parametrize(
    "sparql",
    [
        "SELECT * WHERE { SERVICE <http://127.0.0.1:1/sparql> { ?s ?p ?o } }",
        "select * { service silent <http://127.0.0.1:1/> {} }",
        "PREFIX e: <http://127.0.0.1:1/> SELECT * { SERVICE e:x {} }",
    ],
)
def test_service_is_forbidden_by_default(store: KnowledgeStore, sparql: str) -> None:
    with pytest.raises(Forbidden) as caught:
        store.query(sparql)
    assert caught.value.details["service_iris"][0].startswith("http://127.0.0.1:1/")
    with pytest.raises(Forbidden):
        store.query_raw(sparql, "application/sparql-results+json")
    with pytest.raises(Forbidden):
        store.update(
            "INSERT { <http://a> <http://b> ?o } WHERE { SERVICE <http://e/> { ?s ?p ?o } }"
        )


def test_replace_graph_replaces(loaded: KnowledgeStore) -> None:
    new = [Triple(KVM, RDFS_LABEL, Literal("KVM", language="en"))]
    loaded.replace_graph(DATA_GRAPH, new)
    assert loaded.count(DATA_GRAPH) == 1
    assert loaded.count(ONTOLOGY_GRAPH) == len(ONTOLOGY)
    loaded.replace_graph(DATA_GRAPH, [])
    assert loaded.count(DATA_GRAPH) == 0
    assert DATA_GRAPH not in loaded.graph_names()


def _failing_triples() -> Iterator[Triple]:
    yield Triple(KVM, RDFS_LABEL, Literal("half"))
    raise RuntimeError("the producer broke")


@pytest.mark.parametrize(
    "bad_input, error",
    [
        (lambda: [Triple(KVM, RDFS_LABEL, Literal("ok")), ("not", "a", "triple")], BadRequest),
        (_failing_triples, RuntimeError),
        (lambda: [Triple(KVM, RDFS_LABEL, Literal("ok")), None], BadRequest),
    ],
)
def test_replace_graph_is_atomic_on_bad_input(
    loaded: KnowledgeStore, bad_input: Callable[[], object], error: type[Exception]
) -> None:
    with pytest.raises(error):
        loaded.replace_graph(DATA_GRAPH, bad_input())  # type: ignore[arg-type]
    after = select(loaded, f"SELECT ?s ?p ?o WHERE {{ GRAPH <{DATA_GRAPH}> {{ ?s ?p ?o }} }}")
    assert {Triple(r["s"], r["p"], r["o"]) for r in after.rows} == set(DATA)


def test_readers_see_the_old_or_the_new_graph_never_a_mix(loaded: KnowledgeStore) -> None:
    licence = NamedNode(VKG + "licence")
    bigger = DATA + [Triple(DOCKER, licence, Literal(f"L{i}")) for i in range(50)]
    seen: set[int] = set()
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            seen.add(loaded.count(DATA_GRAPH))

    readers = [threading.Thread(target=read) for _ in range(2)]
    for reader in readers:
        reader.start()
    try:
        for _ in range(20):
            loaded.replace_graph(DATA_GRAPH, bigger)
            time.sleep(0.002)  # let the readers run
            loaded.replace_graph(DATA_GRAPH, DATA)
            time.sleep(0.002)
    finally:
        stop.set()
        for reader in readers:
            reader.join(timeout=10)
    assert seen <= {len(DATA), len(bigger)}


def test_replace_graph_rejects_a_bad_graph_name(store: KnowledgeStore) -> None:
    with pytest.raises(BadRequest):
        store.replace_graph("not an iri", DATA)


# -- embedded only ----------------------------------------------------------------------------


def test_embedded_data_survives_reopen(tmp_path: Path) -> None:
    path = str(tmp_path / "store")
    first = open_store(Settings(store_path=path))
    for graph, triples in CONTENT.items():
        first.replace_graph(graph, triples)
    first.close()
    second = EmbeddedStore(path)
    assert second.count() == TOTAL
    assert list(second.graph_names()) == sorted(ALL_GRAPHS)
    second.close()
    reader = EmbeddedStore(path, read_only=True)
    assert reader.count(DATA_GRAPH) == len(DATA)
    reader.close()


def test_embedded_replace_keeps_blank_node_identity() -> None:
    store = EmbeddedStore()
    restriction = BlankNode("restriction1")
    store.replace_graph(ONTOLOGY_GRAPH, [Triple(restriction, RDFS_LABEL, Literal("r"))])
    store.replace_graph(INFERRED_GRAPH, [Triple(KVM, RDF_TYPE, restriction)])
    joined = select(store, "SELECT ?label WHERE { tech:kvm-qemu a ?r . ?r rdfs:label ?label }")
    assert joined.rows == [{"label": Literal("r")}]
    assert store.graph_names() == sorted([ONTOLOGY_GRAPH, INFERRED_GRAPH])  # no staging left


def test_embedded_closed_store_is_unavailable() -> None:
    store = EmbeddedStore()
    store.close()
    with pytest.raises(StoreUnavailable):
        store.ping()


# -- remote only ------------------------------------------------------------------------------


def test_remote_replace_graph_without_graph_store(oxigraph_server: str) -> None:
    store = remote_store(oxigraph_server, gsp=False)
    store.max_update_bytes = 200  # forces several update requests
    store.update("DROP ALL")
    store.replace_graph(DATA_GRAPH, DATA)
    store.replace_graph(DATA_GRAPH, DATA)
    assert store.count(DATA_GRAPH) == len(DATA)
    store.replace_graph(DATA_GRAPH, [])
    assert store.count() == 0


def test_remote_unreachable_then_recovers(spawn_oxigraph: Callable[..., object]) -> None:
    server = spawn_oxigraph()
    store = remote_store(server.url)  # type: ignore[attr-defined]
    store.replace_graph(DATA_GRAPH, DATA)
    server.stop()  # type: ignore[attr-defined]
    started = time.monotonic()
    for call in (
        store.ping,
        lambda: store.query("ASK {}"),
        store.graph_names,
        lambda: store.update("DROP ALL"),
        lambda: store.replace_graph(DATA_GRAPH, DATA),
    ):
        with pytest.raises(StoreUnavailable):
            call()
    assert time.monotonic() - started < 10
    spawn_oxigraph(port=server.port, location=server.location)  # type: ignore[attr-defined]
    store.ping()
    assert store.count(DATA_GRAPH) == len(DATA)


def test_remote_needs_http_urls() -> None:
    with pytest.raises(BadRequest):
        RemoteStore("")
    with pytest.raises(BadRequest):
        RemoteStore("file:///etc/passwd")
    with pytest.raises(BadRequest):
        RemoteStore("http://127.0.0.1:1/query", gsp_endpoint="ftp://x/")


def test_remote_syntax_error_keeps_non_ascii(oxigraph_server: str) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        remote_store(oxigraph_server).query("SELECT * WHERE { ?s ?p ?o ⊥ }")
    assert "b'" not in caught.value.message and "1:" in caught.value.message


def test_remote_timeout_is_typed() -> None:
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        store = remote_store(url, timeout=0.5)
        started = time.monotonic()
        with pytest.raises(QueryTimeout):
            store.query("ASK {}")
        assert time.monotonic() - started < 5


def test_query_raw_json_body(loaded: KnowledgeStore) -> None:
    raw = loaded.query_raw("SELECT (1 AS ?one) {}", "application/sparql-results+json")
    assert b'"one"' in raw.body


# -- SPARQL text helpers ----------------------------------------------------------------------

SERVICE_CASES = [
    ("SELECT * WHERE { SERVICE <http://svc/> { ?s ?p ?o } }", ["http://svc/"]),
    ("select * { service silent <http://svc/> {} }", ["http://svc/"]),
    ("PREFIX e: <http://svc/> SELECT * { SERVICE e:a\\~b {} }", ["http://svc/a~b"]),
    ("BASE <http://svc/> SELECT * { SERVICE <rel> {} }", ["http://svc/rel"]),
    ("SELECT * { BIND(<http://svc/> AS ?e) SERVICE ?e {} }", ["?e"]),
    ('SELECT * { ?s ?p "SERVICE <http://no/> {}" } # SERVICE <http://no/>', []),
    ("SELECT * { ?s ?p '''it's SERVICE <http://no/> {}''' }", []),
    ('SELECT * { ?s ?p "a\\" SERVICE <http://no/> {} " }', []),
    (
        "PREFIX service: <http://x/> PREFIX SERVICE: <http://y/>\n"
        "SELECT ?service { ?service service:x SERVICE:y }",
        [],
    ),
    ('SELECT * { ?s ?p "x"@service }', []),
    ("SELECT * { ?s <http://no/#SERVICE> ?o }", []),
    ("SELECT * { ?s ?p 1.SERVICE<http://svc/>{} }", ["http://svc/"]),
    ("PREFIX e: <http://x/> SELECT * { ?s ?p e:a\\' . SERVICE <http://svc/> {} }", ["http://svc/"]),
    ("PREFIX e: <http://x/> SELECT * { ?s ?p e:a\\# . SERVICE <http://svc/> {} }", ["http://svc/"]),
    ("SELECT * { ?s ?p <http://x\\u0041'> . SERVICE <http://svc/> {} }", ["http://svc/"]),
    ("SELECT * { FILTER(?a<?b) SERVICE<http://svc/>{} }", ["http://svc/"]),
]


@pytest.mark.parametrize("sparql, expected", SERVICE_CASES)
def test_find_service_iris(sparql: str, expected: list[str]) -> None:
    assert find_service_iris(sparql) == expected


def test_service_detection_agrees_with_the_engine() -> None:
    """For each case the engine connects to a SERVICE iff the lexer found one."""
    connections: list[int] = []
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        listener.settimeout(0.2)
        port = listener.getsockname()[1]
        stop = threading.Event()

        def accept() -> None:
            while not stop.is_set():
                try:
                    conn, _ = listener.accept()
                except OSError:
                    continue
                connections.append(1)
                conn.close()

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        store = EmbeddedStore()
        store.replace_graph(DATA_GRAPH, DATA)
        try:
            for sparql, expected in SERVICE_CASES:
                live = sparql.replace("http://svc/", f"http://127.0.0.1:{port}/")
                live = live.replace("SERVICE ?e", f"SERVICE <http://127.0.0.1:{port}/>")
                before = len(connections)
                syntax_error = False
                try:
                    store.query(live, allow_service=True)
                except QuerySyntaxError:
                    syntax_error = True
                except (BadRequest, StoreUnavailable):
                    pass  # the fetch failed: the connection count tells
                time.sleep(0.05)
                fetched = len(connections) > before
                assert not syntax_error, live
                assert fetched == bool(find_service_iris(live)) == bool(expected), live
        finally:
            stop.set()
            thread.join(timeout=2)


@pytest.mark.parametrize(
    "sparql, expected",
    [
        (
            "SELECT * WHERE { ?s ?p ?o }",
            "SELECT * WHERE { VALUES (?s) { (<http://x>) }  ?s ?p ?o }",
        ),
        ("ASK { ?s ?p ?o }", "ASK { VALUES (?s) { (<http://x>) }  ?s ?p ?o }"),
        (
            "SELECT (EXISTS { ?s ?p 1 } AS ?e) { ?s ?p ?o }",
            "SELECT (EXISTS { ?s ?p 1 } AS ?e) { VALUES (?s) { (<http://x>) }  ?s ?p ?o }",
        ),
        (
            "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }",
            "CONSTRUCT { ?s ?p ?o } WHERE { VALUES (?s) { (<http://x>) }  ?s ?p ?o }",
        ),
        (
            "CONSTRUCT WHERE { ?s ?p ?o } LIMIT 1",
            "CONSTRUCT { ?s ?p ?o } WHERE { VALUES (?s) { (<http://x>) }  ?s ?p ?o } LIMIT 1",
        ),
        (
            "# {\nPREFIX a: <http://a/> SELECT * FROM <http://g> { ?s a:b '{' }",
            "# {\nPREFIX a: <http://a/> SELECT * FROM <http://g> { VALUES (?s) { (<http://x>) }"
            "  ?s a:b '{' }",
        ),
    ],
)
def test_add_values_block(sparql: str, expected: str) -> None:
    assert add_values_block(sparql, {"s": NamedNode("http://x")}) == expected


def test_add_values_block_needs_a_group() -> None:
    with pytest.raises(BadRequest):
        add_values_block("DESCRIBE <http://x>", {"s": NamedNode("http://x")})


def test_query_form() -> None:
    assert query_form("PREFIX select: <x:> # SELECT\nASK {}") == "ASK"
    assert query_form("construct where { ?s ?p ?o }") == "CONSTRUCT"
    assert query_form("INSERT DATA {}") is None
