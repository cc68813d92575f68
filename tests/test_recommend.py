"""Recommendations: vocabulary, validation, met/unmet/unknown from the reasoned graph, ranking.

Most tests run on the real knowledge base (loaded and reasoned by ``load_knowledge_base``) and check
properties derived from the data by independent SPARQL, not hard-coded rankings. A few run on the
hand-written ``tests/fixtures/mini-kb`` where exact values are needed (contested figures).
"""

from __future__ import annotations

import importlib.util
import json
import math
import time
from decimal import Decimal
from pathlib import Path

import pytest
from pyoxigraph import NamedNode

from virtkg.config import load_settings
from virtkg.errors import InvalidParameter, NotFound, UnknownRequirement
from virtkg.kb import load_knowledge_base
from virtkg.reasoning import materialize
from virtkg.recommend import (
    MAX_BOUND,
    RANKING,
    list_scenarios,
    load_snapshot,
    load_vocabulary,
    recommend,
    recommend_for_scenario,
    requirement_vocabulary,
    sort_key,
)
from virtkg.store import open_store
from virtkg.store.base import ASSERTED_GRAPHS, INFERRED_GRAPH

VKG = "https://w3id.org/virtkg/ontology#"
TECH = "https://w3id.org/virtkg/technology/"
FIXTURE = Path(__file__).parent / "fixtures" / "mini-kb" / "minikb.py"

DESIGN_DIMENSIONS = {
    "isolation": {"process", "user-space-kernel", "hardware"},
    "guest": {"host-kernel", "own-linux-kernel", "windows", "other-os", "other-cpu-arch"},
    "host_arch": {"x86_64", "aarch64", "riscv64", "s390x", "ppc64le"},
    "untrusted_multitenant": {"true"},
    "gpu": {"any", "passthrough"},
    "full_os": {"true"},
    "no_nested_virt": {"true"},
    "container_ecosystem": {"oci", "kubernetes"},
}
DESIGN_NUMERIC = {"max_startup_ms": "ms", "max_memory_overhead_mib": "MiB"}


