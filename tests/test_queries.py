"""Saved queries: header and parameter parsing, typed bindings, errors, every query on the KB."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyoxigraph import Literal, NamedNode

from virtkg.config import PROJECT_ROOT, load_settings
from virtkg.errors import CheckFailed, InvalidParameter
from virtkg.kb import load_knowledge_base
from virtkg.queries import load_saved_queries, parse_parameters
from virtkg.store import SelectResult, open_store

QUERIES = PROJECT_ROOT / "queries"
VKG = "https://w3id.org/virtkg/ontology#"
TECH = "https://w3id.org/virtkg/technology/"
REQUIRED_QUERIES = {
    "technologies-by-isolation",
    "fastest-hardware-isolated",
    "windows-guests",
    "technology-sources",
    "scenarios-for-technology",
    "technologies-for-scenario",
    "contested-facts",
    "needs-nested-virtualization",
    "gpu-options",
    "escape-cves",
    "licences",
    "technologies-by-kind",
}
#: Values for the required parameters when every query is run.
SAMPLE = {
    "technology": TECH + "firecracker",
    "scenario": "https://w3id.org/virtkg/scenario/regulated-isolation",
}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    settings = load_settings(environ={}, cache_dir=str(tmp_path_factory.mktemp("cache")))
    kb = open_store(settings)
    load_knowledge_base(kb, settings)
    yield kb
    kb.close()


@pytest.fixture(scope="module")
def saved():
    return load_saved_queries(QUERIES)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.rq"
    path.write_text(text, encoding="utf-8")
    return path


def test_saved_queries_have_headers(saved):
    assert set(saved) >= REQUIRED_QUERIES
    assert "checks" not in " ".join(saved)  # queries/checks/ is not a saved query folder
    for query in saved.values():
        assert query.title and query.title != query.name, query.name
        assert query.description and query.tags, query.name
        assert all(isinstance(t, str) and t for t in query.tags)
        data = query.to_dict()
        assert set(data) >= {"name", "title", "description", "tags", "parameters", "sparql"}


def test_parameters_are_read_from_the_query(saved):
    params = {p.name: p for p in saved["technology-sources"].parameters}
    assert params["technology"].required and params["technology"].type == "iri"
    assert params["technology"].variable == "_technology_iri"
    optional = saved["technologies-by-isolation"].parameters
    assert [(p.name, p.required, p.type) for p in optional] == [("boundary", False, "iri")]
    assert saved["fastest-hardware-isolated"].parameters[0].type == "decimal"
    assert saved["licences"].parameters[0].type == "string"


def test_parameter_types_and_languages():
    sparql = """#+ summary: x
SELECT ?_a_iri ?__n_integer ?__d_decimal ?_t ?__l_en ?__s_string ?__b_boolean WHERE {
  # ?_ignored_iri in a comment is not a parameter
  ?x ?y ?_a_iri . ?x ?y ?__n_integer , ?__d_decimal , ?_t , ?__l_en , ?__s_string , ?__b_boolean .
  ?x ?y ?_a_iri .
}"""
    params = {p.name: p for p in parse_parameters(sparql)}
    assert list(params) == ["a", "n", "d", "t", "l", "s", "b"]
    assert params["a"].required and not params["n"].required
    assert {n: p.type for n, p in params.items()} == {
        "a": "iri",
        "n": "integer",
        "d": "decimal",
        "t": "string",
        "l": "langString",
        "s": "string",
        "b": "boolean",
    }
    assert params["n"].term("42") == Literal("42", datatype=NamedNode(XSD("integer")))
    assert params["d"].term("2.50") == Literal("2.50", datatype=NamedNode(XSD("decimal")))
    assert params["l"].term("hi") == Literal("hi", language="en")
    assert params["t"].term("hi") == Literal("hi")
    assert params["b"].term("TRUE") == Literal("true", datatype=NamedNode(XSD("boolean")))
    for name, bad in [
        ("a", "not an iri"),
        ("a", "http://x/> } DROP ALL"),
        ("n", "4.2"),
        ("n", "12abc"),
        ("d", "NaN"),
        ("d", "1e"),
        ("b", "yes"),
    ]:
        with pytest.raises(InvalidParameter) as info:
            params[name].term(bad)
        assert info.value.details["name"] == name


def XSD(name: str) -> str:  # noqa: N802
    return "http://www.w3.org/2001/XMLSchema#" + name


def test_header_lists_and_unknown_types(tmp_path):
    write(
        tmp_path,
        "listed",
        """#+ summary: "Listed"
#+ description: d
#+ tags:
#+   - one
#+   - two
#+ method: GET
SELECT ?s WHERE { ?s ?p ?o }
""",
    )
    query = load_saved_queries(tmp_path)["listed"]
    assert (query.title, query.tags, query.parameters) == ("Listed", ["one", "two"], [])
    assert query.extra == {"method": "GET"}
    write(tmp_path, "bad", "SELECT ?_x_weird WHERE { ?s ?p ?_x_weird }")
    with pytest.raises(CheckFailed):
        load_saved_queries(tmp_path)


def test_parameters_must_be_projected(tmp_path):
    write(tmp_path, "hidden", "SELECT ?s WHERE { ?s ?p ?_value }")
    with pytest.raises(CheckFailed) as info:
        load_saved_queries(tmp_path)
    assert info.value.details["variables"] == ["_value"]


@pytest.mark.parametrize("name", sorted(REQUIRED_QUERIES))
def test_every_saved_query_returns_rows(store, saved, name):
    query = saved[name]
    params = {p.name: SAMPLE[p.name] for p in query.parameters if p.required}
    result = query.run(store, params)
    assert isinstance(result, SelectResult)
    assert result.rows, f"{name} returned no rows on the KB"


def test_all_files_in_the_folder_run(store, saved):
    for query in saved.values():
        params = {p.name: SAMPLE[p.name] for p in query.parameters if p.required}
        assert query.run(store, params).rows, query.name


def test_optional_parameters_filter(store, saved):
    query = saved["technologies-by-isolation"]
    everything = query.run(store, {}).rows
    hardware = VKG + "HardwareVirtualizationBoundary"
    some = query.run(store, {"boundary": hardware}).rows
    assert 0 < len(some) < len(everything)
    assert all(row["__boundary_iri"] == NamedNode(hardware) for row in some)
    assert query.run(store, {"boundary": ""}).rows == everything  # empty = not given

    kinds = saved["technologies-by-kind"]
    hybrid = kinds.run(store, {"kind": VKG + "HybridVirtualization"}).rows
    assert 0 < len(hybrid) < len(kinds.run(store, {}).rows)

    fastest = saved["fastest-hardware-isolated"]
    capped = fastest.run(store, {"max": "150"}).rows
    assert capped and all(float(row["startupMs"].value) <= 150 for row in capped)

    licences = saved["licences"]
    gpl = licences.run(store, {"contains": "GPL"}).rows
    assert gpl and all("gpl" in row["licence"].value.lower() for row in gpl)


def test_scenario_queries_agree(store, saved):
    for_scenario = saved["technologies-for-scenario"].run(store, {"scenario": SAMPLE["scenario"]})
    members = {row["technology"].value for row in for_scenario.rows}
    for tech in members:
        scenarios = saved["scenarios-for-technology"].run(store, {"technology": tech}).rows
        assert SAMPLE["scenario"] in {row["scenario"].value for row in scenarios}


def test_missing_and_unknown_parameters(saved, store):
    query = saved["technology-sources"]
    with pytest.raises(InvalidParameter) as info:
        query.run(store, {})
    assert "technology" in info.value.message and info.value.details["name"] == "technology"
    with pytest.raises(InvalidParameter) as info:
        query.run(store, {"technology": SAMPLE["technology"], "tech": "x"})
    assert info.value.details["unknown"] == ["tech"]
    assert info.value.details["allowed"] == ["technology"]
    with pytest.raises(InvalidParameter):
        saved["contested-facts"].run(store, {"anything": "1"})


ATTACKS = ['" } ; DROP ALL ; #', "x' } DROP ALL { '", '\\" ) } ; CLEAR ALL']


@pytest.mark.parametrize("attack", ATTACKS)
def test_injection_is_inert(store, saved, attack):
    before = store.count()
    assert saved["licences"].run(store, {"contains": attack}).rows == []
    with pytest.raises(InvalidParameter):
        saved["technology-sources"].run(store, {"technology": attack})
    with pytest.raises(InvalidParameter):
        saved["fastest-hardware-isolated"].run(store, {"max": attack})
    # a syntactically valid IRI is just an IRI: no rows, nothing dropped
    assert saved["technology-sources"].run(store, {"technology": "urn:x:DROP-ALL"}).rows == []
    assert store.count() == before