def load_fixture_module():
    spec = importlib.util.spec_from_file_location("minikb", FIXTURE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """The real KB, asserted + inferred graphs, in an in-memory embedded store."""
    settings = load_settings(environ={}, cache_dir=str(tmp_path_factory.mktemp("cache")))
    kb = open_store(settings)
    load_knowledge_base(kb, settings)
    yield kb
    kb.close()


@pytest.fixture(scope="module")
def snapshot(store):
    """One snapshot of the real KB, as the REST layer keeps it."""
    return load_snapshot(store)


@pytest.fixture(params=["store", "snapshot"])
def via(request, store, snapshot):
    """Keyword arguments for recommend(): read from the store, or from the snapshot."""
    return {} if request.param == "store" else {"snapshot": snapshot}


@pytest.fixture(scope="module")
def mini():
    """The hand-written fixture (inferred triples written by hand)."""
    kb = load_fixture_module().open_mini_kb()
    yield kb
    kb.close()


def rows(store, sparql, **bindings):
    return store.query(f"PREFIX vkg: <{VKG}>\n{sparql}", bindings=bindings).rows


def numeric_facts(store, prop):
    """tech IRI -> every recorded value of ``prop`` (independent of recommend.py)."""
    found: dict[str, list[Decimal]] = {}
    for row in rows(store, "SELECT DISTINCT ?t ?v { ?t ?p ?v }", p=NamedNode(VKG + prop)):
        found.setdefault(row["t"].value, []).append(Decimal(row["v"].value))
    return found


def all_results(recommendation):
    return recommendation.to_dict()["results"]


# -- vocabulary ----------


def test_vocabulary_lists_the_design_dimensions(store):
    vocabulary = {d.name: d for d in requirement_vocabulary(store)}
    assert set(vocabulary) == set(DESIGN_DIMENSIONS) | set(DESIGN_NUMERIC)
    for name, values in DESIGN_DIMENSIONS.items():
        dim = vocabulary[name].to_dict()
        assert dim["kind"] == "categorical"
        assert {v["value"] for v in dim["values"]} == values
        assert all(v["label"] and v["iri"].startswith(VKG) for v in dim["values"])
        assert dim["label"] and dim["judged_by"].startswith(VKG)
    for name, unit in DESIGN_NUMERIC.items():
        dim = vocabulary[name].to_dict()
        assert dim["kind"] == "numeric" and dim["unit"] == unit and "values" not in dim
    json.dumps([d.to_dict() for d in vocabulary.values()])


def test_scenarios_are_listed_with_their_requirements(store):
    scenarios = {s["id"]: s for s in list_scenarios(store)}
    assert "regulated-isolation" in scenarios
    reg = scenarios["regulated-isolation"]
    assert reg["fit_class"] == "https://w3id.org/virtkg/fit/regulated-isolation"
    assert {(r["dimension"], r["value"]) for r in reg["requirements"]} == {
        ("isolation", "hardware"),
        ("untrusted_multitenant", "true"),
    }


# -- validation ----------


def test_unknown_requirement_name_lists_the_allowed_names(store):
    with pytest.raises(UnknownRequirement) as info:
        recommend(store, {"isolaton": "hardware"})
    assert info.value.details["name"] == "isolaton"
    assert "isolation" in info.value.details["allowed"]
    assert "max_startup_ms" in info.value.details["allowed"]


def test_unknown_requirement_value_lists_the_allowed_values(store):
    with pytest.raises(UnknownRequirement) as info:
        recommend(store, {"isolation": "bulletproof"})
    assert set(info.value.details["allowed"]) == DESIGN_DIMENSIONS["isolation"]
    with pytest.raises(UnknownRequirement):
        recommend(store, {"full_os": "yes"})
    with pytest.raises(UnknownRequirement):
        recommend(store, {"gpu": 3})


@pytest.mark.parametrize("bad", [0, -5, "abc", "", True, float("nan"), math.inf, [10], {"a": 1}])
def test_numeric_requirements_must_be_positive_numbers(store, bad):
    with pytest.raises(InvalidParameter) as info:
        recommend(store, {"max_startup_ms": bad})
    assert info.value.details["name"] == "max_startup_ms"


def test_requirements_must_be_a_mapping(store):
    with pytest.raises(InvalidParameter):
        recommend(store, ["isolation"])  # type: ignore[arg-type]


def test_booleans_accept_true_and_false_means_not_required(store):
    for value in (True, "true", "TRUE"):
        wanted = recommend(store, {"untrusted_multitenant": value}).requirements
        assert [(w.dimension.name, w.requirement.value) for w in wanted] == [
            ("untrusted_multitenant", "true")
        ]
    for value in (False, "false", None):
        assert recommend(store, {"untrusted_multitenant": value}).requirements == []


def test_numeric_strings_are_accepted(store):
    wanted = recommend(store, {"max_startup_ms": "250.5"}).requirements
    assert wanted[0].bound == Decimal("250.5")


def test_unknown_scenario_lists_the_ids(store):
    with pytest.raises(NotFound) as info:
        recommend_for_scenario(store, "nope")
    assert "regulated-isolation" in info.value.details["allowed"]


def test_injection_attempts_are_inert(store):
    before = store.count()
    attacks = ['" } ; DROP ALL ; #', "hardware> } ; DROP ALL ; #", 'hardware" . ?s ?p ?o']
    for attack in attacks:
        with pytest.raises(UnknownRequirement):
            recommend(store, {"isolation": attack})
        with pytest.raises(UnknownRequirement):
            recommend(store, {attack: "true"})
        with pytest.raises(NotFound):
            recommend_for_scenario(store, attack)
        with pytest.raises(InvalidParameter):
            recommend(store, {"max_startup_ms": attack})
    assert store.count() == before


# -- scenarios: fit comes from the reasoned graph ----------


def test_scenario_fit_equals_all_requirements_met(store, via):
    scenarios = list_scenarios(store)
    assert len(scenarios) >= 10
    fitting_somewhere = 0
    for scenario in scenarios:
        recommendation = recommend_for_scenario(store, scenario["id"], **via)
        assert len(recommendation.requirements) == len(scenario["requirements"])
        fit_class = NamedNode(scenario["fit_class"])
        reasoned = {r["t"].value for r in rows(store, "SELECT ?t { ?t a ?c }", c=fit_class)}
        for result in recommendation.results:
            all_met = all(r.status == "met" for r in result.requirements)
            assert result.fits == all_met, (scenario["id"], result.id)
            assert result.fits == (result.iri in reasoned)
        fitting_somewhere += bool(recommendation.fitting)
    assert fitting_somewhere >= len(scenarios) - 1


def test_scenario_result_is_ranked_and_json(store):
    data = recommend_for_scenario(store, "regulated-isolation").to_dict()
    json.dumps(data)
    assert data["scenario"]["id"] == "regulated-isolation"
    assert data["ranking"] == list(RANKING)
    fits = [r["fits"] for r in data["results"]]
    assert fits == sorted(fits, reverse=True) and fits[0]
    assert [r["rank"] for r in data["results"]] == list(range(1, len(fits) + 1))


# -- ad-hoc requirements ----------


AD_HOC = [
    {"isolation": "hardware", "max_startup_ms": 200},
    {"isolation": "user-space-kernel", "untrusted_multitenant": True, "gpu": "any"},
    {"guest": "windows", "container_ecosystem": "oci"},
    {"host_arch": "aarch64", "no_nested_virt": True, "max_memory_overhead_mib": 50},
    {"full_os": True, "guest": ["own-linux-kernel", "other-os"], "max_startup_ms": 1000},
]


@pytest.mark.parametrize("requirements", AD_HOC)
def test_status_matches_the_reasoned_graph(store, requirements, via):
    recommendation = recommend(store, requirements, **via)
    technologies = {r["t"].value for r in rows(store, "SELECT ?t { ?t a vkg:Technology }")}
    assert {r.iri for r in recommendation.results} == technologies
    for result in recommendation.results:
        for req in result.requirements:
            if req.wanted.bound is not None:
                continue
            tech = NamedNode(result.iri)
            satisfied = rows(
                store,
                "SELECT ?t { ?t vkg:satisfies ?r }",
                t=tech,
                r=NamedNode(req.wanted.requirement.iri),
            )
            judged = rows(
                store,
                "SELECT ?t ?v { ?t ?p ?v }",
                t=tech,
                p=NamedNode(req.wanted.dimension.judged_by),
            )
            expected = "met" if satisfied else ("unmet" if judged else "unknown")
            assert req.status == expected, (result.id, req.wanted.requirement.value)
        assert result.fits == all(r.status == "met" for r in result.requirements)


@pytest.mark.parametrize(
    ("dimension", "prop"),
    [("max_startup_ms", "startupTimeMs"), ("max_memory_overhead_mib", "memoryOverheadMiB")],
)
def test_numeric_bound_is_judged_on_the_largest_value(store, dimension, prop, via):
    recorded = numeric_facts(store, prop)
    assert recorded, f"no {prop} in the KB"
    for tech, values in recorded.items():
        largest = max(values)
        if largest <= 0:
            continue
        below = recommend(store, {dimension: largest}, **via).results
        above = recommend(store, {dimension: largest * Decimal("0.999")}, **via).results
        (at,) = [r for r in below if r.iri == tech]
        (over,) = [r for r in above if r.iri == tech]
        assert at.requirements[0].status == "met"
        assert over.requirements[0].status == "unmet"  # some recorded value is above the bound
        assert len(over.requirements[0].facts) == len(set(values))  # contested values all shown
    for result in recommend(store, {dimension: 10**9}, **via).results:
        expected = "met" if result.iri in recorded else "unknown"
        assert result.requirements[0].status == expected


def isolation_ranks(store) -> dict:
    rows = store.query(
        "SELECT ?t (MAX(?r) AS ?rank) WHERE { ?t <https://w3id.org/virtkg/ontology#isolationBoundary>"
        " ?b . ?b <https://w3id.org/virtkg/ontology#isolationRank> ?r } GROUP BY ?t"
    ).rows
    return {row["t"].value: int(row["rank"].value) for row in rows}


@pytest.mark.parametrize("requirements", AD_HOC)
def test_ranking_follows_the_documented_key(store, requirements, via):
    data = recommend(store, requirements, **via).to_dict()["results"]

    def key(r):  # the documented key, recomputed from the JSON
        startup, memory = r["startup_ms"], r["memory_overhead_mib"]
        return (
            not r["fits"],
            -r["met"] / len(r["requirements"]),
            r["unmet"],
            r["isolation_rank"] if r["isolation_rank"] is not None else 1_000,
            memory is None,
            memory or 0,
            startup is None,
            startup or 0,
            r["technology"]["label"].casefold(),
        )

    assert [key(r) for r in data] == sorted(key(r) for r in data)
    ranks = isolation_ranks(store)
    for r in data:  # the rank in the JSON is the boundary's vkg:isolationRank in the graph
        assert r["isolation_rank"] == ranks.get(r["technology"]["iri"])
    for r in data:
        total = len(r["requirements"])
        assert r["met"] + r["unmet"] + r["unknown"] == total
        assert r["score"] == pytest.approx(r["met"] / total, abs=1e-4)  # unknown counts 0
        assert r["fits"] == (r["met"] == total)


def test_sort_key_is_used_for_the_order(store):
    results = recommend(store, AD_HOC[0]).results
    assert results == sorted(results, key=sort_key)


def test_unknown_ranks_above_unmet_at_equal_score(mini):
    # wasmtime has no multiTenancy fact (unknown), docker says "not for untrusted" (unmet)
    data = recommend(mini, {"untrusted_multitenant": True, "host_arch": "riscv64"}).to_dict()
    by_id = {r["technology"]["id"]: r for r in data["results"]}
    assert by_id["wasmtime"]["unknown"] == 1 and by_id["wasmtime"]["score"] == 0.5
    assert by_id["docker"]["unmet"] == 2 and by_id["docker"]["score"] == 0
    order = [r["technology"]["id"] for r in data["results"]]
    assert order.index("wasmtime") < order.index("docker")


def test_no_requirements_everything_fits(store):
    results = recommend(store, {}).results
    assert results and all(r.fits and r.score == 1.0 for r in results)


def test_met_and_unmet_facts_have_sources(store, via):
    every = {name: sorted(values)[0] for name, values in DESIGN_DIMENSIONS.items()}
    every.update({"max_startup_ms": 100, "max_memory_overhead_mib": 10})
    recommendations = [recommend(store, every, **via)]
    recommendations += [
        recommend_for_scenario(store, s["id"], **via) for s in list_scenarios(store)
    ]
    checked = 0
    for recommendation in recommendations:
        for result in all_results(recommendation):
            for req in result["requirements"]:
                if req["status"] == "unknown":
                    continue
                assert req["facts"], (result["technology"]["id"], req["dimension"])
                for fact in req["facts"]:
                    assert fact["sources"], (result["technology"]["id"], fact)
                    for source in fact["sources"]:
                        assert source["id"] and source["label"] and source["url"]
                    checked += 1
    assert checked > 100


def test_technology_json_shape(store, via):
    data = recommend(store, {"isolation": "hardware", "gpu": "any"}, **via).to_dict()
    for result in data["results"]:
        tech = result["technology"]
        assert tech["iri"] == TECH + tech["id"]
        assert tech["label"] and tech["kind"]["iri"].startswith(VKG) and tech["kind"]["label"]
        for caveat in result["caveats"]:
            assert caveat["text"] and caveat["sources"]
            assert caveat["relevant"] == (caveat["dimension"] in {"isolation", "gpu"})
    kinds = {r["technology"]["id"]: r["technology"]["kind"]["iri"] for r in data["results"]}
    assert kinds["firecracker"] == VKG + "MicroVM"
    assert kinds["docker"] == VKG + "ApplicationContainerRuntime"


# -- exact checks on the hand-written fixture ---------------------------------------------------


def test_fixture_contested_startup_is_conservative(mini):
    data = recommend(mini, {"max_startup_ms": 130}).to_dict()
    by_id = {r["technology"]["id"]: r for r in data["results"]}
    firecracker = by_id["firecracker"]["requirements"][0]
    assert firecracker["status"] == "unmet" and firecracker["largest_recorded"] == 150
    sources = {s["id"] for f in firecracker["facts"] for s in f["sources"]}
    assert sources == {"S3", "S4"}
    assert by_id["kvm-qemu"]["requirements"][0]["status"] == "unknown"
    assert by_id["wasmtime"]["requirements"][0]["status"] == "met"
    assert by_id["docker"]["requirements"][0]["status"] == "unmet"


def test_fixture_scenarios_and_caveats(mini):
    assert {r.id for r in recommend_for_scenario(mini, "microservices").fitting} == {
        "docker",
        "gvisor",
    }
    assert recommend_for_scenario(mini, "windows-containers").fitting == []
    data = recommend(mini, {"isolation": "process"}).to_dict()
    docker = next(r for r in data["results"] if r["technology"]["id"] == "docker")
    (caveat,) = docker["caveats"]
    assert caveat["relevant"] and caveat["dimension"] == "isolation"
    assert caveat["sources"][0]["url"] == "https://docs.docker.com/engine/"


def test_fixture_evidence_properties_from_the_rules(mini):
    vocabulary = load_vocabulary(mini)
    guest = {v.value: v for v in vocabulary.dimensions["guest"].values}
    assert set(guest["own-linux-kernel"].evidence_properties) == {
        VKG + "guestPlatform",
        VKG + "kernelRelation",
    }
    data = recommend(mini, {"guest": "own-linux-kernel"}).to_dict()
    firecracker = next(r for r in data["results"] if r["technology"]["id"] == "firecracker")
    shown = {f["property"]["iri"] for f in firecracker["requirements"][0]["facts"]}
    assert shown == {VKG + "guestPlatform", VKG + "kernelRelation"}


# -- the snapshot: a cache of the reasoned graph's triples ---------------------------------------


ALL_CASES = [*AD_HOC, {}, {"max_startup_ms": "0.5"}, {"guest": "other-cpu-arch", "gpu": "any"}]


@pytest.mark.parametrize("requirements", ALL_CASES)
def test_snapshot_answers_equal_the_store_answers(store, snapshot, requirements):
    direct = recommend(store, requirements)
    cached = recommend(store, requirements, snapshot=snapshot)
    assert cached.to_dict() == direct.to_dict()
    assert json.loads(cached.to_json()) == cached.to_dict()


def test_snapshot_scenarios_equal_the_store_answers(store, snapshot):
    for scenario in snapshot.vocabulary.scenarios:
        direct = recommend_for_scenario(store, scenario).to_dict()
        assert recommend_for_scenario(store, scenario, snapshot=snapshot).to_dict() == direct


def test_snapshot_holds_the_inferred_triples(store, snapshot):
    satisfies = {
        (r["t"].value, r["r"].value) for r in rows(store, "SELECT ?t ?r { ?t vkg:satisfies ?r }")
    }
    assert snapshot.satisfies == satisfies
    for scenario in snapshot.vocabulary.scenarios.values():
        members = rows(store, "SELECT ?t { ?t a ?c }", c=NamedNode(scenario.fit_class))
        assert snapshot.fit_members[scenario.fit_class] == {r["t"].value for r in members}


def test_snapshot_json_is_what_to_dict_gives(snapshot):
    recommendation = recommend(None, {"isolation": "hardware", "max_startup_ms": 125.5},
                               snapshot=snapshot)  # fmt: skip
    text = recommendation.to_json()
    assert json.loads(text) == recommendation.to_dict()
    assert text == json.dumps(recommendation.to_dict(), ensure_ascii=False, separators=(",", ":"))


def asserted(store):
    """The asserted graphs as the store holds them now (for reasoning again)."""
    from pyoxigraph import Triple

    return [
        Triple(q.subject, q.predicate, q.object)
        for graph in ASSERTED_GRAPHS
        for q in store.engine.quads_for_pattern(None, None, None, NamedNode(graph))
    ]


def test_a_snapshot_built_after_an_update_changes_the_answer(tmp_path):
    settings = load_settings(environ={}, cache_dir=str(tmp_path))
    kb = open_store(settings)
    try:
        load_knowledge_base(kb, settings)
        before = load_snapshot(kb)
        firecracker = TECH + "firecracker"

        def status(snap, scenario=False):
            if scenario:
                rec = recommend_for_scenario(kb, "regulated-isolation", snapshot=snap)
                return next(r.fits for r in rec.results if r.iri == firecracker)
            rec = recommend(kb, {"isolation": "hardware"}, snapshot=snap)
            return next(r.requirements[0].status for r in rec.results if r.iri == firecracker)

        assert status(before) == "met" and status(before, scenario=True) is True
        kb.update(f"""PREFIX vkg: <{VKG}>
            DELETE WHERE {{ GRAPH <https://w3id.org/virtkg/graph/data> {{
              <{firecracker}> vkg:isolationBoundary ?b }} }}""")
        kb.replace_graph(INFERRED_GRAPH, materialize(asserted(kb)).inferred)
        after = load_snapshot(kb)
        # the new snapshot follows the reasoned graph: no boundary left, so nothing to judge by
        assert not rows(kb, "SELECT ?r { ?t vkg:satisfies ?r }", t=NamedNode(firecracker),
                        r=NamedNode(VKG + "MinIsolationHardware"))  # fmt: skip
        assert status(after) == "unknown"
        assert status(after, scenario=False) == status(None)  # same as reading the store
        assert status(after, scenario=True) is False
        # the old one is a cache of the old triples, which is why the API drops it on update
        assert status(before) == "met"
    finally:
        kb.close()


def test_api_drops_the_snapshot_after_a_sparql_update(tmp_path):
    from virtkg.http import create_app

    settings = load_settings(
        environ={}, cache_dir=str(tmp_path), query_workers=0, update_token="t0ken"
    )
    app = create_app(settings)
    client = app.test_client()
    state = app.extensions["virtkg"]

    def firecracker():
        response = client.post("/api/recommend", json={"requirements": {"isolation": "hardware"}})
        assert response.status_code == 200
        results = response.get_json()["results"]
        return next(r for r in results if r["technology"]["id"] == "firecracker")

    try:
        assert firecracker()["requirements"][0]["status"] == "met"
        first = state.cache["api:snapshot"]
        response = client.post(
            "/sparql",
            data=f"""PREFIX vkg: <{VKG}>
                DELETE WHERE {{ GRAPH <https://w3id.org/virtkg/graph/data> {{
                  <{TECH}firecracker> vkg:isolationBoundary ?b }} }}""",
            content_type="application/sparql-update",
            headers={"Authorization": "Bearer t0ken"},
        )
        assert response.status_code == 204, response.data
        assert "api:snapshot" not in state.cache
        assert firecracker()["requirements"][0]["status"] == "unknown"
        assert state.cache["api:snapshot"] is not first
    finally:
        state.executor.close()


# -- numeric bounds: absurd ones are refused before any conversion -------------------------------


BAD_BOUNDS = [
    "1e999999999",
    "1E+999999999",
    "-1e999999999",
    "1e-999999999",
    Decimal("1e999999999"),
    Decimal("Infinity"),
    Decimal("NaN"),
    "Infinity",
    "nan",
    1e300,
    -math.inf,
    10**16,
    10**5000,  # str() of it would raise ValueError
    "1" + "0" * 60,
    "9" * 70,
    "1e16",
    1e15 * 1.5,
    "0x10",
    "1_000",
    " 1 2 ",
    "1e3",  # text is decimal notation only (a JSON number may use an exponent)
    "2E2",
    "\u0665",  # ARABIC-INDIC DIGIT FIVE: digits are ASCII
    "\u00a0500",  # only JSON's whitespace is ignored around text
    " " + "0" * 63 + "1",  # at most 64 characters, whitespace included
]


@pytest.mark.parametrize("bad", BAD_BOUNDS, ids=range(len(BAD_BOUNDS)))
def test_absurd_bounds_are_refused(store, bad):
    vocabulary = load_vocabulary(store)
    start = time.perf_counter()
    with pytest.raises(InvalidParameter) as info:
        recommend(store, {"max_startup_ms": bad}, vocabulary=vocabulary)
    assert time.perf_counter() - start < 0.5
    assert info.value.details["name"] == "max_startup_ms"
    assert len(info.value.message) < 300


@pytest.mark.parametrize(
    ("good", "expected"),
    [(MAX_BOUND, MAX_BOUND), (10**15, MAX_BOUND), ("1000000000000000.0", MAX_BOUND),
     (1e15, MAX_BOUND), ("+250.50", Decimal("250.5")), (".5", Decimal("0.5")), (2e2, 200),
     ("\t0200.\n", Decimal(200)), ("0" * 63 + "1", 1), (7, 7)],
)  # fmt: skip
def test_large_but_sane_bounds_are_accepted(snapshot, good, expected):
    (wanted,) = recommend(None, {"max_memory_overhead_mib": good}, snapshot=snapshot).requirements
    assert wanted.bound == expected
